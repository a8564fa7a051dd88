//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/inventory"
)

// fipsgateBinary builds the CLI once per test binary.
func fipsgateBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fipsgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fipsgate")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestScanCLI exports one image three ways — an unpacked root filesystem,
// an OCI layout directory, an OCI tar — and requires `fipsgate scan` to
// find the same thing in each, with exit status 1 for its failure.
func TestScanCLI(t *testing.T) {
	bin := fipsgateBinary(t)
	dir := testdata(t, "inventory")
	out := t.TempDir()
	common := []string{"build", "--progress=plain", "--frontend=dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--opt", "target=boring",
		"--opt", "build-arg:BUILDER=" + registry + "/fipsgate/gobuilder:trixie",
		"--opt", "build-arg:BASE=" + fipsBase(),
	}
	inputs := map[string][]string{
		"rootfs": {"--output", "type=local,dest=" + filepath.Join(out, "rootfs")},
		"layout": {"--output", "type=oci,tar=false,dest=" + filepath.Join(out, "layout")},
		"tar":    {"--output", "type=oci,dest=" + filepath.Join(out, "image.tar")},
	}
	paths := map[string]string{
		"rootfs": filepath.Join(out, "rootfs"),
		"layout": filepath.Join(out, "layout"),
		"tar":    filepath.Join(out, "image.tar"),
	}
	var first *inventory.Inventory
	for _, kind := range []string{"rootfs", "layout", "tar"} {
		r := execute(t, "", "buildctl", append(append([]string{}, common...), inputs[kind]...)...)
		mustSucceed(t, "exporting the "+kind, r)
		cmd := exec.Command(bin, "scan", "--json", paths[kind])
		stdout, err := cmd.Output()
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("%s: fipsgate scan exited with %v, want status 1 (a failure)\n%s", kind, err, stdout)
		}
		var inv inventory.Inventory
		if err := json.Unmarshal(stdout, &inv); err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, stdout)
		}
		found := false
		for _, f := range inv.Findings {
			if f.Path == "/usr/local/bin/app" && f.Kind == inventory.KindGoBoringCrypto && f.Severity == inventory.Failure {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no BoringCrypto failure for /usr/local/bin/app: %+v", kind, inv.Findings)
		}
		if first == nil {
			first = &inv
		} else if !reflect.DeepEqual(first.Findings, inv.Findings) {
			t.Errorf("%s: findings differ from the root filesystem's:\n%+v\n%+v", kind, inv.Findings, first.Findings)
		}
	}
	// The human table names the failure too.
	table, _ := exec.Command(bin, "scan", paths["tar"]).Output()
	if !strings.Contains(string(table), "FAILURE") || !strings.Contains(string(table), "go-boringcrypto") {
		t.Errorf("the table does not show the failure:\n%s", table)
	}
}
