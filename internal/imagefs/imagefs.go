// Package imagefs reads a directory tree that is not trusted — an image's
// root filesystem, an OCI layout — as the image's own processes would see
// it: absolute symlinks and ".." resolve inside the root, never outside it.
//
// Every file is hostile until shown otherwise: a name may be a FIFO, a
// device, a socket or a symlink loop, or a regular file of any (sparse)
// size. Files are therefore looked up as O_PATH handles resolved by the
// kernel inside the root, checked with fstat on that handle (which pins the
// inode, so the check cannot race a rename), and only then opened for
// reading, without blocking. A FIFO or a device is never opened at all.
package imagefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Root is an image root filesystem at Dir.
type Root struct {
	Dir string
}

// Limits on what the convenience readers accept.
const (
	// MaxConfigSize bounds ReadFile: configuration files (openssl.cnf,
	// /etc/passwd, ld.so.conf) are kilobytes.
	MaxConfigSize = 1 << 20
	// MaxDirEntries bounds ReadDir. Library and configuration directories
	// hold thousands of entries at most.
	MaxDirEntries = 1 << 16
)

var (
	// ErrNotRegular is wrapped by errors for names that are not regular
	// files (after symlinks): FIFOs, devices, sockets, directories.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is wrapped by errors for files over a reader's limit.
	ErrTooLarge = errors.New("file too large")
)

// Resolve returns the host path of name (an absolute path in the image),
// with every symlink followed inside the root. It only computes a path: a
// caller that opens it must not follow symlinks again (O_NOFOLLOW), since
// the tree may have changed in between. Open, ReadFile and Stat do not have
// that race.
func (r Root) Resolve(name string) (string, error) {
	if !path.IsAbs(name) {
		return "", fmt.Errorf("%q is not an absolute path in the image", name)
	}
	return securejoin.SecureJoin(r.Dir, name)
}

// handle returns an O_PATH handle on name, resolved by the kernel inside
// the root (openat2 RESOLVE_IN_ROOT, or pathrs-lite's checked walk where
// openat2 is unavailable), and its fstat. An O_PATH open has no effect on
// the file: a FIFO does not wait for a writer, a device's driver is not
// called.
func (r Root) handle(name string) (*os.File, fs.FileInfo, error) {
	if !path.IsAbs(name) {
		return nil, nil, fmt.Errorf("%q is not an absolute path in the image", name)
	}
	h, err := pathrs.OpenInRoot(r.Dir, name)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	st, err := h.Stat()
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	return h, st, nil
}

// unwrapPathError drops pathrs' *os.PathError wrapper, whose text names the
// host path and an internal operation; callers name the image path.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Kind describes a file type for error messages, with an article: "a FIFO
// (named pipe)", "a character device", "a directory".
func Kind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeNamedPipe:
		return "a FIFO (named pipe)"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "a character device"
	case fs.ModeDevice:
		return "a block device"
	case fs.ModeSocket:
		return "a socket"
	case fs.ModeSymlink:
		return "a symbolic link"
	}
	return "a file of type " + m.Type().String()
}

// NotRegular is the error for name, of mode m, where a regular file is
// wanted.
func NotRegular(name string, m fs.FileMode) error {
	return fmt.Errorf("%s is %s, %w: fipsgate reads only regular files here; put the file itself (or a symlink to it) in its place", name, Kind(m), ErrNotRegular)
}

// TooLarge is the error for a file of size bytes over limit.
func TooLarge(name string, size, limit int64) error {
	return fmt.Errorf("%s: %w: %d bytes, %d over the %d-byte limit", name, ErrTooLarge, size, size-limit, limit)
}

// Open opens name, which must be a regular file, for reading. It never
// blocks on the file's type. The returned file's Name is name. Callers
// bound what they read: the file may be of any size, sparse or growing.
func (r Root) Open(name string) (*os.File, error) {
	return r.OpenFile(name, unix.O_RDONLY)
}

// OpenFile is Open with the access mode flag: unix.O_RDONLY or O_RDWR.
func (r Root) OpenFile(name string, flag int) (*os.File, error) {
	h, st, err := r.handle(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if !st.Mode().IsRegular() {
		return nil, NotRegular(name, st.Mode())
	}
	// The handle pins the inode checked above: reopening it cannot land on
	// a FIFO swapped in since. O_NONBLOCK all the same, so that nothing
	// here can wait.
	f, err := pathrs.Reopen(h, flag&unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	// Name the file as the image does, so that read errors say which file.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// ReadFileLimit reads name, a regular file of at most limit bytes.
func (r Root) ReadFileLimit(name string, limit int64) ([]byte, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAllLimit(f, name, limit)
}

// ReadAllLimit reads f (a regular file) whole, refusing it when over limit
// bytes, by its size before reading or by what it yields if it grows.
func ReadAllLimit(f *os.File, name string, limit int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, TooLarge(name, st.Size(), limit)
	}
	buf := make([]byte, 0, st.Size()+1)
	buf, err = readAllAppend(io.LimitReader(f, limit+1), buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("%s: %w: it grew past the %d-byte limit while read", name, ErrTooLarge, limit)
	}
	return buf, nil
}

func readAllAppend(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// ReadFile reads a configuration-sized file (at most MaxConfigSize bytes).
func (r Root) ReadFile(name string) ([]byte, error) {
	return r.ReadFileLimit(name, MaxConfigSize)
}

// ReadDir lists the entry names of directory name, sorted, refusing
// directories of more than MaxDirEntries entries. It wraps fs.ErrInvalid
// when name is not a directory.
func (r Root) ReadDir(name string) ([]string, error) {
	h, st, err := r.handle(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is %s, not a directory: %w", name, Kind(st.Mode()), fs.ErrInvalid)
	}
	d, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	defer d.Close()
	names, err := d.Readdirnames(MaxDirEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(names) > MaxDirEntries {
		return nil, fmt.Errorf("directory %s has over %d entries, more than fipsgate reads", name, MaxDirEntries)
	}
	sort.Strings(names)
	return names, nil
}

// IsDir reports whether name is a directory (after symlinks).
func (r Root) IsDir(name string) bool {
	st, err := r.Stat(name)
	return err == nil && st.IsDir()
}

// Stat returns the file info of name, symlinks followed inside the root.
// It opens nothing but an O_PATH handle.
func (r Root) Stat(name string) (os.FileInfo, error) {
	h, st, err := r.handle(name)
	if err != nil {
		return nil, err
	}
	h.Close()
	return st, nil
}

// Real returns name with every symlink resolved, as an image path.
func (r Root) Real(name string) (string, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.Dir, p)
	if err != nil {
		return "", err
	}
	return path.Clean("/" + filepath.ToSlash(rel)), nil
}
