package probe

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/inventory"
)

// TestJudgeObserved: a library the application dlopened, beyond its
// static reach, is judged as the reach is; one in the static reach is not
// reported twice.
func TestJudgeObserved(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "nettle.c")
	if err := os.WriteFile(src, []byte("void nettle_sha256_init(void *c) { (void)c; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(t.TempDir(), "app.c")
	if err := os.WriteFile(app, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"gcc", "-shared", "-fPIC", "-Wl,-soname,libnettle.so.8", "-o", filepath.Join(lib, "libnettle.so.8"), src},
		{"gcc", "-o", filepath.Join(root, "app"), app},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	spec := Spec{Root: root, App: []string{"/app"}}
	observed := []inventory.ReachEntry{
		{Path: "/app", Via: "executed by the application"},
		{Path: "/usr/lib/x86_64-linux-gnu/libnettle.so.8", Via: "mapped by /app"},
	}
	c, inv := judgeObserved(spec, &Report{}, observed, []string{"/usr/bin/hidden: not dumpable"})
	if c.Status != Failed || !strings.Contains(c.Detail, "libnettle.so.8") || !strings.Contains(c.Detail, inventory.KindCryptoLibrary) {
		t.Fatalf("check %s: %s", c.Status, c.Detail)
	}
	if len(inv.Reach.Entries) != 1 || !inv.Reach.Entries[0].Observed || inv.Reach.Entries[0].Path != "/usr/lib/x86_64-linux-gnu/libnettle.so.8" {
		t.Errorf("observed reach %+v, want libnettle alone", inv.Reach.Entries)
	}
	if len(inv.Reach.Unresolved) != 1 {
		t.Errorf("unobserved %q", inv.Reach.Unresolved)
	}
	c, _ = judgeObserved(spec, &Report{}, observed[:1], nil)
	if c.Status != Passed {
		t.Errorf("only the static reach observed: %s %s", c.Status, c.Detail)
	}
}
