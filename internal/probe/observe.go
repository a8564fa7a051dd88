package probe

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"golang.org/x/sys/unix"
)

// The application's positive run is observed while it runs: which programs
// its processes execute and which files they map (the shared objects it
// links or dlopens, a program a script starts), so that the verdict can
// judge crypto that no file of the image names. An observer samples every
// process of the container but the probe (only the command's process group
// outside a PID namespace of the probe's own, as in tests): its executable
// (/proc/PID/exe) and the files mapped executable in its memory map
// (/proc/PID/maps).
//
// Sampling misses what lives between two samples. The command's poll loop
// (run) tells the observer at every pollInterval whether a process was
// started (tick: the last pid given out moved); a process is checked every
// observeTick for its first observeYoung, which catches most programs that
// a script runs, then every observeInterval; its memory map is read again
// only when its executable or the size of its address space changed (both
// cheap to read); and every process is read in full once more just before
// the command is ended.
//
// Everything read is the image's and untrusted: sizes are bounded, a process
// may be gone at any time, and nothing is followed: the observer reads the
// names /proc gives and never opens what they name but to check, without
// following a symbolic link, that the file at that path in the container is
// the one that was mapped.
//
// Reading another process's exe and maps takes PTRACE_MODE_READ_FSCREDS: the
// probe's file system ids must be the process's real, effective and saved
// ids, or it needs CAP_SYS_PTRACE, which check containers do not give. The
// observer's thread takes the ids of each process it reads (setfsuid and
// setfsgid are per thread, and CAP_SETUID and CAP_SETGID are the
// container's). A process that is not dumpable (PR_SET_DUMPABLE 0, or one
// that changed its ids since its last exec) cannot be read at all: it is
// reported as unobserved, never a failure of the probe.
const (
	observeTick     = pollInterval
	observeYoung    = 500 * time.Millisecond
	observeInterval = 100 * time.Millisecond
	// observeFinish bounds the last sample: a memory map is read under the
	// process's memory lock, which the image's processes hold.
	observeFinish = 5 * time.Second

	maxMapsBytes     = 4 << 20
	maxMapsLines     = 1 << 16
	maxStatusBytes   = 16 << 10
	maxObservedFiles = 4096
	maxUnobserved    = 64
	// maxNamed is how many programs one entry names.
	maxNamed = 3
)

// observer observes the processes of one command while it runs.
type observer struct {
	self int
	// pgid is the command's process group; all, that every process but
	// the probe is observed (the probe is the init of its PID namespace).
	pgid int
	all  bool

	stop chan struct{}
	done chan struct{}
	wake chan struct{} // from tick

	// The sampling goroutine's own.
	procs        map[int]*seenProc
	pids         []int // as last listed
	last         string
	listed       time.Time
	loadavg      int
	checked      map[fileKey]pathCheck
	fsuid, fsgid int // the thread's file system ids
	probeUID     int
	probeGID     int
	buf, small   []byte
	rounds       int
	reads        int
	cpu          time.Duration

	// tick's own, on the command's goroutine.
	tickFD   int
	tickLast string

	mu        sync.Mutex // guards what follows, merged into by the sampling goroutine
	files     map[string]*seenFile
	notes     map[string]struct{}
	dropped   int  // files past maxObservedFiles
	moreNotes bool // notes past maxUnobserved
	abandoned bool
}

// seenProc is a process being observed.
type seenProc struct {
	dir   int // /proc/PID, which pins the process: once it is gone, reads fail
	first time.Time
	next  time.Time
	// What was last read: a memory map is read again when either changed.
	exe     string
	vsize   string
	mapped  bool
	name    string // what merge recorded it as
	ignored bool   // another process group's, outside a PID namespace
	noted   bool   // unreadable, and said so
	// The file system ids it is read with.
	uid, gid int
}

// seenFile is what was seen of one path.
type seenFile struct {
	executed bool
	starters map[string]struct{} // the programs that started it, but the probe
	mappers  map[string]struct{}
	deleted  bool
	replaced bool   // the path held another file than the one mapped
	id       fileID // the file first seen at the path
}

type fileKey struct {
	path string
	ino  uint64
}

// fileID is what tells a file at a path from another, or from itself
// changed: its inode, and its ctime, which every write, rename onto it,
// chmod or link moves and no process can set back.
type fileID struct {
	checked bool
	ino     uint64
	ctime   unix.Timespec
}

// pathCheck is what a path was found to hold.
type pathCheck struct {
	state pathState
	id    fileID
}

// pathState is what the path of a mapped file holds in the container.
type pathState int

const (
	pathInImage  pathState = iota // the file that was mapped
	pathReplaced                  // another file, or none reachable without a link
	pathOutside                   // nothing: the file lies outside the container (an emulator's)
)

// emulated names a process whose executable is outside the container: an
// interpreter binfmt_misc runs (qemu-user for a foreign architecture).
const emulated = "a process under emulation (binfmt_misc)"

// startObserver starts observing the processes of the command whose process
// group is pgid.
func startObserver(pgid int) *observer {
	o := &observer{
		self:     os.Getpid(),
		pgid:     pgid,
		all:      os.Getpid() == 1,
		stop:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		procs:    map[int]*seenProc{},
		checked:  map[fileKey]pathCheck{},
		probeUID: os.Getuid(),
		probeGID: os.Getgid(),
		files:    map[string]*seenFile{},
		notes:    map[string]struct{}{},
	}
	o.fsuid, o.fsgid = o.probeUID, o.probeGID
	go o.loop()
	return o
}

// finish samples once more, just before the command is ended, and stops.
func (o *observer) finish() {
	if o.tickFD > 0 {
		unix.Close(o.tickFD)
	}
	close(o.stop)
	select {
	case <-o.done:
		fmt.Printf("... observed the application: %d samples, %d memory maps read, %s of CPU\n",
			o.rounds, o.reads, o.cpu.Round(10*time.Microsecond))
	case <-time.After(observeFinish):
		o.note("the last sample did not finish within " + observeFinish.String() + ": what it had not read yet is missing")
	}
	o.mu.Lock()
	o.abandoned = true
	o.mu.Unlock()
}

// settle returns what was observed, sorted: the same for the same
// processes, whenever they were seen. It is called once every process of
// the image is gone, and checks again that each file is still the one that
// was mapped (the same inode, unchanged since: its ctime): one deleted,
// replaced or changed while the application ran is a note, not an entry,
// since what is now at its path is not what was loaded.
func (o *observer) settle() (entries []inventory.ReachEntry, unobserved []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	entries = []inventory.ReachEntry{}
	for p, f := range o.files {
		if !f.deleted && !f.replaced && f.id.checked {
			st, err := statPath(p)
			if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Ino != f.id.ino || st.Ctim != f.id.ctime {
				f.replaced = true
			}
		}
		switch {
		case f.deleted:
			o.noteLocked(p + ": " + f.via() + "; deleted while it ran: what was loaded cannot be read")
		case f.replaced:
			o.noteLocked(p + ": " + f.via() + "; replaced or changed while it ran: what was loaded cannot be read")
		default:
			entries = append(entries, inventory.ReachEntry{Path: p, Via: f.via(), Observed: true})
		}
	}
	slices.SortFunc(entries, func(a, b inventory.ReachEntry) int { return strings.Compare(a.Path, b.Path) })
	for n := range o.notes {
		unobserved = append(unobserved, n)
	}
	slices.Sort(unobserved)
	if o.moreNotes {
		unobserved = append(unobserved, fmt.Sprintf("more than the %d notes above, not listed", maxUnobserved))
	}
	if o.dropped > 0 {
		unobserved = append(unobserved, fmt.Sprintf("%d more files were mapped than the %d listed", o.dropped, maxObservedFiles))
	}
	return entries, unobserved
}

// via says how the application reached the file, without pids or times.
func (f *seenFile) via() string {
	var parts []string
	if f.executed {
		s := "executed by the application"
		if len(f.starters) > 0 {
			s += ", started by " + named(f.starters)
		}
		parts = append(parts, s)
	}
	if len(f.mappers) > 0 {
		parts = append(parts, "mapped by "+named(f.mappers))
	}
	return strings.Join(parts, "; ")
}

func named(set map[string]struct{}) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) > maxNamed {
		return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNamed)
	}
	return strings.Join(names, ", ")
}

func (o *observer) loop() {
	// Never unlocked: the thread's file system ids change, and it ends
	// with this goroutine.
	runtime.LockOSThread()
	start := threadCPU()
	defer close(o.done)
	defer func() {
		for _, p := range o.procs {
			unix.Close(p.dir)
		}
		if o.loadavg > 0 {
			unix.Close(o.loadavg)
		}
	}()
	// Waking a goroutine locked to its thread costs more than a round
	// where nothing is due: the thread sleeps until a process is due, or
	// until tick sees a new one.
	timer := time.NewTimer(observeTick)
	defer timer.Stop()
	for {
		next := o.round(false)
		timer.Reset(max(time.Until(next), observeTick))
		select {
		case <-o.stop:
			o.round(true)
			o.cpu = threadCPU() - start
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// tick is called by the command's poll loop, which wakes at every
// pollInterval anyway: it wakes the observer when a process was started
// since the last tick.
func (o *observer) tick() {
	if o == nil {
		return
	}
	if last := lastPIDAt(&o.tickFD); last != o.tickLast {
		o.tickLast = last
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

// threadCPU is the CPU time of the calling thread: the observer's, which
// runs nothing else.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// round checks the processes that are due, every one when final, and
// returns when the next is due. Listing /proc is most of a round's cost:
// it is listed when a process may have started (the last pid given out in
// the PID namespace moved), every observeInterval, and last.
func (o *observer) round(final bool) (next time.Time) {
	o.rounds++
	now := time.Now()
	if last := lastPIDAt(&o.loadavg); final || last == "" || last != o.last || now.Sub(o.listed) >= observeInterval {
		o.last, o.listed = last, now
		o.list(now)
	}
	next = o.listed.Add(observeInterval)
	for _, pid := range o.pids {
		p := o.procs[pid]
		if p == nil || p.ignored {
			continue
		}
		if final || !now.Before(p.next) {
			if now.Sub(p.first) < observeYoung {
				p.next = now.Add(observeTick)
			} else {
				p.next = now.Add(observeInterval)
			}
			if !o.check(pid, p, final) {
				unix.Close(p.dir)
				delete(o.procs, pid)
				continue
			}
		}
		if p.next.Before(next) {
			next = p.next
		}
	}
	return next
}

// lastPIDAt is the fifth field of /proc/loadavg, the last pid given out in
// the reader's PID namespace, read from a file kept open at *fd.
func lastPIDAt(fd *int) string {
	if *fd <= 0 {
		f, err := unix.Open("/proc/loadavg", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return ""
		}
		*fd = f
	}
	var b [128]byte
	n, err := unix.Pread(*fd, b[:], 0)
	if err != nil || n <= 0 {
		return ""
	}
	f := bytes.Fields(b[:n])
	if len(f) < 5 {
		return ""
	}
	return string(f[4])
}

// list lists the processes to observe, up to MaxProcesses, opening the
// new ones and forgetting those gone.
func (o *observer) list(now time.Time) {
	f, err := os.Open("/proc")
	if err != nil {
		return
	}
	defer f.Close()
	o.pids = o.pids[:0]
	for len(o.pids) < MaxProcesses {
		names, err := f.Readdirnames(256)
		for _, name := range names {
			if pid, err := strconv.Atoi(name); err == nil && pid != o.self && pid > 0 {
				o.pids = append(o.pids, pid)
			}
		}
		if err != nil {
			break
		}
	}
	slices.Sort(o.pids) // parents before their children, mostly
	live := make(map[int]bool, len(o.pids))
	for _, pid := range o.pids {
		live[pid] = true
		if o.procs[pid] != nil {
			continue
		}
		dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone already
		}
		o.procs[pid] = &seenProc{dir: dir, first: now, next: now, uid: o.probeUID, gid: o.probeGID}
	}
	for pid, p := range o.procs {
		if !live[pid] {
			unix.Close(p.dir)
			delete(o.procs, pid)
		}
	}
}

// check reads what is due of one process; false when it is gone.
func (o *observer) check(pid int, p *seenProc, final bool) bool {
	// stat is readable whoever the process is.
	st, _, err := o.read(p.dir, "stat", 4096)
	if err != nil {
		return !gone(err)
	}
	ppid, pgrp, vsize, ok := parseStat(st)
	if !ok {
		return true
	}
	if !o.all && pgrp != o.pgid {
		p.ignored = true
		return true
	}
	if p.noted && !final {
		return true
	}
	exe, err := o.exe(p)
	switch {
	case err == nil:
	case gone(err):
		return !errors.Is(err, unix.ESRCH) // a zombie has no exe, but is there
	default:
		o.unreadable(p, err)
		return true
	}
	if !final && p.mapped && exe == p.exe && vsize == p.vsize {
		return true
	}
	// The process may exec between the two reads: its maps are then
	// another program's, and are read again.
	var maps []byte
	var truncated bool
	for attempt := 0; ; attempt++ {
		maps, truncated, err = o.readAs(p, "maps", maxMapsBytes)
		if err != nil {
			if gone(err) {
				return !errors.Is(err, unix.ESRCH)
			}
			o.unreadable(p, err)
			return true
		}
		after, err := o.exe(p)
		if err != nil || after == exe {
			break
		}
		if attempt == 2 {
			return true // it keeps changing: next time
		}
		exe = after
	}
	o.reads++
	p.exe, p.vsize, p.mapped = exe, vsize, true
	mappings, more := parseMaps(maps)
	p.name = o.merge(exe, o.starter(ppid, exe), mappings, truncated || more)
	return true
}

// starter names what started a process: "" for the probe, or for a fork
// that has not run another program yet.
func (o *observer) starter(ppid int, exe string) string {
	q := o.procs[ppid]
	if ppid == o.self || ppid == 0 || q == nil || q.exe == exe {
		return ""
	}
	return q.name
}

// merge records what one process was seen running and mapping, and returns
// the name it goes by in what is recorded: its executable's path, or what
// it is when that is not a file of the image.
func (o *observer) merge(exe, parent string, mappings []mapping, truncated bool) string {
	exePath, exeDeleted := strings.CutSuffix(exe, deletedSuffix)
	var exeIno uint64
	for _, m := range mappings {
		if m.path == exePath {
			exeIno = m.ino
			break
		}
	}
	mapper := exePath
	switch {
	case exeDeleted && isMemoryFile(exePath):
		o.note(fmt.Sprintf("? (%s): a program run from memory, not from a file of the image", quoteName(exePath)))
		mapper = "a program run from memory"
		exePath = ""
	case !exeDeleted && o.state(exePath, exeIno).state == pathOutside:
		// Checked first, with the ids of the probe, as every path.
		o.note("? (an interpreter from outside the image, binfmt_misc): a program of the image ran under emulation; it is known by the files it mapped")
		mapper = emulated
		exePath = ""
	}
	if truncated {
		o.note(mapper + fmt.Sprintf(": its memory map is over %d bytes or %d lines; the rest was not read", maxMapsBytes, maxMapsLines))
	}
	type add struct {
		path     string
		deleted  bool
		replaced bool
		id       fileID
	}
	var adds []add
	if exePath != "" {
		a := add{path: exePath, deleted: exeDeleted}
		if !exeDeleted {
			c := o.state(exePath, exeIno)
			a.replaced, a.id = c.state == pathReplaced, c.id
		}
		adds = append(adds, a)
	}
	for _, m := range mappings {
		if m.path == exePath || (mapper == emulated && m.path == strings.TrimSuffix(exe, deletedSuffix)) {
			continue
		}
		if m.memory {
			if m.exec {
				o.note(fmt.Sprintf("%s: runs code from memory (%s), not from a file of the image", mapper, quoteName(m.path)))
			}
			continue
		}
		// Code only: a data file (/etc/ld.so.cache, which the loader maps
		// for a moment, a locale) is not what the application runs, and
		// whether a sample catches it would change from run to run. An
		// emulator maps the guest's code without PROT_EXEC: under
		// emulation, every file counts.
		if !m.exec && mapper != emulated {
			continue
		}
		a := add{path: m.path, deleted: m.deleted}
		if !m.deleted {
			c := o.state(m.path, m.ino)
			if c.state == pathOutside {
				o.note(mapper + ": maps files from outside the container, not listed")
				continue
			}
			a.replaced, a.id = c.state == pathReplaced, c.id
		}
		adds = append(adds, a)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.abandoned {
		return mapper
	}
	for i, a := range adds {
		f := o.files[a.path]
		if f == nil {
			if len(o.files) >= maxObservedFiles {
				o.dropped++
				continue
			}
			f = &seenFile{id: a.id}
			o.files[a.path] = f
		}
		f.deleted = f.deleted || a.deleted
		// Two files mapped from one path, one after the other.
		f.replaced = f.replaced || a.replaced || (a.id.checked && f.id.checked && a.id != f.id)
		if !f.id.checked {
			f.id = a.id
		}
		if i == 0 && exePath != "" {
			f.executed = true
			if parent != "" {
				if f.starters == nil {
					f.starters = map[string]struct{}{}
				}
				if len(f.starters) <= maxNamed*8 {
					f.starters[parent] = struct{}{}
				}
			}
			continue
		}
		if f.mappers == nil {
			f.mappers = map[string]struct{}{}
		}
		if len(f.mappers) <= maxNamed*8 {
			f.mappers[mapper] = struct{}{}
		}
	}
	return mapper
}

// state tells whether the file at path in the container is the one with
// inode ino (any regular file when ino is 0), without following a link, and
// what tells it from another.
func (o *observer) state(path string, ino uint64) pathCheck {
	k := fileKey{path, ino}
	if c, ok := o.checked[k]; ok {
		return c
	}
	o.setIDs(o.probeUID, o.probeGID)
	c := pathCheck{state: pathReplaced}
	st, err := statPath(path)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		c.state = pathOutside
	case errors.Is(err, unix.ENOSYS):
		c.state = pathInImage // no openat2 (Linux < 5.6): not checked
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && (ino == 0 || st.Ino == ino):
		c = pathCheck{state: pathInImage, id: fileID{checked: true, ino: st.Ino, ctime: st.Ctim}}
	}
	if len(o.checked) < 4*maxObservedFiles {
		o.checked[k] = c
	}
	return c
}

// statPath stats the file at path, following no link: a path /proc gives
// holds none, unless what it named was moved since.
func statPath(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstat(fd, &st)
	return st, err
}

func (o *observer) note(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.abandoned {
		o.noteLocked(s)
	}
}

func (o *observer) noteLocked(s string) {
	if _, ok := o.notes[s]; ok {
		return
	}
	if len(o.notes) >= maxUnobserved {
		o.moreNotes = true
		return
	}
	o.notes[s] = struct{}{}
}

// unreadable notes, once, a process the probe may not read.
func (o *observer) unreadable(p *seenProc, err error) {
	if p.noted {
		return
	}
	p.noted = true
	name := "?"
	if comm, _, err := o.read(p.dir, "comm", 64); err == nil {
		name += " (" + quoteName(strings.TrimSuffix(string(comm), "\n")) + ")"
	}
	why := err.Error()
	var d denied
	if errors.As(err, &d) {
		why = string(d)
	}
	o.note(name + ": " + why)
}

// denied says why a process could not be read.
type denied string

func (d denied) Error() string { return string(d) }

// exe reads the process's executable, with its ids.
func (o *observer) exe(p *seenProc) (string, error) {
	var exe string
	err := o.as(p, func() error {
		buf := make([]byte, unix.PathMax+len(deletedSuffix)+1)
		n, err := unix.Readlinkat(p.dir, "exe", buf)
		if err != nil {
			return err
		}
		if n >= len(buf) {
			return denied("its executable's path is too long to read")
		}
		exe = string(buf[:n])
		return nil
	})
	return exe, err
}

// readAs reads a file of the process, with its ids.
func (o *observer) readAs(p *seenProc, name string, limit int) (b []byte, truncated bool, err error) {
	err = o.as(p, func() error {
		var err error
		b, truncated, err = o.read(p.dir, name, limit)
		return err
	})
	return b, truncated, err
}

// as runs read with the process's ids: those it was last read with, then,
// when they are refused, its ids as /proc/PID/status says.
func (o *observer) as(p *seenProc, read func() error) error {
	if !o.setIDs(p.uid, p.gid) {
		return denied("the probe cannot take the user and group ids it runs as")
	}
	err := read()
	if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		return err
	}
	o.setIDs(o.probeUID, o.probeGID)
	st, _, serr := o.read(p.dir, "status", maxStatusBytes)
	if serr != nil {
		return serr
	}
	uid, gid, ok := parseStatusIDs(st)
	if !ok {
		return denied("its real, effective and saved user or group ids differ (a set-user-ID or set-group-ID program), which only CAP_SYS_PTRACE reads")
	}
	if uid == p.uid && gid == p.gid {
		return notDumpable
	}
	p.uid, p.gid = uid, gid
	if !o.setIDs(uid, gid) {
		return denied("the probe cannot take the user and group ids it runs as")
	}
	err = read()
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return notDumpable
	}
	return err
}

var notDumpable = denied("it is not dumpable (it set PR_SET_DUMPABLE to 0, changed its ids since it started, or runs a program it may not read), which only CAP_SYS_PTRACE reads")

// setIDs gives the observer's thread these file system ids.
func (o *observer) setIDs(uid, gid int) bool {
	if uid == o.fsuid && gid == o.fsgid {
		return true
	}
	_, _ = unix.SetfsgidRetGid(gid)
	_, _ = unix.SetfsuidRetUid(uid)
	// -1 changes nothing and returns the ids in force.
	cu, _ := unix.SetfsuidRetUid(-1)
	cg, _ := unix.SetfsgidRetGid(-1)
	o.fsuid, o.fsgid = cu, cg
	return cu == uid && cg == gid
}

// read reads up to limit bytes of a file of the process directory dir.
func (o *observer) read(dir int, name string, limit int) ([]byte, bool, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, false, err
	}
	defer unix.Close(fd)
	// Buffers are kept from one read to the next: what is returned is
	// valid until the next read of a file of the same size class.
	if o.buf == nil {
		o.buf = make([]byte, 0, 64<<10)
	}
	b := o.buf[:0]
	if limit <= maxStatusBytes {
		if o.small == nil {
			o.small = make([]byte, 0, maxStatusBytes)
		}
		b = o.small[:0]
	}
	for len(b) < limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), limit-len(b)))
		}
		n, err := unix.Read(fd, b[len(b):min(cap(b), limit)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	if limit > maxStatusBytes {
		o.buf = b[:0]
	}
	return b, len(b) >= limit, nil
}

// gone tells whether err says that the process is gone (ESRCH), or has no
// program (a zombie's exe: ENOENT).
func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)
}

// quoteName quotes a name the image chose, bounded.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// parseStat returns the parent, the process group and the size of the
// address space from /proc/PID/stat, whose second field, the command name,
// may hold anything but ends at the last ')'.
func parseStat(b []byte) (ppid, pgrp int, vsize string, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, "", false
	}
	// After the name: state(3) ppid(4) pgrp(5) ... vsize(23).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 21 {
		return 0, 0, "", false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return ppid, pgrp, f[20], true
}

// parseStatusIDs returns the uid and gid of a process from
// /proc/PID/status, when its real, effective and saved ids are the same:
// only then can file system ids match them all.
func parseStatusIDs(b []byte) (uid, gid int, ok bool) {
	uid, gid = -1, -1
	for line := range strings.SplitSeq(string(b), "\n") {
		var dst *int
		switch {
		case strings.HasPrefix(line, "Uid:"):
			dst = &uid
		case strings.HasPrefix(line, "Gid:"):
			dst = &gid
		default:
			continue
		}
		f := strings.Fields(line[4:])
		if len(f) < 3 || f[0] != f[1] || f[0] != f[2] {
			return 0, 0, false
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			return 0, 0, false
		}
		*dst = n
	}
	return uid, gid, uid >= 0 && gid >= 0
}

const deletedSuffix = " (deleted)"

// mapping is one file in a memory map.
type mapping struct {
	path    string
	ino     uint64
	exec    bool // mapped executable at least once
	deleted bool
	// memory: the kernel's names for anonymous shared memory (memfd,
	// SysV and POSIX-less shared mappings), not files of the image.
	memory bool
}

// parseMaps returns the distinct files of a memory map, in order, and
// whether it had more lines than maxMapsLines. Lines are
// "start-end perms offset dev inode [path]"; pseudo-paths ("[heap]",
// "[vdso]") and anonymous mappings are skipped.
func parseMaps(b []byte) (ms []mapping, more bool) {
	index := map[string]int{}
	lines := 0
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if lines++; lines > maxMapsLines {
			return ms, true
		}
		rest := line
		var fields [5][]byte
		for i := range fields {
			rest = bytes.TrimLeft(rest, " ")
			var f []byte
			f, rest, _ = bytes.Cut(rest, []byte(" "))
			fields[i] = f
		}
		p := string(bytes.TrimLeft(rest, " "))
		if !strings.HasPrefix(p, "/") {
			continue
		}
		path, deleted := strings.CutSuffix(p, deletedSuffix)
		ino, err := strconv.ParseUint(string(fields[4]), 10, 64)
		if err != nil {
			continue
		}
		exec := len(fields[1]) >= 3 && fields[1][2] == 'x'
		if i, ok := index[path]; ok {
			ms[i].exec = ms[i].exec || exec
			ms[i].deleted = ms[i].deleted || deleted
			continue
		}
		index[path] = len(ms)
		ms = append(ms, mapping{path: path, ino: ino, exec: exec, deleted: deleted, memory: deleted && isMemoryFile(path)})
	}
	return ms, false
}

// isMemoryFile tells whether a deleted file's path is the kernel's name for
// anonymous memory: a shared anonymous mapping ("/dev/zero"), SysV shared
// memory, a memfd, anonymous huge pages, AIO rings.
func isMemoryFile(path string) bool {
	return path == "/dev/zero" || path == "/anon_hugepage" || path == "/[aio]" ||
		strings.HasPrefix(path, "/SYSV") || strings.HasPrefix(path, "/memfd:")
}
