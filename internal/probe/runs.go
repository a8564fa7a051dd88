package probe

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
)

// Run does one check container's part of a platform's verification, as
// spec.Run says, and returns the reports of its steps. Every container
// starts from the image as built, and the probe reads what it needs of the
// image before it starts anything of it:
//
//   - RunStatic: the static checks and the crypto inventory, on a
//     read-only root where nothing of the image runs.
//   - RunOpenSSL: the image's openssl command on the image as built (the
//     self-test), then on the image with each breakage in turn.
//   - RunApp and each mutation: the same byte of the same files is written
//     (the original byte, or the one that breaks the module), then the
//     application runs once. Nothing tells one run from another but the
//     breakage itself: no saved copy, no state from another run, the same
//     processes around it (none but the probe).
//
// Every step sees the environment the image's processes start with
// (processEnv), resolved once here.
func Run(ctx context.Context, spec Spec) []*Report {
	spec.Image.Env = processEnv(spec)
	switch {
	case spec.Run == RunStatic:
		return []*Report{runStatic(spec)}
	case spec.Run == RunOpenSSL:
		return runOpenSSL(ctx, spec)
	case IsApplicationRun(spec.Run):
		return []*Report{runApplication(ctx, spec)}
	}
	return []*Report{{Kind: KindStatic, Checks: []Check{{Name: "run", Title: "the probe knows what to run", Required: true, Status: Failed,
		Detail: fmt.Sprintf("unknown run %q: the frontend and the probe are of different versions", spec.Run)}}}}
}

// runStatic is RunStatic.
func runStatic(spec Spec) *Report {
	doing("the static checks of the OpenSSL configuration and the FIPS module")
	static := inspectOpenSSL(spec)
	if m := static.Module; m != nil && m.Size > 0 {
		doing("the package that installed the FIPS module")
		m.Package = modulePackage(imagefs.Root{Dir: spec.Root}, m)
	}
	doing("the crypto inventory")
	addInventory(static, spec)
	cli, _ := opensslCommandCheck(imagefs.Root{Dir: spec.Root}, envMap(spec.Image.Env), static)
	static.Checks = append(static.Checks, cli)
	return static
}

// runOpenSSL is RunOpenSSL. It judges the image's openssl command as the
// static run does, but for the inventory, which it has not: a program the
// inventory fails, the static run's check fails.
func runOpenSSL(ctx context.Context, spec Spec) []*Report {
	doing("the static checks of the OpenSSL configuration and the FIPS module")
	static := inspectOpenSSL(spec)
	r := newRunner(spec)
	var cli Check
	cli, r.openssl = opensslCommandCheck(imagefs.Root{Dir: spec.Root}, envMap(spec.Image.Env), static)
	if r.openssl == "" {
		r.noOpenSSL = cli.Detail
	}
	if why := unreadable(static); why != "" {
		r.openssl, r.noOpenSSL = "", "not run: "+why+"; the verdict fails without it"
	}
	// The module as this container found it, for the frontend to hold
	// against the static run's.
	self := &Report{Kind: KindSelfTest, Module: static.Module}
	r.opensslSelfTest(ctx, static, self)
	reports := []*Report{self}
	if err := killStrays(); err != nil {
		self.Checks = append(self.Checks, strayCheck(err))
		return reports
	}
	root := imagefs.Root{Dir: spec.Root}
	for _, n := range Negatives(static.Module) {
		rep := &Report{Kind: KindNegative, Mutation: n.Mutation}
		reports = append(reports, rep)
		b, err := planBreakage(static.Module, n.Mutation)
		var undo func() error
		if err == nil {
			doing("breaking the FIPS module: " + n.Title)
			undo, err = b.apply(root)
		}
		switch {
		case err != nil:
			rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Required: true, Status: Failed,
				Detail: n.Title + ": " + err.Error()}}
			return reports
		case b.broken == "":
			rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Status: NotRun,
				Detail: "no FIPS module in the image: nothing to break"}}
		default:
			rep.Broken = b.broken
			rep.Checks = []Check{r.opensslCheck(ctx, Check{Name: "openssl-digest-fails", Title: "an OpenSSL digest fails", Required: true}, false, "fipsgate", nil, "dgst", "-sha256")}
		}
		if err := killStrays(); err != nil {
			rep.Checks = append(rep.Checks, strayCheck(err))
			return reports
		}
		if undo != nil {
			if err := undo(); err != nil {
				// What follows would not start from the image as built.
				rep.Checks = append(rep.Checks, Check{Name: "restored", Title: "the image was restored after the negative test", Required: true, Status: Failed,
					Detail: "after " + n.Title + ": " + err.Error()})
				return reports
			}
		}
	}
	return reports
}

// strayCheck fails a step whose processes outlived it: what follows would
// not start from the image as built.
func strayCheck(err error) Check {
	return Check{Name: "no-strays", Title: "every process of the step is gone before the next", Required: true, Status: Failed, Detail: err.Error()}
}

// runApplication is RunApp and the mutations: one run of the application.
func runApplication(ctx context.Context, spec Spec) *Report {
	doing("the static checks of the OpenSSL configuration and the FIPS module")
	static := inspectOpenSSL(spec)
	m := static.Module
	// The module as this container found it: the frontend checks that it
	// is the one the static checks judged.
	rep := &Report{Kind: KindSelfTest, Module: m}
	negative := spec.Run != RunApp
	if negative {
		rep.Kind, rep.Mutation = KindNegative, spec.Run
		if !applies(m, spec.Run) || m == nil || m.RealPath == "" {
			rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Status: NotRun,
				Detail: "does not apply: no FIPS module, or one without a fipsmodule.cnf"}}
			return rep
		}
	}
	if why := unreadable(static); why != "" {
		c := Check{Name: "app-runs", Title: "the application runs", Status: NotRun, Detail: "not run: " + why + "; the verdict fails without it"}
		if negative {
			c.Name, c.Title = "app-refuses", "the application refuses to run without a valid FIPS module"
		}
		rep.Checks = []Check{c}
		return rep
	}
	b, err := planBreakage(m, spec.Run)
	if err == nil {
		doing("preparing the image for the application")
		_, err = b.apply(imagefs.Root{Dir: spec.Root})
	}
	if err != nil {
		rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Required: true, Status: Failed, Detail: err.Error()}}
		return rep
	}
	rep.Broken = b.broken
	if negative {
		rep.Checks = []Check{newRunner(spec).appRefuses(ctx)}
		return rep
	}
	c, observed := newRunner(spec).appRuns(ctx)
	rep.Checks, rep.Observed = []Check{c}, observed
	if observed != nil {
		// Every process of the image is gone by now (run, with Observe).
		doing("judging what the application was seen to load")
		judged, inv := judgeObserved(spec, static, observed.Entries, observed.Unresolved)
		rep.Checks = append(rep.Checks, judged)
		rep.Inventory = inv
	}
	return rep
}

// runner runs the image's commands inside its own root, as `docker run`
// would: the image's environment, working directory and user.
type runner struct {
	spec    Spec
	env     []string
	dir     string
	timeout time.Duration
	ready   time.Duration
	openssl string // the image's openssl command, "" if it has none to trust
	// noOpenSSL says why there is none.
	noOpenSSL string
}

func newRunner(spec Spec) *runner {
	r := &runner{
		spec:    spec,
		env:     spec.Image.Env,
		dir:     spec.Image.WorkingDir,
		timeout: spec.Emulation.Scale(seconds(spec.TimeoutSeconds, DefaultTimeout)),
	}
	// A program still running proves little: one that fails a moment
	// later must not pass. Unless the user declares when a worker is up,
	// it is watched for as long as the negative tests wait for a refusal.
	// Both limits are scaled for an image whose programs run emulated.
	r.ready = seconds(spec.ReadySeconds, r.timeout)
	if spec.ReadySeconds > 0 {
		r.ready = spec.Emulation.Scale(r.ready)
	}
	if r.dir == "" {
		r.dir = "/"
	}
	r.noOpenSSL = "the image has no openssl command in its PATH"
	return r
}

func seconds(s float64, def time.Duration) time.Duration {
	if s <= 0 {
		return def
	}
	return time.Duration(s * float64(time.Second))
}

// opensslCheck runs an openssl subcommand as root under the image's
// environment, with stdin as input.
func (r *runner) opensslCheck(ctx context.Context, c Check, wantSuccess bool, stdin string, env []string, args ...string) Check {
	c, _ = r.opensslRun(ctx, c, wantSuccess, stdin, env, args...)
	return c
}

// opensslRun runs openssl with env added to the image's environment; the
// recorded command says so, to be run again as it stands.
func (r *runner) opensslRun(ctx context.Context, c Check, wantSuccess bool, stdin string, env []string, args ...string) (Check, outcome) {
	return r.opensslExec(ctx, c, wantSuccess, stdin, env, 0, args...)
}

// opensslListing runs an openssl listing, which must succeed, and keeps
// up to listingOutputCap of its output: all of it, to be read.
func (r *runner) opensslListing(ctx context.Context, c Check, args ...string) (Check, outcome) {
	return r.opensslExec(ctx, c, true, "", nil, listingOutputCap, args...)
}

// opensslExec is opensslRun, keeping outputCap of the output (0: the
// default, outputCap).
func (r *runner) opensslExec(ctx context.Context, c Check, wantSuccess bool, stdin string, env []string, outputCap int, args ...string) (Check, outcome) {
	c.Command = append([]string{"openssl"}, args...)
	if len(env) > 0 {
		c.Command = append(append([]string{"env"}, env...), c.Command...)
	}
	if wantSuccess {
		c.Expect = "exit status 0"
	} else {
		c.Expect = "non-zero exit or signal"
	}
	if r.openssl == "" {
		c.Status = NotRun
		c.Detail = r.noOpenSSL
		c.Required = false
		return c, outcome{}
	}
	o := run(ctx, command{Args: append([]string{r.openssl}, args...), Env: append(append([]string{}, r.env...), env...), Dir: "/", Stdin: []byte(stdin), Timeout: r.timeout, OutputCap: outputCap})
	record(&c, o)
	ok := o.Ran()
	if !wantSuccess {
		ok = o.Refused()
	}
	c.Status = passIf(ok)
	if c.Detail == "" {
		c.Detail = "openssl " + o.Describe()
	}
	return c, o
}

func record(c *Check, o outcome) {
	c.ExitCode, c.Signal, c.TimedOut = o.ExitCode, o.Signal, o.TimedOut
	c.Listening, c.StillRunning = o.Listening, o.StillRunning
	c.Contact, c.Answered, c.DiedOnContact = o.Contact, o.Answered, o.DiedOnContact
	c.OutputSHA256 = o.OutputSHA256
	c.Output = excerpt(o.Output, 12)
}

// appRuns runs the application on the image as built: it must run, and
// what its processes are seen to load is returned for judging.
func (r *runner) appRuns(ctx context.Context) (Check, *inventory.Reach) {
	c := Check{Name: "app-runs", Title: "the application runs", Required: true, Command: r.spec.App,
		Expect: "exit status 0, a listening socket, or still running after " + r.ready.String()}
	cmd, ok := r.appCommand(&c)
	if !ok {
		return c, nil
	}
	cmd.Observe = true
	cmd.ReadyAfter = r.ready
	// Still running at ReadyAfter is up; the timeout is only a bound.
	cmd.Timeout = max(r.timeout, r.ready) + 5*time.Second
	o := run(ctx, cmd)
	record(&c, o)
	var observed *inventory.Reach
	if o.StartError == nil {
		observed = &inventory.Reach{Entries: o.Observed, Unresolved: o.Unobserved}
	}
	c.Status = passIf(o.Ran())
	c.Detail = "the application " + o.Describe()
	if o.StillRunning {
		c.Detail += " after " + r.ready.String()
		scaled := ""
		if e := r.spec.Emulation; e != nil && e.TimeScale > 1 {
			scaled = fmt.Sprintf(", x%g: the image's programs run emulated", e.TimeScale)
		}
		if r.spec.ReadySeconds <= 0 {
			c.Detail += " (the timeout" + scaled + "): it neither exited nor listened, and is taken for a worker that is up; FIPSGATE_READY_SECONDS declares that sooner"
		} else {
			c.Detail += " (FIPSGATE_READY_SECONDS" + scaled + "): taken for a worker that is up"
		}
	}
	return c, observed
}

// appRefuses runs the application with the FIPS module broken: it must
// refuse to run.
func (r *runner) appRefuses(ctx context.Context) Check {
	c := Check{Name: "app-refuses", Title: "the application refuses to run without a valid FIPS module", Required: true, Command: r.spec.App,
		Expect: "non-zero exit or signal within " + r.timeout.String() + ", or, for a server, when first contacted"}
	cmd, ok := r.appCommand(&c)
	if !ok {
		return c
	}
	o := run(ctx, cmd)
	record(&c, o)
	if o.StartError != nil || o.ProcessLimit {
		c.Status = Failed
		c.Detail = "the application " + o.Describe() + ": a refusal to run cannot be shown"
		return c
	}
	if !o.Refused() {
		c.Status = Failed
		c.Detail = "THE IMAGE DOES NOT ENFORCE FIPS: the application still runs with the FIPS module broken (it " + o.Describe() + ")"
		return c
	}
	c.Status, c.Detail = Passed, "the application "+o.Describe()
	if r.spec.ExpectFailure != "" {
		re, err := regexp.Compile(r.spec.ExpectFailure)
		switch {
		case err != nil:
			c.Status, c.Detail = Failed, "FIPSGATE_EXPECT_FAILURE is not a valid regular expression: "+err.Error()
		case !re.Match(o.Output):
			c.Status = Failed
			c.Detail = fmt.Sprintf("the application %s, but its output does not match FIPSGATE_EXPECT_FAILURE %q: it may have failed for another reason", o.Describe(), r.spec.ExpectFailure)
		default:
			c.Detail += fmt.Sprintf(", with output matching %q", r.spec.ExpectFailure)
		}
	}
	return c
}

// appCommand is how the application runs, as the image's user, as docker
// run would; false, with c saying why, when it cannot run.
func (r *runner) appCommand(c *Check) (command, bool) {
	if len(r.spec.App) == 0 {
		c.Status, c.Required = NotRun, false
		c.Detail = "no application was checked: the image has no ENTRYPOINT or CMD (verified on OpenSSL alone)"
		if r.spec.AppSource != "" {
			c.Detail = "no application was checked (" + r.spec.AppSource + "): verified on OpenSSL alone"
		}
		return command{}, false
	}
	root := imagefs.Root{Dir: r.spec.Root}
	id, err := resolveUser(root, r.spec.Image.User)
	if err != nil {
		c.Status = Failed
		c.Detail = "cannot run as the image's user: " + err.Error()
		return command{}, false
	}
	args := append([]string{}, r.spec.App...)
	if p := inventory.LookPath(root, args[0], envMap(r.env), r.dir); p != "" {
		args[0] = p
	}
	cmd := command{Args: args, Env: r.env, Dir: r.dir, Cred: id.Cred, Timeout: r.timeout, WatchListen: true, Contact: true, Request: r.spec.ProbeRequest}
	if cmd.Request == "" {
		cmd.Request = DefaultRequest
	}
	return cmd, true
}

// opensslSelfTest checks, with the image's openssl command on the image as
// it was built, that OpenSSL serves approved cryptography through the FIPS
// module and refuses the rest, into the self-test report: its checks, what
// the active FIPS provider reports of itself (nil when openssl did not list
// it), and the evidence, the module's self-tests and the algorithm matrix.
// Every openssl process loads the module, which runs its self-tests first
// (0.1 s of CPU natively, seconds emulated): each check that can share a
// process does. Three processes load it: the listing (the providers, the
// matrix and MD5's refusal), fipsinstall (the module-mac and the
// self-tests), and a SHA-256 digest.
func (r *runner) opensslSelfTest(ctx context.Context, static *Report, self *Report) {
	m := static.Module
	jobs := []func() []Check{
		func() []Check {
			c, o := r.opensslListing(ctx, Check{Name: "provider-active", Title: "openssl lists the FIPS provider as active, and exactly the providers configured", Required: true}, listArgs...)
			a := sameRun(Check{Name: CheckAlgorithms, Title: "under the image's configuration, OpenSSL serves only the FIPS module's approved algorithms, SHA-256 among them, and refuses the non-approved ones (MD5, …)", Required: true}, c)
			md5 := sameRun(Check{Name: "md5-refused", Title: "a non-approved digest (MD5) is refused", Required: true}, c)
			if md5.Status != NotRun {
				md5.Expect = "exit status 0, and no MD5 among the algorithms listed"
			}
			if c.Status == NotRun {
				return []Check{c, a, md5}
			}
			if c.Status != Passed {
				a.Status, a.Detail = Failed, c.Detail
				md5.Status, md5.Detail = Failed, c.Detail
				return []Check{c, a, md5}
			}
			lists, providers, err := splitListing(o.Output, o.Truncated)
			if err != nil {
				c.Status, c.Detail = Failed, "the listing cannot be read: "+err.Error()
				a.Status, a.Detail = Failed, c.Detail
				md5.Status, md5.Detail = Failed, c.Detail
				return []Check{c, a, md5}
			}
			c, self.Provider = providerCheck(c, providers, static)
			fipsKey := ""
			if p := activeFIPS(listedProviders(providers)); p != nil {
				fipsKey = p.key
			}
			a, self.Algorithms = algorithmsCheck(a, lists, fipsKey, static)
			return []Check{c, a, md5Check(md5, self.Algorithms)}
		},
	}
	if m != nil && m.RealPath != "" && m.RealConfig != "" {
		jobs = append(jobs, func() []Check {
			var checks []Check
			checks, self.SelfTests = r.fipsinstall(ctx, m)
			return checks
		})
	}
	jobs = append(jobs,
		func() []Check {
			return []Check{r.opensslCheck(ctx, Check{Name: "sha256-works", Title: "an approved digest (SHA-256) works", Required: true}, true, "fipsgate", nil, "dgst", "-sha256")}
		},
	)
	self.Checks = runConcurrently(jobs...)
}

// fipsinstall runs openssl fipsinstall on the module (selftests.go): it
// checks that it computes the configured module-mac, and that the module
// passes the self-tests it runs as it loads.
func (r *runner) fipsinstall(ctx context.Context, m *ModuleFacts) ([]Check, *SelfTests) {
	verify := Check{Name: "fipsinstall-verify", Title: "openssl fipsinstall computes the module-mac the configuration holds", Required: true}
	selfTests := Check{Name: CheckSelfTests, Title: "the FIPS module passes every self-test it runs as it loads (openssl fipsinstall prints each)", Required: true}
	// The module is loaded by fipsinstall alone: under the image's
	// configuration it would be loaded first, and its self-tests run,
	// before fipsinstall could ask to see them.
	env := []string{"OPENSSL_CONF=/dev/null"}
	name, ok := fipsinstallName(m.RealPath)
	if !ok {
		// -verify reads the module and the configuration, and loads
		// nothing.
		args := []string{"fipsinstall", "-module", m.RealPath, "-in", m.RealConfig, "-verify"}
		if m.Section != "" && m.Section != "fips_sect" {
			args = append(args, "-section_name", m.Section)
		}
		verify.Title = "openssl fipsinstall -verify accepts the module configuration"
		verify = r.opensslCheck(ctx, verify, true, "", env, args...)
		selfTests.Status, selfTests.Required = NotRun, false
		selfTests.Detail = m.RealPath + " is not NAME.so: openssl fipsinstall, which loads a module by its provider name, cannot load it to show its self-tests"
		return []Check{verify, selfTests}, nil
	}
	verify, o := r.opensslRun(ctx, verify, true, "", env, "fipsinstall", "-module", m.RealPath, "-provider_name", name)
	selfTests = sameRun(selfTests, verify)
	if verify.Status == NotRun {
		return []Check{verify, selfTests}, nil
	}
	verify = fipsinstallMACCheck(verify, o, m)
	var tests *SelfTests
	selfTests, tests = selfTestsCheck(selfTests, o)
	return []Check{verify, selfTests}, tests
}

// runConcurrently runs independent checks at once, each its own processes,
// and returns their checks in the order of the jobs.
func runConcurrently(jobs ...func() []Check) []Check {
	results := make([][]Check, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = job()
		}()
	}
	wg.Wait()
	return slices.Concat(results...)
}
