package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fipsgate/fipsgate/imagefs"
)

// Run verifies one platform in its check container, whose root is the
// image, and writes a report for the static checks, the self-test and each
// negative test, in spec.ReportDir as ReportName says. The error is for
// what prevents writing a report at all; everything else is in the
// reports.
//
// One container does it all, because each costs about as much CPU as the
// checks themselves; the order keeps every step honest:
//
//  1. the static checks read the image before anything of it has run;
//     meanwhile the self-test's openssl commands run on it, which write
//     nothing;
//  2. then the negative tests, on the image as it was built but for the one
//     thing each breaks: an application that refuses to run must do so for
//     the FIPS module, not for something an earlier run left behind, so
//     each starts from that state again (runNegatives);
//  3. last, the application on the image as it was built: anything a
//     negative test could still have left behind can only make it fail,
//     never pass.
func Run(ctx context.Context, spec Spec) error {
	write := func(r *Report) error {
		r.Version = ReportVersion
		r.Platform = spec.Platform
		r.App, r.AppSource = spec.App, spec.AppSource
		for _, c := range r.Checks {
			fmt.Printf("%-8s [%s] %s: %s\n", strings.ToUpper(c.Status), stage(r), c.Title, firstLine(c.Detail))
		}
		return writeReport(path.Join(spec.ReportDir, ReportName(r.Kind, r.Mutation)), r)
	}
	r := newRunner(spec)
	static := inspectOpenSSL(spec)
	var openssl []Check
	var added *leftovers
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		openssl = r.opensslSelfTest(ctx, static.Module)
	}()
	go func() {
		defer wg.Done()
		added = newLeftovers(spec.Root, containerMounts(spec))
	}()
	addInventory(static, spec)
	if err := write(static); err != nil {
		return err
	}
	wg.Wait()
	if err := runNegatives(ctx, spec, static.Module, added, write); err != nil {
		return err
	}
	app := r.app(ctx, false)
	return write(&Report{Kind: KindSelfTest, Checks: append(openssl, app)})
}

// containerMounts are the image paths of the probe's and the report's
// mounts, which are not the image's: the probe's directory, and the top
// directory of ReportDir, under which the reports are written while the
// image is walked.
func containerMounts(spec Spec) []string {
	var mounts []string
	if spec.Root != "/" {
		return nil
	}
	if self, err := os.Executable(); err == nil {
		mounts = append(mounts, filepath.Dir(self))
	}
	if top, _, _ := strings.Cut(strings.TrimPrefix(path.Clean(spec.ReportDir), "/"), "/"); top != "" && top != "." {
		mounts = append(mounts, "/"+top)
	}
	return mounts
}

// ReportName is the file name of a step's report.
func ReportName(kind, mutation string) string {
	if mutation != "" {
		kind += "-" + mutation
	}
	return kind + ".json"
}

func stage(r *Report) string {
	if r.Mutation != "" {
		return r.Kind + ": " + r.Mutation
	}
	return r.Kind
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func marshalReport(r *Report) ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// runner runs the image's commands inside its own root, as `docker run`
// would: the image's environment, working directory and user.
type runner struct {
	spec    Spec
	env     []string
	dir     string
	timeout time.Duration
	ready   time.Duration
	openssl string // the image's openssl command, "" if it has none
}

func newRunner(spec Spec) *runner {
	r := &runner{
		spec:    spec,
		env:     spec.Image.Env,
		dir:     spec.Image.WorkingDir,
		timeout: seconds(spec.TimeoutSeconds, 30*time.Second),
		ready:   seconds(spec.ReadySeconds, 5*time.Second),
	}
	if r.dir == "" {
		r.dir = "/"
	}
	r.openssl = lookPath("openssl", envMap(spec.Image.Env)["PATH"])
	return r
}

func seconds(s float64, def time.Duration) time.Duration {
	if s <= 0 {
		return def
	}
	return time.Duration(s * float64(time.Second))
}

// lookPath finds an executable in the image's PATH (the default one when
// the image sets none).
func lookPath(name, pathEnv string) string {
	if strings.Contains(name, "/") {
		return name
	}
	if pathEnv == "" {
		pathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			continue
		}
		p := path.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
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
		c.Detail = "the image has no openssl command in its PATH"
		c.Required = false
		return c, outcome{}
	}
	o := run(ctx, command{Args: append([]string{r.openssl}, args...), Env: append(append([]string{}, r.env...), env...), Dir: "/", Stdin: []byte(stdin), Timeout: r.timeout})
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
	c.OutputSHA256 = o.OutputSHA256
	c.Output = excerpt(o.Output, 12)
}

// app runs the application check as the image's user.
func (r *runner) app(ctx context.Context, negative bool) Check {
	c := Check{Name: "app", Required: true, Command: r.spec.App}
	if negative {
		c.Name, c.Title = "app-refuses", "the application refuses to run without a valid FIPS module"
		c.Expect = "non-zero exit or signal within " + r.timeout.String()
	} else {
		c.Name, c.Title = "app-runs", "the application runs"
		c.Expect = "exit status 0, a listening socket, or still running after " + r.ready.String()
	}
	if len(r.spec.App) == 0 {
		c.Status, c.Required = NotRun, false
		c.Detail = "no application was checked: the image has no ENTRYPOINT or CMD (verified on OpenSSL alone)"
		if r.spec.AppSource != "" {
			c.Detail = "no application was checked (" + r.spec.AppSource + "): verified on OpenSSL alone"
		}
		return c
	}
	id, err := resolveUser(imagefs.Root{Dir: "/"}, r.spec.Image.User)
	if err != nil {
		c.Status = Failed
		c.Detail = "cannot run as the image's user: " + err.Error()
		return c
	}
	env := r.env
	if _, ok := envMap(env)["HOME"]; !ok {
		env = append(append([]string{}, env...), "HOME="+id.Home)
	}
	args := append([]string{}, r.spec.App...)
	if p := lookPath(args[0], envMap(env)["PATH"]); p != "" {
		args[0] = p
	}
	cmd := command{Args: args, Env: env, Dir: r.dir, Cred: id.Cred, Timeout: r.timeout, WatchListen: true}
	if !negative {
		cmd.ReadyAfter = r.ready
	}
	o := run(ctx, cmd)
	record(&c, o)
	if !negative {
		c.Status = passIf(o.Ran())
		c.Detail = "the application " + o.Describe()
		return c
	}
	if o.StartError != nil {
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

// opensslSelfTest checks, with the image's openssl command on the image as
// it was built, that OpenSSL serves approved cryptography through the FIPS
// module and refuses the rest.
func (r *runner) opensslSelfTest(ctx context.Context, m *ModuleFacts) []Check {
	jobs := []func() Check{
		func() Check {
			c, o := r.opensslRun(ctx, Check{Name: "provider-active", Title: "openssl lists the FIPS provider as active", Required: true}, true, "", nil, "list", "-providers", "-verbose")
			if c.Status == Passed {
				if name, ok := activeFIPSProvider(string(o.Output)); ok {
					c.Detail = "active: " + name
				} else {
					c.Status = Failed
					c.Detail = "the FIPS provider is not listed with status: active"
				}
			}
			return c
		},
	}
	if m != nil && m.RealPath != "" && m.RealConfig != "" {
		args := []string{"fipsinstall", "-module", m.RealPath, "-in", m.RealConfig, "-verify"}
		if m.Section != "" && m.Section != "fips_sect" {
			args = append(args, "-section_name", m.Section)
		}
		jobs = append(jobs, func() Check {
			// -verify reads only the module and the file it is given. Under
			// the image's configuration every openssl process loads the FIPS
			// provider first and runs its self-tests, which would cost as
			// much again as the verification itself.
			return r.opensslCheck(ctx, Check{Name: "fipsinstall-verify", Title: "openssl fipsinstall -verify accepts the module configuration", Required: true}, true, "", []string{"OPENSSL_CONF=/dev/null"}, args...)
		})
	}
	jobs = append(jobs,
		func() Check {
			return r.opensslCheck(ctx, Check{Name: "sha256-works", Title: "an approved digest (SHA-256) works", Required: true}, true, "fipsgate", nil, "dgst", "-sha256")
		},
		func() Check {
			return r.opensslCheck(ctx, Check{Name: "md5-refused", Title: "a non-approved digest (MD5) is refused", Required: true}, false, "fipsgate", nil, "dgst", "-md5")
		},
	)
	return runConcurrently(jobs...)
}

// runConcurrently runs independent checks at once, each its own processes.
func runConcurrently(jobs ...func() Check) []Check {
	checks := make([]Check, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks[i] = job()
		}()
	}
	wg.Wait()
	return checks
}

// activeFIPSProvider finds, in `openssl list -providers -verbose` output, a
// provider whose name mentions FIPS and whose status is active.
func activeFIPSProvider(out string) (string, bool) {
	var name string
	var inFIPS bool
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 2 && trimmed != "":
			inFIPS = strings.Contains(strings.ToLower(trimmed), "fips")
			name = trimmed
		case inFIPS && strings.HasPrefix(trimmed, "name:"):
			name = strings.TrimSpace(strings.TrimPrefix(trimmed, "name:"))
		case inFIPS && trimmed == "status: active":
			return name, true
		}
	}
	return "", false
}
