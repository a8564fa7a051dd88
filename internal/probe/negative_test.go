package probe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

func TestCorruptModuleMAC(t *testing.T) {
	in := "[other]\nmodule-mac = AA:BB\n\n[fips_sect]\nactivate = 1\n  module-mac = 0E:91:FF\ninstall-version = 1\n"
	got, err := CorruptModuleMAC(in, "fips_sect")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, "  module-mac = 0E:91:FF", "  module-mac = 1E:91:FF", 1)
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := CorruptModuleMAC("[fips_sect]\nactivate = 1\n", "fips_sect"); err == nil {
		t.Error("no module-mac must be an error")
	}
}

func TestNegatives(t *testing.T) {
	mutations := func(m *ModuleFacts) string {
		var got []string
		for _, n := range Negatives(m) {
			got = append(got, n.Mutation)
		}
		return strings.Join(got, ",")
	}
	cnf := &ModuleFacts{RealPath: "/usr/lib/ossl-modules/fips.so", RealConfig: "/etc/ssl/fipsmodule.cnf", Layout: LayoutConfigMAC}
	if got := mutations(cnf); got != "fipsmodule-cnf-removed,module-mac-corrupted,module-corrupted" {
		t.Errorf("fipsmodule.cnf layout: %v", got)
	}
	embedded := &ModuleFacts{RealPath: "/usr/lib64/ossl-modules/fips.so", Layout: LayoutEmbeddedMAC}
	if got := mutations(embedded); got != "module-corrupted" {
		t.Errorf("embedded layout: %v", got)
	}
	if got := mutations(nil); got != "module-corrupted" {
		t.Errorf("no module: %v", got)
	}
}

// fileState is what a process of the image can see of a file: all but the
// change time, which every run moves alike, and the access time, which
// reading moves.
type fileState struct {
	mode, uid, gid uint32
	size           int64
	ino            uint64
	mtime          syscall.Timespec
	content        string
}

func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	files := map[string]fileState{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fs := fileState{mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size, ino: st.Ino, mtime: st.Mtim}
		if info.Mode().IsRegular() {
			dt, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fs.content = string(dt)
		}
		rel, _ := filepath.Rel(root, p)
		files["/"+rel] = fs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Each run writes the same bytes of the same files: the image it leaves
// differs from the image as built only by the one breakage, in content
// alone — no saved copy, no other inode, no other time, mode or owner.
func TestBreakageChangesOnlyWhatItBreaks(t *testing.T) {
	for _, run := range []string{RunApp, MutationConfigRemoved, MutationMACCorrupted, MutationModuleCorrupted} {
		t.Run(run, func(t *testing.T) {
			root := fakeImage(t, goodConfig, goodModuleCnf)
			cnf := filepath.Join(root, "etc/ssl/fipsmodule.cnf")
			if err := os.Chown(cnf, 12, 34); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(cnf, 0o640); err != nil {
				t.Fatal(err)
			}
			m := staticReport(Spec{Root: root}).Module
			before := snapshot(t, root)
			b, err := planBreakage(m, run)
			if err != nil {
				t.Fatal(err)
			}
			undo, err := b.apply(imagefs.Root{Dir: root})
			if err != nil {
				t.Fatal(err)
			}
			after := snapshot(t, root)
			var changed []string
			for name, was := range before {
				now, ok := after[name]
				switch {
				case !ok:
					changed = append(changed, "removed "+name)
				case now.content != was.content:
					changed = append(changed, "content of "+name)
					now.content = was.content
					if now != was {
						t.Errorf("%s: %+v, was %+v", name, now, was)
					}
				case now != was && !(run == MutationConfigRemoved && name == "/etc/ssl"):
					t.Errorf("%s: %+v, was %+v", name, now, was)
				}
			}
			for name := range after {
				if _, ok := before[name]; !ok {
					t.Errorf("%s was added", name)
				}
			}
			want := map[string]string{
				RunApp:                  "",
				MutationConfigRemoved:   "removed /etc/ssl/fipsmodule.cnf",
				MutationMACCorrupted:    "content of /etc/ssl/fipsmodule.cnf",
				MutationModuleCorrupted: "content of /usr/lib/x86_64-linux-gnu/ossl-modules/fips.so",
			}[run]
			if got := strings.Join(changed, ", "); got != want {
				t.Errorf("changed: %q, want %q", got, want)
			}
			if (b.broken == "") != (run == RunApp) {
				t.Errorf("broken = %q", b.broken)
			}
			if err := undo(); err != nil {
				t.Fatal(err)
			}
			restored := snapshot(t, root)
			for name, was := range before {
				if now := restored[name]; name != "/etc/ssl" && (now.content != was.content || now.mode != was.mode || now.uid != was.uid || now.gid != was.gid || now.mtime != was.mtime) {
					t.Errorf("%s not restored: %+v, was %+v", name, now, was)
				}
			}
		})
	}
}

// A file the breakage must write that is not a regular file is refused,
// without blocking on it.
func TestBreakageRefusesFIFO(t *testing.T) {
	root := fakeImage(t, goodConfig, goodModuleCnf)
	m := staticReport(Spec{Root: root}).Module
	cnf := filepath.Join(root, "etc/ssl/fipsmodule.cnf")
	if err := os.Remove(cnf); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(cnf, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := planBreakage(m, RunApp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.apply(imagefs.Root{Dir: root}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("err = %v", err)
	}
}

// The application runs once per container: in each, it sees the image as
// built but for the one breakage of its run.
func TestRunApplication(t *testing.T) {
	root0 := fakeImage(t, goodConfig, goodModuleCnf)
	good := t.TempDir()
	for _, f := range []string{"etc/ssl/fipsmodule.cnf", "usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"} {
		dt, err := os.ReadFile(filepath.Join(root0, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(good, filepath.Base(f)), dt, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		run  string
		exit int
	}{{RunApp, 0}, {MutationConfigRemoved, 3}, {MutationMACCorrupted, 4}, {MutationModuleCorrupted, 5}} {
		t.Run(tc.run, func(t *testing.T) {
			root := fakeImage(t, goodConfig, goodModuleCnf)
			cnf, module := filepath.Join(root, "etc/ssl/fipsmodule.cnf"), filepath.Join(root, "usr/lib/x86_64-linux-gnu/ossl-modules/fips.so")
			script := `PATH=/usr/bin:/bin
test -f ` + cnf + ` || exit 3
cmp -s ` + cnf + ` ` + good + `/fipsmodule.cnf || exit 4
cmp -s ` + module + ` ` + good + `/fips.so || exit 5
exit 0`
			spec := Spec{Root: root, Run: tc.run, App: []string{"/bin/sh", "-c", script}, TimeoutSeconds: 10, ReadySeconds: 5, Image: Image{Env: []string{"PATH=/nonexistent"}}}
			rep := runApplication(context.Background(), spec)
			// The run as built also judges what the application was seen
			// to load.
			want := 1
			if tc.run == RunApp {
				want = 2
			}
			if len(rep.Checks) != want || (want == 2 && rep.Checks[1].Name != "app-loads") || (rep.Observed != nil) != (tc.run == RunApp) {
				t.Fatalf("checks: %+v; observed %+v", rep.Checks, rep.Observed)
			}
			c := rep.Checks[0]
			if c.Status != Passed || c.ExitCode == nil || *c.ExitCode != tc.exit {
				t.Errorf("%s: %s %s (exit %v), want exit %d", c.Name, c.Status, c.Detail, c.ExitCode, tc.exit)
			}
			if (rep.Kind == KindNegative) != (tc.run != RunApp) || (rep.Broken == "") != (tc.run == RunApp) {
				t.Errorf("report %s %q broken %q", rep.Kind, rep.Mutation, rep.Broken)
			}
			if rep.Module == nil || rep.Module.RealPath == "" {
				t.Error("the report does not say which module the run found")
			}
		})
	}
}

// An application that runs on with the module broken fails the test.
func TestRunApplicationThatDoesNotRefuse(t *testing.T) {
	for _, script := range []string{"exit 0", "exec /bin/sleep 30"} {
		root := fakeImage(t, goodConfig, goodModuleCnf)
		spec := Spec{Root: root, Run: MutationModuleCorrupted, App: []string{"/bin/sh", "-c", script}, TimeoutSeconds: 0.3, Image: Image{Env: []string{"PATH=/nonexistent"}}}
		c := runApplication(context.Background(), spec).Checks[0]
		if c.Name != "app-refuses" || c.Status != Failed || !strings.Contains(c.Detail, "DOES NOT ENFORCE FIPS") {
			t.Errorf("%q: %s %s: %s", script, c.Name, c.Status, c.Detail)
		}
	}
}

// A mutation that does not apply to the module's layout runs nothing.
func TestRunApplicationNotApplicable(t *testing.T) {
	root := fakeImage(t, goodConfig, "[fips_sect]\nactivate = 1\n")
	spec := Spec{Root: root, Run: MutationMACCorrupted, App: []string{"/bin/false"}}
	c := runApplication(context.Background(), spec).Checks[0]
	if c.Name != "break" || c.Status != NotRun {
		t.Errorf("%+v", c)
	}
}

// The OpenSSL run's negative tests leave the image as it was built.
func TestRunOpenSSLRestoresTheImage(t *testing.T) {
	root := fakeImage(t, goodConfig, goodModuleCnf)
	before := snapshot(t, root)
	reports := Run(context.Background(), Spec{Root: root, Run: RunOpenSSL, Image: Image{Env: []string{"PATH=/nonexistent"}}})
	if len(reports) != 4 {
		t.Fatalf("%d reports, want the self-test and three negative tests", len(reports))
	}
	after := snapshot(t, root)
	for name, was := range before {
		now := after[name]
		now.ino, was.ino = 0, 0 // the removed fipsmodule.cnf comes back as a new file
		if now != was && name != "/etc/ssl" {
			t.Errorf("%s: %+v, was %+v", name, now, was)
		}
	}
}

// A module OpenSSL would wait on (a FIFO) fails the static checks; no
// program of the image runs against it, to wait out its timeout.
func TestUnreadableModuleRunsNothing(t *testing.T) {
	for _, run := range []string{RunApp, MutationModuleCorrupted} {
		root := fakeImage(t, goodConfig, goodModuleCnf)
		module := filepath.Join(root, "usr/lib/x86_64-linux-gnu/ossl-modules/fips.so")
		if err := os.Remove(module); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(module, 0o644); err != nil {
			t.Fatal(err)
		}
		spec := Spec{Root: root, Run: run, App: []string{"/bin/sh", "-c", "exit 0"}, Image: Image{Env: []string{"PATH=/nonexistent"}}}
		c := runApplication(context.Background(), spec).Checks[0]
		if c.Status != NotRun || c.ExitCode != nil || (run == RunApp && !strings.Contains(c.Detail, "FIFO")) {
			t.Errorf("%s: %s %s: %s", run, c.Name, c.Status, c.Detail)
		}
	}
}

// An application that fails a moment after it started does not pass for
// running: it is watched to the timeout, unless FIPSGATE_READY_SECONDS
// declares a worker up sooner.
func TestRunApplicationThatFailsLate(t *testing.T) {
	for _, tc := range []struct {
		ready float64
		want  string
	}{{0, Failed}, {0.3, Passed}} {
		root := fakeImage(t, goodConfig, goodModuleCnf)
		spec := Spec{Root: root, Run: RunApp, App: []string{"/bin/sh", "-c", "/bin/sleep 1; exit 3"}, TimeoutSeconds: 5, ReadySeconds: tc.ready, Image: Image{Env: []string{"PATH=/nonexistent"}}}
		c := runApplication(context.Background(), spec).Checks[0]
		if c.Status != tc.want {
			t.Errorf("ready %v: %s: %s", tc.ready, c.Status, c.Detail)
		}
	}
}
