package probe

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"unsafe"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"golang.org/x/sys/unix"
)

// Negative is one negative test: a way to break the FIPS module.
type Negative struct {
	Mutation string
	Title    string
}

// Negatives lists the negative tests that apply to the module the static
// checks found: with a fipsmodule.cnf, it removed and its module-mac
// corrupted; always the module itself corrupted (a test with nothing to
// break when there is no module, which says so).
func Negatives(m *ModuleFacts) []Negative {
	var ns []Negative
	if m != nil && m.RealPath != "" && m.Layout == LayoutConfigMAC && m.RealConfig != "" {
		ns = append(ns,
			Negative{MutationConfigRemoved, path.Base(m.RealConfig) + " removed"},
			Negative{MutationMACCorrupted, "module-mac corrupted"},
		)
	}
	return append(ns, Negative{MutationModuleCorrupted, "FIPS module corrupted (one byte changed)"})
}

// applies tells whether a mutation is one of Negatives(m).
func applies(m *ModuleFacts, mutation string) bool {
	for _, n := range Negatives(m) {
		if n.Mutation == mutation {
			return true
		}
	}
	return false
}

// byteEdit is one byte written in place in a file of the image. Every run
// of the application writes the same bytes of the same files, the original
// byte where the run breaks nothing, and puts their times back: so the
// files it finds differ from one run to the next only by the breakage, not
// by a newer change time or a different inode, nor by a saved copy nearby.
type byteEdit struct {
	path    string
	off     int64
	corrupt func(byte) byte // nil: the original byte is written back
}

func invertByte(b byte) byte { return b ^ 0xff }

// otherHexDigit keeps a corrupted module-mac a well-formed one, so that it
// is the MAC check, not the parser, that rejects it.
func otherHexDigit(b byte) byte {
	if b == '0' {
		return '1'
	}
	return '0'
}

// breakage is what a run does to the image before the application starts.
type breakage struct {
	edits  []byteEdit
	remove string // a file to remove, "" for none
	broken string // what it breaks, in words; "" for the run as built
}

// planBreakage says what run does to the module m: for RunApp, each
// edit writes the original byte; for a mutation, one of them breaks it, or
// the configuration goes.
func planBreakage(m *ModuleFacts, run string) (breakage, error) {
	var b breakage
	if m == nil || m.RealPath == "" {
		return b, nil
	}
	module := byteEdit{path: m.RealPath, off: m.Size / 2}
	if run == MutationModuleCorrupted {
		module.corrupt = invertByte
		b.broken = fmt.Sprintf("the byte at offset %d of %s inverted", module.off, m.RealPath)
	}
	b.edits = append(b.edits, module)
	if m.Layout != LayoutConfigMAC || m.RealConfig == "" {
		return b, nil
	}
	switch run {
	case MutationConfigRemoved:
		b.remove = m.RealConfig
		b.broken = m.RealConfig + " removed"
		return b, nil
	}
	off, err := moduleMACDigit(m.ConfigContent, m.Section)
	if err != nil {
		return b, fmt.Errorf("%s: %w", m.RealConfig, err)
	}
	cnf := byteEdit{path: m.RealConfig, off: int64(off)}
	if run == MutationMACCorrupted {
		cnf.corrupt = otherHexDigit
		b.broken = "one hex digit of module-mac changed in " + m.RealConfig
	}
	b.edits = append(b.edits, cnf)
	return b, nil
}

// apply makes the breakage in root and returns how to undo it. It never
// follows a symlink out of the root, and writes only to regular files.
func (b breakage) apply(root imagefs.Root) (undo func() error, err error) {
	var undos []func() error
	undo = func() error {
		var errs []error
		for i := len(undos) - 1; i >= 0; i-- {
			errs = append(errs, undos[i]())
		}
		return errors.Join(errs...)
	}
	for _, e := range b.edits {
		u, err := e.apply(root)
		if err != nil {
			return nil, errors.Join(err, undo())
		}
		undos = append(undos, u)
	}
	if b.remove != "" {
		u, err := removeFile(root, b.remove)
		if err != nil {
			return nil, errors.Join(err, undo())
		}
		undos = append(undos, u)
	}
	return undo, nil
}

// openRegular opens name inside root, a regular file, without blocking on
// it or opening anything else (imagefs.Root.OpenFile), and its fstat.
func openRegular(root imagefs.Root, name string, flag int) (*os.File, *unix.Stat_t, error) {
	f, err := root.OpenFile(name, flag)
	if err != nil {
		return nil, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, &st, nil
}

// apply writes the edit's byte and returns how to write the original back.
func (e byteEdit) apply(root imagefs.Root) (func() error, error) {
	f, st, err := openRegular(root, e.path, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if e.off >= st.Size {
		return nil, fmt.Errorf("%s: offset %d is past its end (%d bytes): it changed since it was read", e.path, e.off, st.Size)
	}
	var orig [1]byte
	if _, err := f.ReadAt(orig[:], e.off); err != nil {
		return nil, fmt.Errorf("%s: %w", e.path, err)
	}
	b := orig[0]
	if e.corrupt != nil {
		b = e.corrupt(b)
	}
	if err := writeByteKeepingTimes(f, e.off, b, st); err != nil {
		return nil, fmt.Errorf("%s: %w", e.path, err)
	}
	return func() error {
		f, _, err := openRegular(root, e.path, os.O_RDWR)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := writeByteKeepingTimes(f, e.off, orig[0], st); err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		return nil
	}, nil
}

func writeByteKeepingTimes(f *os.File, off int64, b byte, st *unix.Stat_t) error {
	if _, err := f.WriteAt([]byte{b}, off); err != nil {
		return err
	}
	return futimens(f, st.Atim, st.Mtim)
}

// futimens sets the times of the open file itself, as glibc's futimens:
// utimensat with no path.
func futimens(f *os.File, atime, mtime unix.Timespec) error {
	ts := [2]unix.Timespec{atime, mtime}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// maxConfigSize bounds a configuration file the probe holds to restore it.
const maxConfigSize = 1 << 20

// removeFile removes name and returns how to put it back as it was:
// content, mode, owner and times.
func removeFile(root imagefs.Root, name string) (func() error, error) {
	f, st, err := openRegular(root, name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	dt, err := imagefs.ReadAllLimit(f, name, maxConfigSize)
	f.Close()
	if err != nil {
		return nil, err
	}
	p, err := root.Resolve(name)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(p); err != nil {
		return nil, err
	}
	return func() error {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.Write(dt); err != nil {
			return err
		}
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if err := unix.Fchmod(int(f.Fd()), st.Mode&0o7777); err != nil {
			return err
		}
		return futimens(f, st.Atim, st.Mtim)
	}, nil
}

var macLine = regexp.MustCompile(`^(\s*module-mac\s*=\s*)([0-9A-Fa-f])`)

// moduleMACDigit returns the offset, in a fipsmodule.cnf text, of the first
// hex digit of module-mac in the given section.
func moduleMACDigit(content, section string) (int, error) {
	off := 0
	current := ""
	for _, line := range strings.SplitAfter(content, "\n") {
		start := off
		off += len(line)
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.Contains(t, "]") {
			current = strings.TrimSpace(t[1:strings.Index(t, "]")])
			continue
		}
		if section != "" && current != section {
			continue
		}
		if m := macLine.FindStringSubmatchIndex(line); m != nil {
			return start + m[4], nil
		}
	}
	return 0, fmt.Errorf("no module-mac in section [%s]", section)
}

// CorruptModuleMAC changes one hex digit of module-mac in the given
// section of a fipsmodule.cnf text, leaving everything else as it was.
func CorruptModuleMAC(content, section string) (string, error) {
	off, err := moduleMACDigit(content, section)
	if err != nil {
		return "", err
	}
	return content[:off] + string(otherHexDigit(content[off])) + content[off+1:], nil
}
