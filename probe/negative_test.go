package probe

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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

// negativeRoot is an image root with a module and its fipsmodule.cnf, and
// the facts the static checks would have found of them.
func negativeRoot(t *testing.T) (string, *ModuleFacts, map[string][]byte) {
	root := t.TempDir()
	files := map[string][]byte{
		"/etc/ssl/fipsmodule.cnf":       []byte("[fips_sect]\nactivate = 1\nmodule-mac = AB:CD\n"),
		"/usr/lib/ossl-modules/fips.so": bytes.Repeat([]byte{1, 2, 3, 4}, 1000),
	}
	for _, dir := range []string{"run", "var/cache", "dev/shm"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, dt := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, dt, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	m := &ModuleFacts{Path: "/usr/lib/ossl-modules/fips.so", RealPath: "/usr/lib/ossl-modules/fips.so", Layout: LayoutConfigMAC,
		Config: "/etc/ssl/fipsmodule.cnf", RealConfig: "/etc/ssl/fipsmodule.cnf", Section: "fips_sect", ConfigContent: string(files["/etc/ssl/fipsmodule.cnf"])}
	return root, m, files
}

// Each negative test breaks exactly one thing, which the application
// sees, and the image is put back as it was before the next one.
func TestRunNegativesBreaksOneThingAtATime(t *testing.T) {
	root, m, files := negativeRoot(t)
	cnf, module := filepath.Join(root, m.RealConfig), filepath.Join(root, m.RealPath)
	if err := os.WriteFile(filepath.Join(root, "good.cnf"), files[m.RealConfig], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "good.so"), files[m.RealPath], 0o644); err != nil {
		t.Fatal(err)
	}
	// The "application" exits with a status that says what it found broken.
	// The image's PATH has no openssl: only the application is checked.
	// It leaves a pid file and a cache behind, and refuses to start while a
	// pid file exists: what a run leaves must be gone before the next.
	script := `PATH=/usr/bin:/bin
test -e ` + root + `/run/app.pid && { echo "already running"; exit 9; }
touch ` + root + `/run/app.pid
mkdir -p ` + root + `/var/cache/app/x
touch ` + root + `/dev/shm/sem.app
test -f ` + cnf + ` || exit 3
cmp -s ` + cnf + ` ` + root + `/good.cnf || exit 4
cmp -s ` + module + ` ` + root + `/good.so || exit 5
exit 0`
	spec := Spec{Root: root, App: []string{"/bin/sh", "-c", script}, TimeoutSeconds: 10, Image: Image{Env: []string{"PATH=/nonexistent"}}}
	var reports []*Report
	if err := runNegatives(context.Background(), spec, m, newLeftovers(root, nil), func(r *Report) error { reports = append(reports, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{MutationConfigRemoved: 3, MutationMACCorrupted: 4, MutationModuleChanged: 5}
	if len(reports) != len(want) {
		t.Fatalf("%d reports, want %d", len(reports), len(want))
	}
	for _, r := range reports {
		for _, c := range r.Checks {
			if c.Name != "app-refuses" {
				continue
			}
			if c.Status != Passed || c.ExitCode == nil || *c.ExitCode != want[r.Mutation] {
				t.Errorf("%s: %s %s (exit %v), want exit %d", r.Mutation, c.Status, c.Detail, c.ExitCode, want[r.Mutation])
			}
		}
		if r.Broken == "" {
			t.Errorf("%s: the report does not say what was broken", r.Mutation)
		}
	}
	for _, left := range []string{"/run/app.pid", "/var/cache/app", "/dev/shm/sem.app"} {
		if _, err := os.Lstat(filepath.Join(root, left)); err == nil {
			t.Errorf("%s, left by the application, is still there", left)
		}
	}
	for name, dt := range files {
		p := filepath.Join(root, name)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, dt) {
			t.Errorf("%s was not restored: %v", name, err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, %v", name, st.Mode(), err)
		}
		entries, _ := os.ReadDir(filepath.Dir(p))
		if len(entries) != 1 {
			t.Errorf("%s: left behind %v", filepath.Dir(p), entries)
		}
	}
}

// An application that runs on with the module broken fails each test; one
// that hangs holds only the first for its timeout, and the rest say why
// they did not run.
func TestRunNegativesApplicationThatDoesNotRefuse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   []string
	}{
		{"exits 0", "exit 0", []string{Failed, Failed, Failed}},
		{"hangs", "exec /bin/sleep 30", []string{Failed, NotRun, NotRun}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, m, _ := negativeRoot(t)
			spec := Spec{Root: root, App: []string{"/bin/sh", "-c", tc.script}, TimeoutSeconds: 0.3, Image: Image{Env: []string{"PATH=/nonexistent"}}}
			var got []string
			err := runNegatives(context.Background(), spec, m, newLeftovers(root, nil), func(r *Report) error {
				for _, c := range r.Checks {
					if c.Name == "app-refuses" {
						got = append(got, c.Status)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("app-refuses: %v, want %v", got, tc.want)
			}
		})
	}
}

// What the probe writes under its report mount is never taken for
// something an application left behind.
func TestContainerMountsCoverTheReports(t *testing.T) {
	got := containerMounts(Spec{Root: "/", ReportDir: "/.fipsgate-report/linux-arm-v7"})
	if !slices.Contains(got, "/.fipsgate-report") {
		t.Errorf("containerMounts = %v: the report mount is not skipped", got)
	}
	if got := containerMounts(Spec{Root: t.TempDir(), ReportDir: "/x/y"}); got != nil {
		t.Errorf("with the image elsewhere than /, nothing is a container mount: %v", got)
	}
}
