package probe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"golang.org/x/sys/unix"
)

// command is one process to run and how to judge when it is "up".
type command struct {
	Args  []string
	Env   []string
	Dir   string
	Cred  *syscall.Credential
	Stdin []byte
	// Timeout ends the command, with its whole process group.
	Timeout time.Duration
	// OutputCap is how much of the end of its output is kept; outputCap
	// when 0.
	OutputCap int
	// ReadyAfter, when set, ends the command successfully once it has run
	// that long without exiting.
	ReadyAfter time.Duration
	// WatchListen ends the command as soon as a new socket listens in the
	// container's network namespace: a server is up.
	WatchListen bool
	// Contact, with WatchListen, contacts a server that listens before it
	// is ended (contactServer), sending it Request if it does not speak TLS.
	Contact bool
	Request string
	// Observe records what the command's processes run and map while it
	// runs (observe.go). Every process of the container is killed
	// (killStrays) before the observation is settled: the command must be
	// the only thing of the image running.
	Observe bool
}

// outcome is what a command did.
type outcome struct {
	ExitCode  *int
	Signal    string
	TimedOut  bool
	Listening bool
	// Contact says how the listening server was contacted and what it did;
	// Answered, that it answered; DiedOnContact, that it exited or was
	// killed during the contact or just after (ExitCode or Signal say how).
	Contact       string
	Answered      bool
	DiedOnContact bool
	StillRunning  bool
	StartError    error
	// ProcessLimit: the image went over MaxProcesses meanwhile, and the
	// probe killed it: neither running nor refusing can be concluded.
	ProcessLimit bool
	Output       []byte // the tail of stdout and stderr, capped
	OutputSHA256 string // of everything it wrote
	// Truncated: it wrote more than Output holds, which lacks the start.
	Truncated bool
	// With Observe: the files its processes were seen running and mapping,
	// and what could not be observed.
	Observed   []inventory.ReachEntry
	Unobserved []string
}

// Ran tells whether the process ran: it exited 0, or was up (listening or
// still running) when it was stopped.
func (o outcome) Ran() bool {
	return o.StartError == nil && !o.ProcessLimit && ((o.ExitCode != nil && *o.ExitCode == 0) || (o.Listening && !o.DiedOnContact) || o.StillRunning)
}

// Refused tells whether the process failed on its own: a non-zero exit or a
// signal, before any timeout.
func (o outcome) Refused() bool {
	return o.StartError == nil && !o.ProcessLimit && !o.TimedOut && (!o.Listening || o.DiedOnContact) && !o.StillRunning &&
		((o.ExitCode != nil && *o.ExitCode != 0) || o.Signal != "")
}

// Describe says in words what happened.
func (o outcome) Describe() string {
	switch {
	case o.StartError != nil:
		return "could not start: " + o.StartError.Error()
	case o.ProcessLimit:
		return "was killed: " + errProcessLimit.Error()
	case o.Listening && o.DiedOnContact:
		how := "exited"
		if o.Signal != "" {
			how = "was killed by signal " + o.Signal
		} else if o.ExitCode != nil {
			how = fmt.Sprintf("exited with status %d", *o.ExitCode)
		}
		return "was listening on a socket, and " + how + " when contacted: " + o.Contact
	case o.Listening && o.Contact != "":
		return "was listening on a socket (up as a server), and when contacted: " + o.Contact
	case o.Listening:
		return "was listening on a socket (up as a server)"
	case o.StillRunning:
		return "was still running"
	case o.TimedOut:
		return "was still running when its time ran out"
	case o.Signal != "":
		return "killed by signal " + o.Signal
	case o.ExitCode != nil:
		return fmt.Sprintf("exited with status %d", *o.ExitCode)
	}
	return "unknown"
}

const outputCap = 64 << 10

// tailBuffer keeps the last limit bytes written and hashes them all.
type tailBuffer struct {
	buf   []byte
	limit int
	total int
	sum   hash.Hash
}

func newTailBuffer(limit int) *tailBuffer {
	if limit <= 0 {
		limit = outputCap
	}
	return &tailBuffer{limit: limit, sum: sha256.New()}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.sum.Write(p)
	t.total += len(p)
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
	}
	return len(p), nil
}

const pollInterval = 10 * time.Millisecond

// run starts c and waits for it to exit, be up, or time out; whatever is
// left of its process group is killed before run returns.
func run(ctx context.Context, c command) outcome {
	if len(c.Args) == 0 {
		return outcome{StartError: errors.New("empty command")}
	}

	var before map[string]endpoint
	if c.WatchListen {
		before = listeningSockets()
	}
	doing("running " + strings.Join(c.Args, " "))
	out := newTailBuffer(c.OutputCap)
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = bytes.NewReader(c.Stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Cred}
	// A daemon that left the process group keeps the output pipes open:
	// once the process itself has exited, stop waiting for them.
	cmd.WaitDelay = 100 * time.Millisecond
	if err := startNiced(cmd); err != nil {
		return outcome{StartError: err}
	}
	pgid := cmd.Process.Pid
	var obs *observer
	if c.Observe {
		obs = startObserver(pgid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var o outcome
	timeout := time.NewTimer(c.Timeout)
	defer timeout.Stop()
	var ready <-chan time.Time
	if c.ReadyAfter > 0 {
		t := time.NewTimer(c.ReadyAfter)
		defer t.Stop()
		ready = t.C
	}
	var poll <-chan time.Time
	if c.WatchListen || obs != nil {
		tk := time.NewTicker(pollInterval)
		defer tk.Stop()
		poll = tk.C
	}
	var waitErr error
	exited := false
	var listenRead time.Time
loop:
	for {
		select {
		case waitErr = <-done:
			exited = true
			break loop
		case <-poll:
			obs.tick()
			if !c.WatchListen || !listenDue(listenRead) {
				continue
			}
			listenRead = time.Now()
			if eps := newListeners(before); len(eps) > 0 {
				o.Listening = true
				if c.Contact {
					waitErr, exited = contact(ctx, &o, eps, c.Request, done, poll, obs.tick)
				}
				break loop
			}
		case <-ready:
			o.StillRunning = true
			break loop
		case <-timeout.C:
			o.TimedOut = true
			break loop
		case <-ctx.Done():
			o.TimedOut = true
			break loop
		}
	}
	if obs != nil {
		// Once more, as the processes are before they go.
		obs.finish()
	}
	// Kill the whole group: servers fork, shells spawn.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if !exited {
		waitErr = <-done
	}
	if obs != nil {
		// Once nothing of the image can change a file any more, what it
		// loaded is checked to be still there.
		_ = killStrays()
		o.Observed, o.Unobserved = obs.settle()
	}
	if (!o.Listening || o.DiedOnContact) && !o.StillRunning && !o.TimedOut {
		o.ExitCode, o.Signal = exitStatus(cmd.ProcessState, waitErr)
	}
	// Once the limit was hit, the probe may have killed any process of the
	// container: nothing run there since can be concluded from.
	o.ProcessLimit = processLimitHits.Load() != 0
	o.Output = out.buf
	o.Truncated = out.total > len(out.buf)
	o.OutputSHA256 = hex.EncodeToString(out.sum.Sum(nil))
	return o
}

// contact contacts a server that listens, while watching whether its
// process dies meanwhile or just after, and records it in o. It calls tick
// at every poll meanwhile.
func contact(ctx context.Context, o *outcome, eps []endpoint, request string, done <-chan error, poll <-chan time.Time, tick func()) (waitErr error, exited bool) {
	type result struct {
		what     string
		answered bool
	}
	results := make(chan result, 1)
	go func() {
		what, answered := contactServer(ctx, eps, request)
		results <- result{what, answered}
	}()
	var grace <-chan time.Time
wait:
	for {
		select {
		case waitErr = <-done:
			exited = true
			if grace != nil {
				break wait
			}
			// What the contact saw, once its connection broke.
			select {
			case r := <-results:
				o.Contact, o.Answered = r.what, r.answered
			case <-time.After(contactTimeout):
				o.Contact = "the server exited while being contacted"
			}
			break wait
		case r := <-results:
			o.Contact, o.Answered = r.what, r.answered
			if r.answered {
				break wait
			}
			// It may be dying of what the contact made it do.
			grace = time.After(contactGrace)
		case <-grace:
			break wait
		case <-poll:
			tick()
		}
	}
	o.DiedOnContact = exited
	return waitErr, exited
}

// imageNice is the nice value of every process of the image. The probe
// keeps 0: among a fork bomb's thousands of processes it must still be
// woken at once to stop them (watchProcesses), and the image's processes,
// without CAP_SYS_NICE in a check container, cannot raise theirs back.
const imageNice = 19

// startNiced starts cmd from a thread of its own whose nice value is
// imageNice, which the child inherits from the first instruction: there is
// no moment at which it, or anything it forks, runs at the probe's
// priority. The thread is never handed back to other goroutines: it ends
// with this one.
func startNiced(cmd *exec.Cmd) error {
	startMu.RLock()
	defer startMu.RUnlock()
	if stopping.Load() {
		return errors.New("the probe is writing its result: nothing more of the image starts")
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// PRIO_PROCESS with 0 is the calling thread on Linux.
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, imageNice); err != nil {
			started <- fmt.Errorf("lowering the priority of the image's processes: %w", err)
			return
		}
		started <- cmd.Start()
	}()
	return <-started
}

func exitStatus(ps *os.ProcessState, err error) (*int, string) {
	if ps == nil {
		return nil, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nil, signalName(ws.Signal())
	}
	code := ps.ExitCode()
	return &code, ""
}

// signalName is a signal's name as the kernel headers spell it
// ("SIGSEGV"), or its number for one without.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// excerpt returns the last lines of output, at most maxLines and 2 KiB.
func excerpt(b []byte, maxLines int) string {
	s := strings.TrimRight(string(bytes.ToValidUTF8(b, []byte("?"))), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > 2048 {
		s = s[len(s)-2048:]
	}
	return s
}
