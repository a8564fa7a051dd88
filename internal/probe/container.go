package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"golang.org/x/sys/unix"
)

// The check container's layout, shared with the frontend's graph: the
// probe's directory (the frontend image's /bin, read-only) and the output
// directory, which holds the spec when the container starts and the result
// when it ends.
const (
	ProbeDir  = "/.fipsgate-probe"
	OutputDir = "/.fipsgate-out"
	// SpecName is the spec's file name in OutputDir.
	SpecName = "spec.json"
)

// maxSpecSize bounds the spec the probe reads.
const maxSpecSize = 4 << 20

// Deadline is how long a check container of spec may take at most, its
// time limits scaled by scale (EmulationTimeScale where the image's
// programs run emulated, else 1). The probe stops its work there and writes
// a result that says what it was waiting on; the frontend allows a little
// more for the container itself.
func Deadline(spec Spec, scale float64) time.Duration {
	t := (&Emulation{TimeScale: scale}).Scale(seconds(spec.TimeoutSeconds, DefaultTimeout))
	// The longest run is RunOpenSSL: the self-test's commands at once, then
	// each negative test's, one after the other — four timeouts; a run of
	// the application takes one. Two more, and a minute for the inventory
	// and the container's start.
	return 6*t + time.Minute
}

// activity is what the probe is doing, for the result when its deadline
// passes.
var activity atomic.Value

// doing records what the probe is doing, and says so in the build's
// progress output, which stamps it with the time.
func doing(what string) {
	activity.Store(what)
	fmt.Println("...", what)
}

// stopping is set once the probe is about to write its result: from then
// on no process of the image may start, since none could be killed before.
// startMu makes setting it wait for a start under way.
var (
	stopping atomic.Bool
	startMu  sync.RWMutex
)

func stopStarting() {
	startMu.Lock()
	stopping.Store(true)
	startMu.Unlock()
}

// Main is `fipsgate probe SPEC`: the whole life of the probe in a check
// container, where it is the init of its own PID namespace. It reads its
// spec and removes it before anything of the image runs (a run must not be
// able to read what it is), runs, kills every process left, and only then
// writes its result, into an output directory it has emptied: nothing the
// image's processes wrote there can be taken for evidence. The error is for
// what prevents writing a result at all.
func Main(specFile string) error {
	if os.Getpid() == 1 {
		// Processes of the image run as root beside the probe: they must not
		// read or write its memory through ptrace or /proc/1/mem, and no
		// signal they send may end it (init ignores what it does not
		// handle; SIGKILL and SIGSTOP do not reach it from its namespace).
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("making the probe undumpable: %w", err)
		}
		signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
			syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXCPU, syscall.SIGXFSZ)
	}
	out, err := os.OpenRoot(filepath.Dir(specFile))
	if err != nil {
		return fmt.Errorf("opening the output directory: %w", err)
	}
	defer out.Close()
	spec, err := readSpec(out, filepath.Base(specFile))
	if err != nil {
		return err
	}
	spec.Mounts = []string{filepath.Dir(specFile)}
	if self, err := os.Executable(); err == nil {
		spec.Mounts = append(spec.Mounts, filepath.Dir(self))
	}

	// Before anything of the image runs: how it will run, and so the time
	// its programs get.
	em := DetectEmulation(spec)
	spec.Emulation = &em
	scaleTimeLimits(spec.Emulation)
	if em.Emulated {
		fmt.Printf("... the image's programs run emulated (%s on %s): time limits x%g\n", em.Machine, em.Host, em.TimeScale)
	}

	res := &Result{Version: ReportVersion, Platform: spec.Platform, Run: spec.Run}
	deadline := Deadline(spec, em.TimeScale)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	stop := make(chan struct{})
	go watchProcesses(stop)
	done := make(chan []*Report, 1)
	go func() { done <- Run(ctx, spec) }()
	select {
	case res.Reports = <-done:
	case <-time.After(deadline + 5*time.Second):
		// Every command has its own timeout and the context ends them; only
		// a step stuck outside them gets here. It may go on, but starts
		// nothing of the image any more (stopStarting, below).
		what, _ := activity.Load().(string)
		res.Reports = []*Report{{Kind: KindStatic, Checks: []Check{{Name: "deadline", Title: "the checks finished in time", Required: true, Status: Failed,
			Detail: fmt.Sprintf("fipsgate: %s, %s run: did not finish within %s; it was %s", spec.Platform, spec.Run, deadline, what)}}}}
	}
	stopStarting()
	if err := killStrays(); err != nil {
		return err
	}
	close(stop)
	for _, r := range res.Reports {
		r.Version, r.Platform = ReportVersion, spec.Platform
		r.App, r.AppSource = spec.App, spec.AppSource
		r.Emulation = spec.Emulation
		for _, c := range r.Checks {
			fmt.Printf("%-8s [%s] %s: %s\n", strings.ToUpper(c.Status), stage(r), c.Title, firstLine(c.Detail))
		}
	}
	return writeResult(out, res)
}

func readSpec(out *os.Root, name string) (Spec, error) {
	var spec Spec
	f, err := out.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return spec, fmt.Errorf("reading the spec: %w", err)
	}
	dt, err := imagefs.ReadAllLimit(f, name, maxSpecSize)
	f.Close()
	if err != nil {
		return spec, fmt.Errorf("reading the spec: %w", err)
	}
	if err := out.Remove(name); err != nil {
		return spec, fmt.Errorf("removing the spec: %w", err)
	}
	if err := json.Unmarshal(dt, &spec); err != nil {
		return spec, fmt.Errorf("bad spec: %w", err)
	}
	return spec, nil
}

// writeResult empties the output directory, then writes res where
// ResultFile says, as a new regular file. Nothing else runs by then: the
// directory holds only what the image's processes left, which goes.
func writeResult(out *os.Root, res *Result) error {
	d, err := out.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := out.RemoveAll(n); err != nil {
			return fmt.Errorf("emptying the output directory: %w", err)
		}
	}
	file := strings.TrimPrefix(ResultFile(res.Platform, res.Run), "/")
	if err := out.Mkdir(path.Dir(file), 0o755); err != nil {
		return err
	}
	dt, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	f, err := out.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(dt)
	return errors.Join(err, f.Close())
}

func stage(r *Report) string { return StageName(r.Kind, r.Mutation) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
