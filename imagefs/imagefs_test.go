package imagefs

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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
