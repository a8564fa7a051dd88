package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// What the image's processes leave in the output directory — a planted
// symlink where the result goes, a FIFO, a forged result — is gone, and the
// result is a new regular file there, never written through a link.
func TestWriteResultEmptiesTheOutput(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, "linux-amd64")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "linux-386"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "linux-386", "app.json"), []byte(`{"forged":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	res := &Result{Version: ReportVersion, Platform: "linux/amd64", Run: RunApp, Reports: []*Report{{Kind: KindSelfTest}}}
	if err := writeResult(out, res); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("written through the planted symlink: %v", entries)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "linux-amd64" || !entries[0].IsDir() {
		t.Errorf("output directory holds %v", entries)
	}
	p := filepath.Join(dir, "linux-amd64", "app.json")
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("result: %v %v", st, err)
	}
	dt, _ := os.ReadFile(p)
	if _, err := DecodeResult(dt, "linux/amd64", RunApp); err != nil {
		t.Error(err)
	}
}

// The spec is gone before anything of the image runs.
func TestReadSpecRemovesIt(t *testing.T) {
	dir := t.TempDir()
	dt, _ := json.Marshal(Spec{Platform: "linux/amd64", Run: MutationModuleCorrupted})
	if err := os.WriteFile(filepath.Join(dir, SpecName), dt, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	spec, err := readSpec(out, SpecName)
	if err != nil || spec.Run != MutationModuleCorrupted {
		t.Fatalf("%+v %v", spec, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, SpecName)); !os.IsNotExist(err) {
		t.Errorf("the spec is still there: %v", err)
	}
}
