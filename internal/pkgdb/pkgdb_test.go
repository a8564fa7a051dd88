package pkgdb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"golang.org/x/sys/unix"
)

// fixture copies testdata/<name> into a fresh root, where a test may
// break it further.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// debianRoot is testdata/debian with a Multi-Arch: same package's list,
// whose name (libssl3t64:amd64.list) a Go module may not hold.
func debianRoot(t *testing.T) string {
	root := fixture(t, "debian")
	write(t, root, "var/lib/dpkg/info/libssl3t64:amd64.list", "/.\n/usr/lib/x86_64-linux-gnu/libcrypto.so.3\n/usr/lib/x86_64-linux-gnu/libssl.so.3\nnot/absolute\n")
	return root
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOwners(t *testing.T) {
	for _, tc := range []struct {
		name  string
		root  func(t *testing.T) string
		file  string
		owner []Package
		purl  string
	}{
		{"dpkg", debianRoot, "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so",
			[]Package{{Dpkg, "openssl-provider-fips", "3.5.9-1~deb13u1", "amd64"}},
			"pkg:deb/debian/openssl-provider-fips@3.5.9-1~deb13u1?arch=amd64&distro=debian-13"},
		// Listed before the /usr merge, looked up after it.
		{"dpkg, multi-arch, merged /usr", debianRoot, "/lib/x86_64-linux-gnu/libcrypto.so.3",
			[]Package{{Dpkg, "libssl3t64", "3.5.9-1~deb13u1", "amd64"}},
			"pkg:deb/debian/libssl3t64@3.5.9-1~deb13u1?arch=amd64&distro=debian-13"},
		{"apk", func(t *testing.T) string { return fixture(t, "wolfi") }, "/usr/lib/ossl-modules/fips.so",
			[]Package{{Apk, "openssl-provider-fips-3.4.0", "3.4.0-r5", "x86_64"}},
			"pkg:apk/wolfi/openssl-provider-fips-3.4.0@3.4.0-r5?arch=x86_64&distro=wolfi-20230201"},
		{"unlisted", debianRoot, "/usr/local/lib/fips.so", []Package{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := imagefs.Root{Dir: tc.root(t)}
			db := Read(root)
			if len(db.Problems) > 0 {
				t.Errorf("problems: %q", db.Problems)
			}
			got := db.Owners(tc.file)
			if !reflect.DeepEqual(got, tc.owner) {
				t.Fatalf("Owners = %+v, want %+v", got, tc.owner)
			}
			o, err := ReadOSRelease(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 {
				if p := got[0].PURL(o); p != tc.purl {
					t.Errorf("purl %s, want %s", p, tc.purl)
				}
			}
		})
	}
}

// The databases are the image's: FIFOs, devices, files past the limits
// and symlinks out of the root are refused, never waited on or followed.
func TestHostileDatabases(t *testing.T) {
	t.Run("fifo status", func(t *testing.T) {
		root := debianRoot(t)
		os.Remove(filepath.Join(root, "var/lib/dpkg/status"))
		if err := unix.Mkfifo(filepath.Join(root, "var/lib/dpkg/status"), 0o644); err != nil {
			t.Fatal(err)
		}
		db := Read(imagefs.Root{Dir: root})
		if len(db.Problems) != 1 || !strings.Contains(db.Problems[0], "FIFO") {
			t.Errorf("problems: %q", db.Problems)
		}
		// The lists still say who owns the file; without a status, not
		// which version.
		if got := db.Owners("/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"); len(got) != 1 || got[0].Name != "openssl-provider-fips" || got[0].Version != "" {
			t.Errorf("owners: %+v", got)
		}
	})
	t.Run("list out of the root", func(t *testing.T) {
		root := debianRoot(t)
		outside := filepath.Join(t.TempDir(), "evil.list")
		write(t, filepath.Dir(outside), "evil.list", "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so\n")
		if err := os.Symlink(outside, filepath.Join(root, "var/lib/dpkg/info/evil.list")); err != nil {
			t.Fatal(err)
		}
		db := Read(imagefs.Root{Dir: root})
		if got := db.Owners("/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"); len(got) != 1 || got[0].Name != "openssl-provider-fips" {
			t.Errorf("a list outside the root was read: %+v", got)
		}
	})
	t.Run("sparse apk database", func(t *testing.T) {
		root := fixture(t, "wolfi")
		if err := os.Truncate(filepath.Join(root, "lib/apk/db/installed"), MaxFileLists+1); err != nil {
			t.Fatal(err)
		}
		db := Read(imagefs.Root{Dir: root})
		if db.HasFiles() || len(db.Problems) != 1 || !strings.Contains(db.Problems[0], "file too large") {
			t.Errorf("files %v, problems %q", db.HasFiles(), db.Problems)
		}
	})
	t.Run("device os-release", func(t *testing.T) {
		root := fixture(t, "wolfi")
		os.Remove(filepath.Join(root, "etc/os-release"))
		if err := os.Symlink("/dev/zero", filepath.Join(root, "etc/os-release")); err != nil {
			t.Fatal(err)
		}
		// /dev/zero inside the root does not exist: nothing is read.
		o, err := ReadOSRelease(imagefs.Root{Dir: root})
		if o != (OSRelease{}) || err != nil {
			t.Errorf("os-release %+v, %v", o, err)
		}
	})
	t.Run("lying os-release", func(t *testing.T) {
		root := fixture(t, "wolfi")
		write(t, root, "etc/os-release", "ID=\"Evil/../x?y#z\"\nVERSION_ID=1&arch=s390x\n")
		o, err := ReadOSRelease(imagefs.Root{Dir: root})
		if err != nil {
			t.Fatal(err)
		}
		p := Package{Apk, "openssl", "3.4.0-r5", "x86_64"}.PURL(o)
		if p != "pkg:apk/evil..xyz/openssl@3.4.0-r5?arch=x86_64&distro=evil..xyz-1archs390x" {
			t.Errorf("purl %s", p)
		}
	})
}

func TestRPMIsRecognisedNotRead(t *testing.T) {
	root := t.TempDir()
	write(t, root, "var/lib/rpm/rpmdb.sqlite", "SQLite format 3\x00")
	db := Read(imagefs.Root{Dir: root})
	if db.RPM != "/var/lib/rpm/rpmdb.sqlite" || db.HasFiles() {
		t.Errorf("rpm %q, files %v", db.RPM, db.HasFiles())
	}
}
