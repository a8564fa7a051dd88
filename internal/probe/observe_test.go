package probe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/inventory"
)

// dlopener dlopens the library it is given and sleeps; "undumpable" first
// makes it non-dumpable, "unlink" removes the library once loaded, "chmod"
// changes it a moment later.
const dlopenerC = `#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
	const char *mode = argc > 2 ? argv[2] : "";
	if (strcmp(mode, "undumpable") == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return 3;
	if (!dlopen(argv[1], RTLD_NOW)) { fprintf(stderr, "%s\n", dlerror()); return 2; }
	if (strcmp(mode, "unlink") == 0 && unlink(argv[1]) != 0) return 4;
	if (strcmp(mode, "chmod") == 0) { usleep(300000); if (chmod(argv[1], 0600) != 0) return 5; }
	sleep(30);
	return 0;
}
`

// buildDlopener builds dlopener into a directory any user can read, with a
// copy of libcrypto beside it; it returns the directory.
func buildDlopener(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fipsgate-observe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "dlopener.c")
	if err := os.WriteFile(src, []byte(dlopenerC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-o", filepath.Join(dir, "dlopener"), src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return dir
}

// libcrypto is where the host's libcrypto.so.3 is, symlinks resolved.
func libcrypto(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/i386-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		if p, err := filepath.EvalSymlinks(filepath.Join(d, "libcrypto.so.3")); err == nil {
			return p
		}
	}
	t.Fatal("no libcrypto.so.3 (libssl3, from hack/packages.sh)")
	return ""
}

func realPath(t *testing.T, p string) string {
	t.Helper()
	if !filepath.IsAbs(p) {
		var err error
		if p, err = exec.LookPath(p); err != nil {
			t.Fatal(err)
		}
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func observedVia(entries []inventory.ReachEntry, path string) (string, bool) {
	for _, e := range entries {
		if e.Path == path {
			if !e.Observed {
				return "not marked observed", true
			}
			return e.Via, true
		}
	}
	return "", false
}

// observe runs args as the application's positive run does.
func observe(t *testing.T, cred *syscall.Credential, args ...string) outcome {
	t.Helper()
	o := run(context.Background(), command{Args: args, Cred: cred, Timeout: 20 * time.Second, ReadyAfter: time.Second, WatchListen: true, Observe: true})
	if o.StartError != nil || !o.Ran() {
		t.Fatalf("%v: %s\n%s", args, o.Describe(), o.Output)
	}
	return o
}

// Outside a PID namespace of its own, the probe observes the command's
// process group alone: what it dlopens, not the test's own files.
func TestObserveProcessGroup(t *testing.T) {
	dir := buildDlopener(t)
	prog := filepath.Join(dir, "dlopener")
	o := observe(t, nil, prog, "libcrypto.so.3")
	if via, ok := observedVia(o.Observed, prog); !ok || via != "executed by the application" {
		t.Errorf("%s: %q (%v)", prog, via, ok)
	}
	if via, ok := observedVia(o.Observed, libcrypto(t)); !ok || via != "mapped by "+prog {
		t.Errorf("libcrypto: %q (%v)", via, ok)
	}
	self, _ := os.Executable()
	if via, ok := observedVia(o.Observed, realPath(t, self)); ok {
		t.Errorf("the test binary was observed: %s", via)
	}
	if len(o.Unobserved) > 0 {
		t.Errorf("unobserved: %q", o.Unobserved)
	}
}

// As init of a PID namespace, with a check container's capabilities (no
// CAP_SYS_PTRACE): processes of another user are read with their ids, a
// non-dumpable one is reported unobserved, and programs a script starts are
// seen.
func TestObserveInCheckContainer(t *testing.T) {
	if os.Getenv("FIPSGATE_TEST_PIDNS") != "1" {
		dir := buildDlopener(t)
		inCheckContainer(t, "TestObserveInCheckContainer", "FIPSGATE_TEST_OBSERVE_DIR="+dir)
		return
	}
	if os.Getpid() != 1 || hasCapability(t, 19 /* CAP_SYS_PTRACE */) {
		t.Fatal("not as a check container's probe: PID 1 without CAP_SYS_PTRACE")
	}
	dir := os.Getenv("FIPSGATE_TEST_OBSERVE_DIR")
	prog := filepath.Join(dir, "dlopener")
	crypto := libcrypto(t)

	t.Run("another user", func(t *testing.T) {
		if os.Getuid() != 0 || os.Getenv("FIPSGATE_TEST_USERNS") == "1" {
			// CI runs the tests as root: there, this case must run.
			if os.Getenv("CI") != "" {
				t.Fatal("needs root, to run a process as another user; CI runs the tests as root")
			}
			t.Skip("needs root, to run a process as another user")
		}
		o := observe(t, &syscall.Credential{Uid: 65534, Gid: 65534}, prog, "libcrypto.so.3")
		if via, ok := observedVia(o.Observed, crypto); !ok || via != "mapped by "+prog {
			t.Errorf("libcrypto: %q (%v); observed %v", via, ok, o.Observed)
		}
		if len(o.Unobserved) > 0 {
			t.Errorf("unobserved: %q", o.Unobserved)
		}
	})
	t.Run("not dumpable", func(t *testing.T) {
		o := observe(t, nil, prog, "libcrypto.so.3", "undumpable")
		if _, ok := observedVia(o.Observed, crypto); ok {
			t.Errorf("libcrypto was observed in a process that cannot be read")
		}
		if len(o.Unobserved) != 1 || !strings.HasPrefix(o.Unobserved[0], `? ("dlopener"): it is not dumpable`) {
			t.Errorf("unobserved: %q", o.Unobserved)
		}
	})
	// What is now at the path of a file deleted or changed while it was
	// mapped is not what was loaded: a note, not an entry.
	for _, tc := range []struct{ mode, note string }{
		{"unlink", "deleted while it ran"},
		{"chmod", "replaced or changed while it ran"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			lib := filepath.Join(dir, "libcopy-"+tc.mode+".so")
			dt, err := os.ReadFile(crypto)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(lib, dt, 0o644); err != nil {
				t.Fatal(err)
			}
			o := observe(t, nil, prog, lib, tc.mode)
			if via, ok := observedVia(o.Observed, lib); ok {
				t.Errorf("%s is an entry: %s", lib, via)
			}
			want := lib + ": mapped by " + prog + "; " + tc.note + ": what was loaded cannot be read"
			if !slices.Contains(o.Unobserved, want) {
				t.Errorf("unobserved %q, want %q", o.Unobserved, want)
			}
		})
	}
	t.Run("a script's programs", func(t *testing.T) {
		sh, sleep := realPath(t, "/bin/sh"), realPath(t, "sleep")
		// The script outlives ReadyAfter, so that the sample taken just
		// before it is ended finds both programs however loaded the
		// machine: sampling while they run is not guaranteed a turn.
		o := observe(t, nil, "/bin/sh", "-c", "sleep 30; exit 0")
		if via, ok := observedVia(o.Observed, sh); !ok || via != "executed by the application" {
			t.Errorf("%s: %q (%v)", sh, via, ok)
		}
		if via, ok := observedVia(o.Observed, sleep); !ok || via != "executed by the application, started by "+sh {
			t.Errorf("%s: %q (%v); observed %v", sleep, via, ok, o.Observed)
		}
		for _, e := range o.Observed {
			if strings.HasPrefix(e.Path, "/proc/") || e.Path == "/" || !filepath.IsAbs(e.Path) {
				t.Errorf("entry %+v", e)
			}
		}
	})
}

// inCheckContainer runs the test again as init of a PID namespace of its
// own and a network namespace with nothing in it, with the capabilities a
// check container has: BuildKit's default set, without CAP_SYS_PTRACE.
func inCheckContainer(t *testing.T, name string, env ...string) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--pid", "--fork", "--mount-proc", "--net"}
	if os.Getuid() != 0 {
		// Without root, a user namespace of its own allows the PID one.
		args = append([]string{"--user", "--map-root-user"}, args...)
		env = append(env, "FIPSGATE_TEST_USERNS=1")
	}
	args = append(args, "setpriv", "--inh-caps=-all",
		"--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap",
		self, "-test.run=^"+name+"$", "-test.v")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(append(os.Environ(), "FIPSGATE_TEST_PIDNS=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("in a PID namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// hasCapability tells whether the test has capability bit in its
// effective set.
func hasCapability(t *testing.T, bit uint) bool {
	dt, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(dt), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<bit) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

func TestParseMaps(t *testing.T) {
	const maps = `55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 1311 /usr/bin/app
55d0c0a02000-55d0c0a06000 r-xp 00002000 fe:00 1311 /usr/bin/app
55d0c1f4e000-55d0c1f6f000 rw-p 00000000 00:00 0                          [heap]
7f1e4c000000-7f1e4c021000 rw-p 00000000 00:00 0 
7f1e50000000-7f1e50200000 r--p 00000000 fe:00 2222                       /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f1e50200000-7f1e50400000 r-xp 00200000 fe:00 2222                       /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f1e51000000-7f1e51001000 r-xp 00000000 00:05 3333                       /tmp/with space.so (deleted)
7f1e52000000-7f1e52001000 rw-s 00000000 00:01 4444                       /dev/zero (deleted)
7f1e53000000-7f1e53001000 r-xp 00000000 00:01 5555                       /memfd:jit (deleted)
7f1e54000000-7f1e54001000 rw-s 00000000 00:01 6666                       /SYSV00000000 (deleted)
7ffd4b5e0000-7ffd4b5e2000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`
	got, more := parseMaps([]byte(maps))
	want := []mapping{
		{path: "/usr/bin/app", ino: 1311, exec: true},
		{path: "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", ino: 2222, exec: true},
		{path: "/tmp/with space.so", ino: 3333, exec: true, deleted: true},
		{path: "/dev/zero", ino: 4444, deleted: true, memory: true},
		{path: "/memfd:jit", ino: 5555, exec: true, deleted: true, memory: true},
		{path: "/SYSV00000000", ino: 6666, deleted: true, memory: true},
	}
	if more || len(got) != len(want) {
		t.Fatalf("got %+v (more %v)", got, more)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	many := strings.Repeat("0-1 r--p 0 00:00 0\n", maxMapsLines+1)
	if _, more := parseMaps([]byte(many)); !more {
		t.Error("a map over maxMapsLines must say so")
	}
}

func TestParseStat(t *testing.T) {
	// The name may hold spaces and parentheses.
	st := "42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 2318336 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	ppid, pgrp, vsize, ok := parseStat([]byte(st))
	if !ok || ppid != 7 || pgrp != 42 || vsize != "2318336" {
		t.Errorf("got %d %d %q %v", ppid, pgrp, vsize, ok)
	}
	if _, _, _, ok := parseStat([]byte("42 (x) S 1")); ok {
		t.Error("a short stat must not parse")
	}
}

func TestParseStatusIDs(t *testing.T) {
	for _, tc := range []struct {
		status   string
		uid, gid int
		ok       bool
	}{
		{"Name:\tapp\nUid:\t1000\t1000\t1000\t1000\nGid:\t2000\t2000\t2000\t2000\n", 1000, 2000, true},
		{"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", 0, 0, true},
		{"Uid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n", 0, 0, false}, // set-user-ID
		{"Uid:\t0\t0\t0\t0\nGid:\t0\t5\t0\t0\n", 0, 0, false},    // set-group-ID
		{"Uid:\t0\t0\t0\t0\n", 0, 0, false},
	} {
		uid, gid, ok := parseStatusIDs([]byte(tc.status))
		if ok != tc.ok || (ok && (uid != tc.uid || gid != tc.gid)) {
			t.Errorf("%q: %d %d %v", tc.status, uid, gid, ok)
		}
	}
}

func TestVia(t *testing.T) {
	set := func(s ...string) map[string]struct{} {
		m := map[string]struct{}{}
		for _, x := range s {
			m[x] = struct{}{}
		}
		return m
	}
	for _, tc := range []struct {
		f    seenFile
		want string
	}{
		{seenFile{executed: true}, "executed by the application"},
		{seenFile{executed: true, starters: set("/usr/bin/dash")}, "executed by the application, started by /usr/bin/dash"},
		{seenFile{mappers: set("/b", "/a", "/d", "/c", "/e")}, "mapped by /a, /b, /c and 2 more"},
		{seenFile{executed: true, mappers: set("/a")}, "executed by the application; mapped by /a"},
		{seenFile{mappers: set(emulated)}, "mapped by " + emulated},
	} {
		if got := tc.f.via(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// A process whose executable is not in the container is a program of the
// image run by an interpreter from outside (binfmt_misc emulation): the
// interpreter is not recorded, the files it maps are, as an emulated
// process's, code or not; a file that is not where it was mapped is not an
// entry. A native process's data files are not recorded.
func TestObserveMerge(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libguest.so")
	if err := os.WriteFile(lib, []byte("guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(lib, &st); err != nil {
		t.Fatal(err)
	}
	o := &observer{checked: map[fileKey]pathCheck{}, files: map[string]*seenFile{}, notes: map[string]struct{}{}, probeUID: os.Getuid(), probeGID: os.Getgid()}
	o.fsuid, o.fsgid = o.probeUID, o.probeGID
	qemu := "/nonexistent/qemu-aarch64-static"
	name := o.merge(qemu, "", []mapping{{path: qemu, ino: 7, exec: true}, {path: lib, ino: st.Ino}, {path: "/nonexistent/libhost.so", ino: 8}}, false)
	if name != emulated {
		t.Errorf("named %q", name)
	}
	entries, notes := o.settle()
	if len(entries) != 1 || entries[0].Path != lib || entries[0].Via != "mapped by "+emulated {
		t.Errorf("entries %+v", entries)
	}
	for _, n := range notes {
		if strings.Contains(n, "nonexistent") {
			t.Errorf("a path from outside the container in a note: %q", n)
		}
	}
	if len(notes) != 2 {
		t.Errorf("notes %q", notes)
	}

	// A native process: its code counts, a data file it maps does not.
	o = &observer{checked: map[fileKey]pathCheck{}, files: map[string]*seenFile{}, notes: map[string]struct{}{}, probeUID: os.Getuid(), probeGID: os.Getgid()}
	o.fsuid, o.fsgid = o.probeUID, o.probeGID
	self := realPath(t, "/proc/self/exe")
	if err := syscall.Stat(self, &st); err != nil {
		t.Fatal(err)
	}
	code := filepath.Join(t.TempDir(), "libcode.so")
	if err := os.WriteFile(code, []byte("code"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cst syscall.Stat_t
	if err := syscall.Stat(code, &cst); err != nil {
		t.Fatal(err)
	}
	o.merge(self, "", []mapping{{path: self, ino: st.Ino, exec: true}, {path: lib, ino: 0}, {path: code, ino: cst.Ino, exec: true}}, false)
	entries, notes = o.settle()
	want := []inventory.ReachEntry{{Path: self, Via: "executed by the application", Observed: true}, {Path: code, Via: "mapped by " + self, Observed: true}}
	slices.SortFunc(want, func(a, b inventory.ReachEntry) int { return strings.Compare(a.Path, b.Path) })
	if !slices.Equal(entries, want) || len(notes) != 0 {
		t.Errorf("entries %+v, notes %q; want %+v", entries, notes, want)
	}
}
