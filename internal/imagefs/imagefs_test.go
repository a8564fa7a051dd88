package imagefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bound is how long any call here may take. Every case fails at once when
// the code is right; a regression blocks (a FIFO waits for a writer
// forever) or reads gigabytes, which this deadline turns into a failure.
const bound = 5 * time.Second

// bounded runs fn and fails the test if it has not returned by the
// deadline, instead of letting it hang the test binary.
func bounded[T any](t *testing.T, what string, fn func() (T, error)) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		t.Fatalf("%s did not return within %s", what, bound)
		panic("unreachable")
	}
}

// mkfifo makes a FIFO and releases, at cleanup, any reader a regression
// left blocked on it.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
}

// hostileRoot is a root whose every interesting name is something other
// than a regular file.
func hostileRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc/ssl", "usr/lib/ossl-modules", "dev", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkfifo(t, filepath.Join(root, "etc/ssl/openssl.cnf"))
	// The module a symlink away from the FIFO, as packages install it.
	must(t, os.Symlink("/etc/ssl/openssl.cnf", filepath.Join(root, "usr/lib/ossl-modules/fifo.so")))
	// A character device inside the root: /dev/zero's numbers.
	must(t, unix.Mknod(filepath.Join(root, "dev/zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))))
	must(t, os.Symlink("/dev/zero", filepath.Join(root, "usr/lib/ossl-modules/fips.so")))
	// Pointing at the host's /dev/zero: absolute, and climbing out.
	must(t, os.Symlink("/dev/null", filepath.Join(root, "usr/lib/ossl-modules/null.so")))
	must(t, os.Symlink("../../../../../../../../../../dev/full", filepath.Join(root, "usr/lib/ossl-modules/full.so")))
	l, err := net.Listen("unix", filepath.Join(root, "run/sock"))
	must(t, err)
	t.Cleanup(func() { l.Close() })
	f, err := os.Create(filepath.Join(root, "usr/lib/ossl-modules/sparse.so"))
	must(t, err)
	must(t, f.Truncate(8<<30))
	must(t, f.Close())
	must(t, os.Symlink("loop-b", filepath.Join(root, "etc/ssl/loop-a")))
	must(t, os.Symlink("loop-a", filepath.Join(root, "etc/ssl/loop-b")))
	must(t, os.Symlink("/etc/ssl/self/x", filepath.Join(root, "etc/ssl/self")))
	must(t, os.WriteFile(filepath.Join(root, "etc/ssl/good.cnf"), []byte("ok\n"), 0o644))
	must(t, os.Symlink("/etc/ssl/good.cnf", filepath.Join(root, "etc/ssl/abs.cnf")))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	for _, tc := range []struct {
		name string
		want string // in the error
		is   error
	}{
		{"/etc/ssl/openssl.cnf", "/etc/ssl/openssl.cnf is a FIFO (named pipe), not a regular file", ErrNotRegular},
		{"/usr/lib/ossl-modules/fifo.so", "/usr/lib/ossl-modules/fifo.so is a FIFO (named pipe)", ErrNotRegular},
		{"/dev/zero", "/dev/zero is a character device, not a regular file", ErrNotRegular},
		{"/usr/lib/ossl-modules/fips.so", "/usr/lib/ossl-modules/fips.so is a character device", ErrNotRegular},
		{"/run/sock", "/run/sock is a socket", ErrNotRegular},
		{"/etc/ssl", "/etc/ssl is a directory", ErrNotRegular},
		// Confined: the host's /dev/null and /dev/full are not in this root.
		{"/usr/lib/ossl-modules/null.so", "/usr/lib/ossl-modules/null.so: no such file or directory", fs.ErrNotExist},
		{"/usr/lib/ossl-modules/full.so", "/usr/lib/ossl-modules/full.so: no such file or directory", fs.ErrNotExist},
		{"/etc/ssl/loop-a", "/etc/ssl/loop-a: too many levels of symbolic links", syscall.ELOOP},
		{"/etc/ssl/self", "/etc/ssl/self: too many levels of symbolic links", syscall.ELOOP},
		{"/usr/lib/ossl-modules/sparse.so", "/usr/lib/ossl-modules/sparse.so: file too large: 8589934592 bytes, 8588886016 over the 1048576-byte limit", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bounded(t, "ReadFile", func() ([]byte, error) { return r.ReadFile(tc.name) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
				t.Errorf("ReadFile(%s) = %v\nwant an error with %q, wrapping %v", tc.name, err, tc.want, tc.is)
			}
			if tc.is == ErrTooLarge {
				return
			}
			f, err := bounded(t, "Open", func() (*os.File, error) { return r.Open(tc.name) })
			if err == nil {
				f.Close()
				t.Errorf("Open(%s) succeeded", tc.name)
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s) = %v, want %q", tc.name, err, tc.want)
			}
		})
	}
}

// A host path given as the root: the probe reads its own container with
// Root{Dir: "/"}, where /dev/zero is the real device.
func TestHostDevicesAreRefused(t *testing.T) {
	r := Root{Dir: "/"}
	for _, name := range []string{"/dev/zero", "/dev/urandom"} {
		_, err := bounded(t, "ReadFile", func() ([]byte, error) { return r.ReadFile(name) })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), name+" is a character device") {
			t.Errorf("ReadFile(%s) = %v", name, err)
		}
	}
}

func TestOpenOfAHugeSparseFileDoesNotRead(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	f, err := bounded(t, "Open", func() (*os.File, error) { return r.Open("/usr/lib/ossl-modules/sparse.so") })
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Name() != "/usr/lib/ossl-modules/sparse.so" {
		t.Errorf("Name = %q, want the image path", f.Name())
	}
	_, err = bounded(t, "ReadAllLimit", func() ([]byte, error) { return ReadAllLimit(f, f.Name(), 64<<20) })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "8589934592 bytes") {
		t.Errorf("ReadAllLimit = %v", err)
	}
}

func TestStatAndReadDirDoNotOpenWhatTheyLookAt(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	st, err := bounded(t, "Stat", func() (os.FileInfo, error) { return r.Stat("/usr/lib/ossl-modules/fifo.so") })
	if err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("Stat(fifo) = %v, %v", st, err)
	}
	if _, err := bounded(t, "Stat", func() (os.FileInfo, error) { return r.Stat("/etc/ssl/loop-a") }); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Stat(loop) = %v", err)
	}
	if r.IsDir("/etc/ssl/openssl.cnf") || !r.IsDir("/etc/ssl") {
		t.Errorf("IsDir wrong")
	}
	names, err := bounded(t, "ReadDir", func() ([]string, error) { return r.ReadDir("/usr/lib/ossl-modules") })
	if err != nil || strings.Join(names, " ") != "fifo.so fips.so full.so null.so sparse.so" {
		t.Errorf("ReadDir = %q, %v", names, err)
	}
	if _, err := r.ReadDir("/etc/ssl/openssl.cnf"); !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "is a FIFO (named pipe), not a directory") {
		t.Errorf("ReadDir(fifo) = %v", err)
	}
}

func TestSymlinksResolveInsideTheRoot(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	dt, err := r.ReadFile("/etc/ssl/abs.cnf")
	if err != nil || string(dt) != "ok\n" {
		t.Errorf("ReadFile through an absolute symlink = %q, %v", dt, err)
	}
	if _, err := r.ReadFile("etc/ssl/good.cnf"); err == nil {
		t.Errorf("a relative name must be refused")
	}
	if real, err := r.Real("/etc/ssl/abs.cnf"); err != nil || real != "/etc/ssl/good.cnf" {
		t.Errorf("Real = %q, %v", real, err)
	}
}

func TestReadFileLimit(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	if _, err := r.ReadFileLimit("/etc/ssl/good.cnf", 2); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "3 bytes, 1 over the 2-byte limit") {
		t.Errorf("ReadFileLimit over = %v", err)
	}
	if dt, err := r.ReadFileLimit("/etc/ssl/good.cnf", 3); err != nil || string(dt) != "ok\n" {
		t.Errorf("ReadFileLimit at the limit = %q, %v", dt, err)
	}
}

// outside is a directory beside the root, as the host's files are: a
// symlink of the image that names it, absolutely or by climbing, must
// never reach it.
func outside(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("host\n"), 0o644))
	return dir
}

// Symlinks that name a host path, absolutely or by climbing past the
// root, resolve inside the root: to nothing when the root has no such
// path, to the root's own file when it has; the host's file is never read
// or written.
func TestSymlinksOutOfTheRootStayInIt(t *testing.T) {
	host := outside(t)
	secret := filepath.Join(host, "secret")
	climb := strings.Repeat("../", 12) + strings.TrimPrefix(host, "/")
	links := map[string]string{
		"/etc/ssl/abs-file":   secret,                 // absolute, to the file
		"/etc/ssl/climb-file": climb + "/secret",      // relative, climbing out
		"/etc/ssl/abs-dir":    host,                   // absolute, to the directory
		"/etc/ssl/climb-dir":  climb,                  // relative, to the directory
		"/etc/ssl/dot-dot":    "/../../../../" + host, // absolute, with .. at the root
	}
	// The name read, $HOST for the host's directory: the path it is in
	// the image.
	names := map[string]string{
		"/etc/ssl/abs-file":          secret,
		"/etc/ssl/climb-file":        secret,
		"/etc/ssl/abs-dir/secret":    secret,
		"/etc/ssl/climb-dir/secret":  secret,
		"/etc/ssl/dot-dot/secret":    secret,
		"/../../../..$HOST/secret":   secret, // the name itself climbs
		"/etc/../../..$HOST/secret":  secret,
		"/etc/ssl/abs-dir/../secret": filepath.Dir(host) + "/secret",
	}
	for _, withCopy := range []bool{false, true} {
		root := hostileRoot(t)
		for name, target := range links {
			must(t, os.Symlink(target, filepath.Join(root, name)))
		}
		if withCopy {
			// The root has its own file at the host's path.
			must(t, os.MkdirAll(filepath.Join(root, host), 0o755))
			must(t, os.WriteFile(filepath.Join(root, secret), []byte("image\n"), 0o644))
		}
		r := Root{Dir: root}
		for pattern, want := range names {
			name := strings.ReplaceAll(pattern, "$HOST", host)
			t.Run(fmt.Sprintf("copy=%v/%s", withCopy, pattern), func(t *testing.T) {
				if p, err := r.Resolve(name); err != nil || !strings.HasPrefix(p, root+"/") {
					t.Errorf("Resolve = %q, %v: not in the root %s", p, err, root)
				}
				if real, err := r.Real(name); err != nil || real != want {
					t.Errorf("Real = %q, %v, want %q", real, err, want)
				}
				dt, err := r.ReadFile(name)
				switch {
				case string(dt) == "host\n":
					t.Fatalf("ReadFile read the host's file")
				case withCopy && want == secret && (err != nil || string(dt) != "image\n"):
					t.Errorf("ReadFile = %q, %v, want the root's copy", dt, err)
				case (!withCopy || want != secret) && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("ReadFile = %q, %v, want %v", dt, err, fs.ErrNotExist)
				}
				// Written where it was read, if anywhere.
				f, err := r.OpenFile(name, unix.O_RDWR)
				if err == nil {
					_, err = f.WriteAt([]byte("image\n"), 0)
					f.Close()
				}
				if err == nil != (withCopy && want == secret) {
					t.Errorf("OpenFile(O_RDWR) = %v", err)
				}
			})
		}
		if _, err := r.ReadDir("/etc/ssl/abs-dir"); withCopy != (err == nil) {
			t.Errorf("copy=%v: ReadDir(abs-dir) = %v", withCopy, err)
		}
	}
	if dt, err := os.ReadFile(secret); err != nil || string(dt) != "host\n" {
		t.Errorf("the host's file is now %q, %v", dt, err)
	}
}

// Relative symlinks resolve from the directory of the link, as the kernel
// resolves them for the image's processes: through symlinked directories
// (Debian's /lib -> usr/lib), and at most up to the root.
func TestRelativeSymlinks(t *testing.T) {
	root := hostileRoot(t)
	must(t, os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(t, os.Symlink("../../../etc/ssl/good.cnf", filepath.Join(root, "usr/lib/ossl-modules/rel.cnf")))
	must(t, os.Symlink(strings.Repeat("../", 20)+"etc/ssl/good.cnf", filepath.Join(root, "usr/lib/ossl-modules/past-root.cnf")))
	must(t, os.Symlink("rel.cnf", filepath.Join(root, "usr/lib/ossl-modules/chain.cnf")))
	must(t, os.Symlink("missing.cnf", filepath.Join(root, "etc/ssl/dangling.cnf")))
	must(t, os.Symlink(".", filepath.Join(root, "etc/ssl/here")))
	r := Root{Dir: root}
	for _, name := range []string{
		"/usr/lib/ossl-modules/rel.cnf",
		"/usr/lib/ossl-modules/past-root.cnf",
		"/usr/lib/ossl-modules/chain.cnf",
		"/lib/ossl-modules/rel.cnf", // ../../.. from /usr/lib/ossl-modules, not /lib/ossl-modules
		"/lib/../etc/ssl/good.cnf",  // .. of /usr/lib is /usr: no such file
		"/etc/ssl/here/here/good.cnf",
		"/etc/ssl/abs.cnf",
	} {
		dt, err := r.ReadFile(name)
		real, rerr := r.Real(name)
		if name == "/lib/../etc/ssl/good.cnf" {
			// The kernel resolves .. after the symlink: /usr/etc/ssl/good.cnf.
			if !errors.Is(err, fs.ErrNotExist) || real != "/usr/etc/ssl/good.cnf" {
				t.Errorf("%s: ReadFile %q, %v; Real %q, %v", name, dt, err, real, rerr)
			}
			continue
		}
		if err != nil || string(dt) != "ok\n" || rerr != nil || real != "/etc/ssl/good.cnf" {
			t.Errorf("%s: ReadFile %q, %v; Real %q, %v", name, dt, err, real, rerr)
		}
	}
	if real, err := r.Real("/lib/ossl-modules"); err != nil || real != "/usr/lib/ossl-modules" {
		t.Errorf("Real(/lib/ossl-modules) = %q, %v", real, err)
	}
	via, err := r.ReadDir("/lib/ossl-modules")
	direct, err2 := r.ReadDir("/usr/lib/ossl-modules")
	if err != nil || err2 != nil || strings.Join(via, " ") != strings.Join(direct, " ") || len(via) == 0 {
		t.Errorf("ReadDir through /lib = %q, %v; directly %q, %v", via, err, direct, err2)
	}
	// A dangling symlink reads as nothing; Real names what it points to.
	if _, err := r.ReadFile("/etc/ssl/dangling.cnf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(dangling) = %v", err)
	}
	if real, err := r.Real("/etc/ssl/dangling.cnf"); err != nil || real != "/etc/ssl/missing.cnf" {
		t.Errorf("Real(dangling) = %q, %v", real, err)
	}
}

// Symlink loops and chains longer than the kernel follows fail with
// ELOOP, at once, in every reader; a chain the kernel follows reads.
func TestSymlinkLoopsAndChains(t *testing.T) {
	root := hostileRoot(t)
	must(t, os.Symlink("/etc/ssl/dir-loop/x", filepath.Join(root, "etc/ssl/dir-loop")))
	// Chains of links in one directory: end <- l0 <- l1 <- … The kernel
	// follows at most 40 (MAXSYMLINKS).
	chain := func(n int) string {
		d := fmt.Sprintf("/chain%d", n)
		must(t, os.Mkdir(filepath.Join(root, d), 0o755))
		must(t, os.WriteFile(filepath.Join(root, d, "end"), []byte("end\n"), 0o644))
		prev := "end"
		for i := range n {
			name := fmt.Sprintf("l%d", i)
			must(t, os.Symlink(prev, filepath.Join(root, d, name)))
			prev = name
		}
		return d + "/" + prev
	}
	r := Root{Dir: root}
	if dt, err := r.ReadFile(chain(40)); err != nil || string(dt) != "end\n" {
		t.Errorf("a chain of 40 links: %q, %v", dt, err)
	}
	tooLong := chain(41)
	for _, name := range []string{"/etc/ssl/loop-a", "/etc/ssl/self", "/etc/ssl/dir-loop", "/etc/ssl/loop-b/x", tooLong} {
		for what, fn := range map[string]func() error{
			"ReadFile": func() error { _, err := r.ReadFile(name); return err },
			"Open":     func() error { f, err := r.Open(name); closeIf(f); return err },
			"Stat":     func() error { _, err := r.Stat(name); return err },
			"ReadDir":  func() error { _, err := r.ReadDir(name); return err },
		} {
			if _, err := bounded(t, what, func() (struct{}, error) { return struct{}{}, fn() }); !errors.Is(err, syscall.ELOOP) {
				t.Errorf("%s(%s) = %v, want ELOOP", what, name, err)
			}
		}
		if name == tooLong {
			// Resolve and Real compute a path the way securejoin does, which
			// follows more links than the kernel: they do not fail here.
			continue
		}
		if _, err := r.Resolve(name); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("Resolve(%s) = %v, want ELOOP", name, err)
		}
		if _, err := r.Real(name); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("Real(%s) = %v, want ELOOP", name, err)
		}
	}
}

func closeIf(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// A name whose directory is a file, or that ends in a slash after a file,
// is not found as a directory would be: ENOTDIR, from every reader.
func TestPathThroughAFile(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	for _, name := range []string{"/etc/ssl/good.cnf/x", "/etc/ssl/good.cnf/", "/etc/ssl/abs.cnf/x"} {
		if _, err := r.ReadFile(name); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("ReadFile(%s) = %v", name, err)
		}
		if _, err := r.Stat(name); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Stat(%s) = %v", name, err)
		}
		if _, err := r.ReadDir(name); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("ReadDir(%s) = %v", name, err)
		}
	}
}

// A block device is refused like a character device, without being
// opened; Kind names every type a name can have.
func TestBlockDeviceAndKinds(t *testing.T) {
	root := hostileRoot(t)
	// The numbers of a loop device: nothing here may open it.
	must(t, unix.Mknod(filepath.Join(root, "dev/loop0"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	must(t, os.Symlink("/dev/loop0", filepath.Join(root, "usr/lib/ossl-modules/block.so")))
	r := Root{Dir: root}
	for _, name := range []string{"/dev/loop0", "/usr/lib/ossl-modules/block.so"} {
		_, err := bounded(t, "ReadFile", func() ([]byte, error) { return r.ReadFile(name) })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), name+" is a block device") {
			t.Errorf("ReadFile(%s) = %v", name, err)
		}
		st, err := r.Stat(name)
		if err != nil || st.Mode()&fs.ModeDevice == 0 || st.Mode()&fs.ModeCharDevice != 0 {
			t.Errorf("Stat(%s) = %v, %v", name, st, err)
		}
	}
	for m, want := range map[fs.FileMode]string{
		0o644:                             "a regular file",
		fs.ModeDir | 0o755:                "a directory",
		fs.ModeNamedPipe:                  "a FIFO (named pipe)",
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a block device",
		fs.ModeSocket:                     "a socket",
		fs.ModeSymlink | 0o777:            "a symbolic link",
		fs.ModeIrregular:                  "a file of type ?---------",
	} {
		if got := Kind(m); got != want {
			t.Errorf("Kind(%v) = %q, want %q", m, got, want)
		}
	}
}

// OpenFile opens a regular file for writing where the image has it, and
// refuses what is not one, for writing too, without blocking.
func TestOpenFileForWriting(t *testing.T) {
	root := hostileRoot(t)
	r := Root{Dir: root}
	f, err := r.OpenFile("/etc/ssl/abs.cnf", unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "/etc/ssl/abs.cnf" {
		t.Errorf("Name = %q, want the image path", f.Name())
	}
	if _, err := f.WriteAt([]byte("OK"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if dt, err := os.ReadFile(filepath.Join(root, "etc/ssl/good.cnf")); err != nil || string(dt) != "OK\n" {
		t.Errorf("the symlink's target holds %q, %v", dt, err)
	}
	if f, err := r.OpenFile("/etc/ssl/good.cnf", unix.O_RDONLY); err == nil {
		_, werr := f.WriteAt([]byte("x"), 0)
		f.Close()
		if werr == nil {
			t.Error("a file opened O_RDONLY was written")
		}
	}
	for _, name := range []string{"/etc/ssl/openssl.cnf", "/usr/lib/ossl-modules/fips.so", "/run/sock", "/etc/ssl", "/usr/lib/ossl-modules/null.so"} {
		f, err := bounded(t, "OpenFile", func() (*os.File, error) { return r.OpenFile(name, unix.O_RDWR) })
		if err == nil {
			f.Close()
			t.Errorf("OpenFile(%s, O_RDWR) succeeded", name)
		}
	}
}

// ReadDir: "/" is the root; a name that is not a directory, or is
// missing, is an error that says so; and a directory of more entries than
// MaxDirEntries is refused, one of exactly that many is not.
func TestReadDir(t *testing.T) {
	r := Root{Dir: hostileRoot(t)}
	names, err := r.ReadDir("/")
	if err != nil || strings.Join(names, " ") != "dev etc run usr" {
		t.Errorf("ReadDir(/) = %q, %v", names, err)
	}
	for name, is := range map[string]error{
		"/dev/zero":        fs.ErrInvalid,
		"/run/sock":        fs.ErrInvalid,
		"/etc/ssl/abs.cnf": fs.ErrInvalid,
		"/etc/nothing":     fs.ErrNotExist,
		"etc":              nil,
	} {
		_, err := r.ReadDir(name)
		if err == nil || (is != nil && !errors.Is(err, is)) {
			t.Errorf("ReadDir(%s) = %v, want %v", name, err, is)
		}
	}

	// 65537 names cost seconds on a disk's journal, a fraction of one on
	// tmpfs: there where the machine has it.
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "fipsgate-imagefs-")
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	big := filepath.Join(dir, "big")
	must(t, os.Mkdir(big, 0o755))
	dfd, err := unix.Open(big, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(dfd)
	for i := range MaxDirEntries {
		must(t, unix.Mknodat(dfd, strconv.Itoa(i), unix.S_IFREG|0o644, 0))
	}
	r = Root{Dir: dir}
	if names, err := r.ReadDir("/big"); err != nil || len(names) != MaxDirEntries {
		t.Errorf("ReadDir of %d entries: %d, %v", MaxDirEntries, len(names), err)
	}
	must(t, os.Symlink("x", filepath.Join(big, "one-more")))
	if _, err := r.ReadDir("/big"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("over %d entries", MaxDirEntries)) {
		t.Errorf("ReadDir of %d entries = %v", MaxDirEntries+1, err)
	}
}

// A file that yields more than its size said — one growing while read, or
// one of /proc, whose size is 0 — is refused past the limit, by what it
// yields; one within the limit reads whole.
func TestReadFileLimitByWhatItYields(t *testing.T) {
	host := Root{Dir: "/"}
	if st, err := host.Stat("/proc/self/status"); err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
		t.Fatalf("/proc/self/status: %v, %v: want a regular file of size 0", st, err)
	}
	_, err := host.ReadFileLimit("/proc/self/status", 16)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "grew past the 16-byte limit while read") {
		t.Errorf("ReadFileLimit(/proc/self/status, 16) = %v", err)
	}
	dt, err := host.ReadFileLimit("/proc/self/status", 1<<20)
	if err != nil || !strings.Contains(string(dt), "\nPid:\t") {
		t.Errorf("ReadFileLimit(/proc/self/status) = %.40q, %v", dt, err)
	}
	r := Root{Dir: hostileRoot(t)}
	must(t, os.WriteFile(filepath.Join(r.Dir, "etc/ssl/empty.cnf"), nil, 0o644))
	if dt, err := r.ReadFileLimit("/etc/ssl/empty.cnf", 0); err != nil || len(dt) != 0 {
		t.Errorf("ReadFileLimit(empty, 0) = %q, %v", dt, err)
	}
	if _, err := r.ReadFileLimit("/etc/ssl/good.cnf", 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFileLimit(good, 0) = %v", err)
	}
}

// Resolve computes a host path inside the root for any name, however it
// climbs, and refuses a relative one.
func TestResolveStaysInTheRoot(t *testing.T) {
	root := hostileRoot(t)
	must(t, os.Symlink(strings.Repeat("../", 30), filepath.Join(root, "etc/ssl/up")))
	r := Root{Dir: root}
	for _, name := range []string{"/", "/..", "/../../..", "/etc/ssl/up", "/etc/ssl/up/etc", "/usr/lib/ossl-modules/full.so", "/usr/lib/ossl-modules/null.so", "/etc/ssl/openssl.cnf", "/no/such/dir/../../x"} {
		p, err := bounded(t, "Resolve", func() (string, error) { return r.Resolve(name) })
		if err != nil || (p != root && !strings.HasPrefix(p, root+"/")) {
			t.Errorf("Resolve(%s) = %q, %v", name, p, err)
		}
	}
	if real, err := r.Real("/etc/ssl/up/etc/ssl/good.cnf"); err != nil || real != "/etc/ssl/good.cnf" {
		t.Errorf("Real = %q, %v", real, err)
	}
	for _, name := range []string{"", "etc/ssl", "./etc", "../etc"} {
		if p, err := r.Resolve(name); err == nil {
			t.Errorf("Resolve(%q) = %q", name, p)
		}
		if p, err := r.Real(name); err == nil {
			t.Errorf("Real(%q) = %q", name, p)
		}
		if _, err := r.Stat(name); err == nil {
			t.Errorf("Stat(%q) succeeded", name)
		}
		if _, err := r.ReadDir(name); err == nil {
			t.Errorf("ReadDir(%q) succeeded", name)
		}
	}
}
