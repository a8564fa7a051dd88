package probe

import (
	"context"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"syscall"

	"github.com/fipsgate/fipsgate/imagefs"
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
	return append(ns, Negative{MutationModuleChanged, "FIPS module corrupted (one byte changed)"})
}

// runNegatives runs every negative test that applies, one after the other
// in the container's own copy-on-write copy of the image: each breaks one
// thing and runs the checks; then it kills what they left running, puts
// the original file back and removes what they added, before the next. It
// writes each report as soon as it has it.
//
// added is the record of the image as it was before any of them ran.
func runNegatives(ctx context.Context, spec Spec, m *ModuleFacts, added *leftovers, write func(*Report) error) error {
	root := imagefs.Root{Dir: spec.Root}
	r := newRunner(spec)
	var skip *Check // why the remaining tests do not run
	for _, n := range Negatives(m) {
		rep := &Report{Kind: KindNegative, Mutation: n.Mutation}
		if skip != nil {
			rep.Checks = []Check{*skip}
			if err := write(rep); err != nil {
				return err
			}
			continue
		}
		restore, broken, err := breakModule(root, m, n.Mutation)
		switch {
		case err != nil:
			rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Required: true, Status: Failed,
				Detail: n.Title + ": " + err.Error()}}
		case broken == "":
			rep.Checks = []Check{{Name: "break", Title: "the FIPS module can be broken", Status: NotRun,
				Detail: "no FIPS module in the image: nothing to break"}}
		default:
			fmt.Println(broken)
			rep.Broken = broken
			rep.Checks = r.negativeChecks(ctx)
			killStrays()
		}
		if restore != nil {
			if err := restore(); err != nil {
				skip = &Check{Name: "restored", Title: "the image was restored after the previous negative test", Required: true, Status: Failed,
					Detail: "after " + n.Title + ": " + err.Error()}
			}
		}
		if removed := added.remove(); len(removed) > 0 {
			fmt.Printf("removed what the negative test left in the image: %s\n", strings.Join(removed, ", "))
		}
		// An application that neither exits nor listens while the module is
		// broken holds each test for its whole timeout; one is enough to
		// show that the image does not enforce FIPS.
		for _, c := range rep.Checks {
			if c.Name == "app-refuses" && c.TimedOut && skip == nil {
				skip = &Check{Name: "app-refuses", Title: "the application refuses to run without a valid FIPS module", Status: NotRun,
					Detail: "not run: with " + n.Title + " the application was still running when its " + r.timeout.String() + " timeout ran out"}
			}
		}
		if err := write(rep); err != nil {
			return err
		}
	}
	return nil
}

// negativeChecks are what must refuse to work with the module broken: an
// OpenSSL digest and the application, at once.
func (r *runner) negativeChecks(ctx context.Context) []Check {
	return runConcurrently(
		func() Check {
			return r.opensslCheck(ctx, Check{Name: "openssl-digest-fails", Title: "an OpenSSL digest fails", Required: true}, false, "fipsgate", nil, "dgst", "-sha256")
		},
		func() Check { return r.app(ctx, true) },
	)
}

// breakModule applies one mutation in place and returns how to undo it and
// what it changed, "" when there is nothing to break.
func breakModule(root imagefs.Root, m *ModuleFacts, mutation string) (restore func() error, broken string, err error) {
	if m == nil || m.RealPath == "" {
		return nil, "", nil
	}
	switch mutation {
	case MutationConfigRemoved:
		restore, err = swapFile(root, m.RealConfig, nil)
		return restore, m.RealConfig + " removed", err
	case MutationMACCorrupted:
		changed, err := CorruptModuleMAC(m.ConfigContent, m.Section)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", m.RealConfig, err)
		}
		restore, err = swapFile(root, m.RealConfig, []byte(changed))
		return restore, "one hex digit of module-mac changed in " + m.RealConfig, err
	case MutationModuleChanged:
		p, err := root.Resolve(m.RealPath)
		if err != nil {
			return nil, "", err
		}
		dt, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		if len(dt) == 0 {
			return nil, "", fmt.Errorf("%s is empty", m.RealPath)
		}
		off := len(dt) / 2
		dt[off] ^= 0xff
		restore, err = swapFile(root, m.RealPath, dt)
		return restore, fmt.Sprintf("the byte at offset %d of %s inverted", off, m.RealPath), err
	}
	return nil, "", fmt.Errorf("unknown mutation %q", mutation)
}

// swapFile moves the file at name aside and, unless content is nil, puts
// a file with that content, mode and owner in its place. Restoring renames
// the original back: the same inode, byte for byte. The names it uses end
// neither in .cnf nor in .conf, so that a directory .include skips them.
func swapFile(root imagefs.Root, name string, content []byte) (func() error, error) {
	p, err := root.Resolve(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	saved, replacement := p+".fipsgate-saved", p+".fipsgate-broken"
	if content != nil {
		if err := os.WriteFile(replacement, content, st.Mode().Perm()); err != nil {
			return nil, err
		}
		// WriteFile's mode is subject to the umask; the owner is ours.
		if err := os.Chmod(replacement, st.Mode().Perm()); err != nil {
			return nil, err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(replacement, int(sys.Uid), int(sys.Gid)); err != nil {
				return nil, err
			}
		}
	}
	if err := os.Rename(p, saved); err != nil {
		return nil, err
	}
	restore := func() error { return os.Rename(saved, p) }
	if content != nil {
		if err := os.Rename(replacement, p); err != nil {
			return nil, fmt.Errorf("%w (and restoring: %v)", err, restore())
		}
	}
	return restore, nil
}

var macLine = regexp.MustCompile(`^(\s*module-mac\s*=\s*)([0-9A-Fa-f])`)

// CorruptModuleMAC changes one hex digit of module-mac in the given
// section of a fipsmodule.cnf text, leaving everything else as it was.
func CorruptModuleMAC(content, section string) (string, error) {
	lines := strings.Split(content, "\n")
	current := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.Contains(t, "]") {
			current = strings.TrimSpace(t[1:strings.Index(t, "]")])
			continue
		}
		if section != "" && current != section {
			continue
		}
		m := macLine.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		digit := line[m[4]]
		repl := byte('0')
		if digit == '0' {
			repl = '1'
		}
		lines[i] = line[:m[4]] + string(repl) + line[m[5]:]
		return strings.Join(lines, "\n"), nil
	}
	return "", fmt.Errorf("no module-mac in section [%s]", section)
}
