package probe

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// killStrays kills every process of the check container but the probe, and
// reaps them, before the next step and before the probe writes its result:
// a daemon the image left behind (it escaped its process group) must
// neither hold a port, a file or a lock into the next step, nor be alive
// when the result is written. Only the init of its own PID namespace, as
// the probe is in a check container, may do this; elsewhere it does
// nothing.
func killStrays() error {
	if os.Getpid() != 1 {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// kill(-1) from init reaches every other process of the namespace
		// at once; a fork racing it is refused by the kernel.
		_ = syscall.Kill(-1, syscall.SIGKILL)
		reapAll()
		n := countOthers(MaxProcesses)
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes of the image are still alive after SIGKILL", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reapAll collects every child that has exited; orphans are the init's.
func reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err != nil || pid <= 0 { // ECHILD: none left; 0: none exited yet
			return
		}
	}
}

// countOthers counts the processes of the namespace other than the probe,
// up to limit and a little past it: listing /proc while a fork bomb grows
// it would never end.
func countOthers(limit int) int {
	f, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for n <= limit {
		names, err := f.Readdirnames(256)
		for _, name := range names {
			if pid, err := strconv.Atoi(name); err == nil && pid != 1 {
				n++
			}
		}
		if err != nil {
			break
		}
	}
	return n
}

// lastPID is the last process id given out in the probe's PID namespace
// (the fifth field of /proc/loadavg): when it has not moved, no process
// was started, and nothing needs counting.
func lastPID() string {
	dt, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(dt))
	if len(f) < 5 {
		return ""
	}
	return f[4]
}

// MaxProcesses is how many processes the image may have at once in a check
// container. BuildKit gives a frontend no pids cgroup limit for its
// containers, and RLIMIT_NPROC does not bind root; the probe, as init,
// counts them instead and kills them all past this.
const MaxProcesses = 1024

// processLimitHits counts the times the limit was reached, so that a
// command can tell that it may have been killed by the probe rather than
// have refused.
var processLimitHits atomic.Int64

// errProcessLimit says that the image started more than MaxProcesses.
var errProcessLimit = errors.New("the image started more than " + strconv.Itoa(MaxProcesses) + " processes at once; the probe killed them all")

// watchProcesses enforces MaxProcesses until stop is closed. A fork bomb
// doubles in microseconds; polling every few milliseconds bounds the
// overshoot to what the machine can fork in that time. The probe sleeps
// between polls, so the scheduler wakes it promptly even among thousands
// of busy processes; a poll reads one small file unless processes were
// started since the last, and then lists /proc only up to the limit.
func watchProcesses(stop <-chan struct{}) {
	if os.Getpid() != 1 {
		return
	}
	t := time.NewTicker(3 * time.Millisecond)
	defer t.Stop()
	last := lastPID()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if pid := lastPID(); pid == last && pid != "" {
				continue
			} else {
				last = pid
			}
			if countOthers(MaxProcesses) > MaxProcesses {
				processLimitHits.Add(1)
				// What survives it fails the step that follows: the probe
				// kills again before it writes its result.
				_ = killStrays()
			}
		}
	}
}
