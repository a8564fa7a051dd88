package probe

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// killStrays kills every process of the check container but the probe, and
// reaps them: a daemon the application left behind (it escaped its process
// group) must not hold a port, a file or a lock into the next step, where
// the application could fail because of it and pass for refusing to run
// without FIPS. Only the init of its own PID namespace, as the probe is in
// a check container, may do this; elsewhere it does nothing.
func killStrays() {
	if os.Getpid() != 1 {
		return
	}
	for range 3 {
		if killOthers() == 0 {
			return
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil { // ECHILD: nothing left to reap
				break
			}
			if pid == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
}

// killOthers sends SIGKILL to every other process it can see and says how
// many there were.
func killOthers() int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		n++
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return n
}
