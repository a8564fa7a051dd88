package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fipsgate/fipsgate/imagefs"
)

// Run executes spec and writes its report. The error is for what prevents
// writing a report at all; everything else is in the report.
func Run(ctx context.Context, spec Spec) error {
	var r *Report
	switch spec.Kind {
	case KindStatic:
		r = runStatic(spec)
	case KindSelfTest, KindNegative:
		r = runDynamic(ctx, spec)

	default:
		return fmt.Errorf("unknown probe kind %q", spec.Kind)
	}
	r.Version = ReportVersion
	r.Platform = spec.Platform
	r.App, r.AppSource = spec.App, spec.AppSource
	for _, c := range r.Checks {
		fmt.Printf("%-8s %s: %s\n", strings.ToUpper(c.Status), c.Title, firstLine(c.Detail))
	}
	return writeReport(spec.Report, r)
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
func (r *runner) opensslCheck(ctx context.Context, c Check, wantSuccess bool, stdin string, args ...string) Check {
	c, _ = r.opensslRun(ctx, c, wantSuccess, stdin, args...)
	return c
}

func (r *runner) opensslRun(ctx context.Context, c Check, wantSuccess bool, stdin string, args ...string) (Check, outcome) {
	c.Command = append([]string{"openssl"}, args...)
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
	o := run(ctx, command{Args: append([]string{r.openssl}, args...), Env: r.env, Dir: "/", Stdin: []byte(stdin), Timeout: r.timeout})
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

func runDynamic(ctx context.Context, spec Spec) *Report {
	rep := &Report{Kind: spec.Kind, Mutation: spec.Mutation}
	// Run before the static checks' report exists, the probe finds the
	// module and its configuration itself, as the static checks do.
	if spec.ModulePath == "" {
		if m := inspectOpenSSL(spec).Module; m != nil && m.RealPath != "" {
			spec.ModulePath, spec.ModuleConfig, spec.ModuleSection = m.RealPath, m.RealConfig, m.Section
		}
	}
	if spec.Mutation == MutationModuleChanged {
		if spec.ModulePath == "" {
			rep.Checks = []Check{{Name: "module-corrupted", Title: "the FIPS module can be corrupted", Status: NotRun,
				Detail: "no FIPS module in the image: nothing to break"}}
			return rep
		}
		changed, err := corruptModule(imagefs.Root{Dir: spec.Root}, spec.ModulePath)
		if err != nil {
			rep.Checks = []Check{{Name: "module-corrupted", Title: "the FIPS module can be corrupted", Required: true, Status: Failed,
				Detail: "changing a byte of " + spec.ModulePath + ": " + err.Error()}}
			return rep
		}
		rep.Broken = changed
	}
	r := newRunner(spec)
	var jobs []func() Check
	if spec.Kind == KindNegative {
		jobs = []func() Check{
			func() Check {
				return r.opensslCheck(ctx, Check{Name: "openssl-digest-fails", Title: "an OpenSSL digest fails", Required: true}, false, "fipsgate", "dgst", "-sha256")
			},
			func() Check { return r.app(ctx, true) },
		}
	} else {
		jobs = []func() Check{
			func() Check {
				c, o := r.opensslRun(ctx, Check{Name: "provider-active", Title: "openssl lists the FIPS provider as active", Required: true}, true, "", "list", "-providers", "-verbose")
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
		if spec.ModuleConfig != "" && spec.ModulePath != "" {
			args := []string{"fipsinstall", "-module", spec.ModulePath, "-in", spec.ModuleConfig, "-verify"}
			if spec.ModuleSection != "" && spec.ModuleSection != "fips_sect" {
				args = append(args, "-section_name", spec.ModuleSection)
			}
			jobs = append(jobs, func() Check {
				return r.opensslCheck(ctx, Check{Name: "fipsinstall-verify", Title: "openssl fipsinstall -verify accepts the module configuration", Required: true}, true, "", args...)
			})
		}
		jobs = append(jobs,
			func() Check {
				return r.opensslCheck(ctx, Check{Name: "sha256-works", Title: "an approved digest (SHA-256) works", Required: true}, true, "fipsgate", "dgst", "-sha256")
			},
			func() Check {
				return r.opensslCheck(ctx, Check{Name: "md5-refused", Title: "a non-approved digest (MD5) is refused", Required: true}, false, "fipsgate", "dgst", "-md5")
			},
			func() Check { return r.app(ctx, false) },
		)
	}
	// The checks are independent processes: run them at once.
	rep.Checks = make([]Check, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Checks[i] = job()
		}()
	}
	wg.Wait()
	return rep
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

// corruptModule inverts the byte in the middle of the module file, in the
// check container's own copy of the image: its integrity MAC no longer
// matches, whichever layout holds the MAC. It says what it changed.
func corruptModule(root imagefs.Root, module string) (string, error) {
	p, err := root.Resolve(module)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() == 0 {
		return "", fmt.Errorf("%s is empty", module)
	}
	off := st.Size() / 2
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return "", err
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		return "", err
	}
	msg := fmt.Sprintf("the byte at offset %d of %s inverted", off, module)
	fmt.Println(msg)
	return msg, f.Close()
}
