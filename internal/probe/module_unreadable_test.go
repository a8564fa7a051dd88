package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/opensslconf"
	"golang.org/x/sys/unix"
)

// A fips.so that cannot be read fails the presence check with the reason
// (a FIFO, a device, too large), not as if there were no module.
func TestUnreadableModuleSaysWhy(t *testing.T) {
	dir := t.TempDir()
	mods := filepath.Join(dir, "usr/lib/ossl-modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(mods, "fips.so"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := inspectModule(imagefs.Root{Dir: dir}, nil, &OpenSSLFacts{ModulesDir: "/usr/lib/ossl-modules"}, opensslconf.Provider{Name: "fips"}, true, opensslconf.Summary{})
	checks := moduleChecks(m, false)
	want := "the FIPS provider module cannot be read: /usr/lib/ossl-modules/fips.so is a FIFO (named pipe), not a regular file"
	if len(checks) != 1 || checks[0].Status != Failed || !strings.Contains(checks[0].Detail, want) {
		t.Errorf("checks = %+v\nwant one failed check saying %q", checks, want)
	}
}
