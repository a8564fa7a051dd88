package probe

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// leftovers finds what a run of the image's programs added to the check
// container's root: a pid file, a lock, a unix socket left behind by a
// killed process would make the next start fail for a reason that has
// nothing to do with FIPS, and pass for a refusal.
//
// It records every directory with its entries once; afterwards a directory
// whose status-change time has not moved has had no entry added, so only
// the few that did are read again. File times come from the kernel's coarse
// clock: after recording, it waits for that clock to tick, so that a change
// made from then on cannot carry the time it recorded.
type leftovers struct {
	root string
	skip []string // image paths that are not the image's: the probe's and the report's mounts
	dirs map[string]*dirEntries
}

type dirEntries struct {
	ctime   syscall.Timespec
	entries map[string]bool
}

// pseudo are the kernel's filesystems in the container; /dev/shm, where
// POSIX shared memory and semaphores live, is recorded on its own.
var pseudo = []string{"/proc", "/sys", "/dev"}

// newLeftovers records every directory under root, and its entries, now.
func newLeftovers(root string, skip []string) *leftovers {
	l := &leftovers{root: root, skip: skip, dirs: map[string]*dirEntries{}}
	l.record("/")
	l.record("/dev/shm")
	waitForTick()
	return l
}

// waitForTick returns once the clock that stamps file times has moved on.
func waitForTick() {
	var t0, t unix.Timespec
	if unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &t0) != nil {
		time.Sleep(20 * time.Millisecond)
		return
	}
	for {
		time.Sleep(time.Millisecond)
		if unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &t) != nil || t != t0 {
			return
		}
	}
}

func (l *leftovers) host(name string) string {
	return filepath.Join(l.root, filepath.FromSlash(name))
}

func (l *leftovers) record(dir string) {
	var st syscall.Stat_t
	if syscall.Lstat(l.host(dir), &st) != nil {
		return
	}
	ents, err := readDir(l.host(dir))
	if err != nil {
		return
	}
	d := &dirEntries{ctime: st.Ctim, entries: map[string]bool{}}
	l.dirs[dir] = d
	for _, e := range ents {
		d.entries[e.Name()] = true
		name := path.Join(dir, e.Name())
		if e.IsDir() && !slices.Contains(pseudo, name) && !slices.Contains(l.skip, name) {
			l.record(name)
		}
	}
}

// remove deletes every entry that was not there when l was made, and says
// which it removed, in order.
func (l *leftovers) remove() []string {
	var removed []string
	for dir, d := range l.dirs {
		var st syscall.Stat_t
		if syscall.Lstat(l.host(dir), &st) != nil || st.Ctim == d.ctime {
			continue
		}
		ents, err := readDir(l.host(dir))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if d.entries[e.Name()] {
				continue
			}
			name := path.Join(dir, e.Name())
			if err := os.RemoveAll(l.host(name)); err == nil {
				removed = append(removed, name)
			}
		}
		if syscall.Lstat(l.host(dir), &st) == nil {
			d.ctime = st.Ctim
		}
	}
	waitForTick()
	sort.Strings(removed)
	return removed
}

// readDir lists a directory in the order it comes: os.ReadDir would sort.
func readDir(dir string) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
