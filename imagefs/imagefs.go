// Package imagefs reads an image's root filesystem from a directory on disk
// as the image's own processes would see it: absolute symlinks and ".."
// resolve inside the root, never outside it.
package imagefs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Root is an image root filesystem at Dir.
type Root struct {
	Dir string
}

// Resolve returns the host path of name (an absolute path in the image),
// with every symlink followed inside the root.
func (r Root) Resolve(name string) (string, error) {
	if !path.IsAbs(name) {
		return "", fmt.Errorf("%q is not an absolute path in the image", name)
	}
	return securejoin.SecureJoin(r.Dir, name)
}

// Open opens name inside the root.
func (r Root) Open(name string) (*os.File, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// ErrTooLarge is returned by ReadFile for files over its limit.
var ErrTooLarge = errors.New("file too large")

// ReadFileLimit reads name, refusing files larger than limit bytes.
func (r Root) ReadFileLimit(name string, limit int64) ([]byte, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %w (%d bytes, limit %d)", name, ErrTooLarge, st.Size(), limit)
	}
	dt, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(dt)) > limit {
		return nil, fmt.Errorf("%s: %w (limit %d)", name, ErrTooLarge, limit)
	}
	return dt, nil
}

// ReadFile reads a configuration-sized file (at most 1 MiB).
func (r Root) ReadFile(name string) ([]byte, error) {
	return r.ReadFileLimit(name, 1<<20)
}

// ReadDir lists the entry names of directory name.
func (r Root) ReadDir(name string) ([]string, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// IsDir reports whether name is a directory (after symlinks).
func (r Root) IsDir(name string) bool {
	p, err := r.Resolve(name)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Stat returns the file info of name, symlinks followed inside the root.
func (r Root) Stat(name string) (os.FileInfo, error) {
	p, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
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
