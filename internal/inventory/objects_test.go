package inventory

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// An object file is never loaded: the crypto library code it carries is
// not the image's until something links it, and that is judged then.
func TestObjectFilesAreNotLoaded(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(t.TempDir(), "nettle.c")
	if err := os.WriteFile(src, []byte("void nettle_sha256_init(void *c) { (void)c; }\nint main(void) { nettle_sha256_init(0); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"usr/lib/obj", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"-c", "-o", filepath.Join(root, "usr/lib/obj/nettle.o"), src},
		{"-rdynamic", "-o", filepath.Join(root, "usr/bin/nettle-inside"), src},
	} {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	inv, err := Scan(imagefs.Root{Dir: root}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := findingsByPath(inv)
	if fs := got["/usr/lib/obj/nettle.o"]; len(fs) != 0 {
		t.Errorf("the object file: %+v", fs)
	}
	if fs := got["/usr/bin/nettle-inside"]; len(fs) != 1 || fs[0].Kind != KindEmbeddedCrypto {
		t.Errorf("the program that links it: %+v (the test shows nothing without it)", fs)
	}
}
