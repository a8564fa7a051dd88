package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// judgeModuleIdentity holds what the active FIPS provider reported against
// the module the static checks read, and judges the CMVP status on the
// identity that survives.
func TestJudgeModuleIdentity(t *testing.T) {
	chainguard := fipsmodule.Info{Size: 1, SHA256: "ab", Name: "Chainguard FIPS Provider for OpenSSL", Version: "3.4.0",
		Names: []string{"Chainguard FIPS Provider for OpenSSL"}, Versions: []string{"3.4.0", "3.4.0-r5"}}
	debian := fipsmodule.Info{Size: 1, SHA256: "cd", Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9",
		Names: []string{"OpenSSL FIPS Provider"}, Versions: []string{"3.5.9"}}
	twoNames := fipsmodule.Info{Size: 1, SHA256: "ef", Name: "OpenSSL FIPS Provider", Version: "3.1.2",
		Names: []string{"OpenSSL FIPS Provider", "Chainguard FIPS Provider for OpenSSL"}, Versions: []string{"3.1.2", "3.4.0"}}
	// More name and version strings than fipsgate keeps: that the module
	// carries the reported identity shows nothing.
	stuffed := fipsmodule.Info{Size: 1, SHA256: "12", Name: "OpenSSL FIPS Provider", Version: "3.1.2", Truncated: true,
		Names: []string{"OpenSSL FIPS Provider"}, Versions: []string{"3.1.2"}}
	for _, tc := range []struct {
		name      string
		info      fipsmodule.Info
		listed    *fipsmodule.Identity
		required  bool
		identity  fipsmodule.Identity
		confirmed bool
		check     string // the module-identity check's status, "" for none
		cmvp      string // the cmvp-validated check's status
		reason    string
	}{
		{"confirmed, vendor certificate", chainguard, &fipsmodule.Identity{Name: "Chainguard FIPS Provider for OpenSSL", Version: "3.4.0", Build: "3.4.0-r5"}, true,
			fipsmodule.Identity{Name: "Chainguard FIPS Provider for OpenSSL", Version: "3.4.0", Build: "3.4.0-r5"}, true, Passed, Passed, "#5132"},
		{"confirmed, not validated", debian, &fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, false,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, true, Passed, Warning, "reports version 3.5.9, which none of them covers"},
		{"required and not validated", debian, &fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, true,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, true, Passed, Failed, "none of them covers"},
		// openssl claims the validated release the module does not carry:
		// another module is loaded, or openssl lies.
		{"claims another identity", debian, &fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.1.2", Build: "3.1.2"}, true,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, false, Failed, Failed, "identity is in doubt"},
		// The provider's report settles which of the module's names it is.
		{"settles a doubt", twoNames, &fipsmodule.Identity{Name: "Chainguard FIPS Provider for OpenSSL", Version: "3.4.0"}, false,
			fipsmodule.Identity{Name: "Chainguard FIPS Provider for OpenSSL", Version: "3.4.0"}, true, Passed, Passed, "#5132"},
		{"stuffed module", stuffed, &fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.1.2", Build: "3.1.2"}, false,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.1.2"}, false, "", Warning, "identity is in doubt"},
		{"no openssl, doubt", twoNames, nil, false,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.1.2"}, false, "", Warning, "2 provider names"},
		{"no openssl, read from the module", debian, nil, false,
			fipsmodule.Identity{Name: "OpenSSL FIPS Provider", Version: "3.5.9", Build: "3.5.9"}, false, "", Warning, "none of them covers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &ModuleFacts{Path: "/usr/lib/ossl-modules/fips.so", Info: tc.info}
			m.Validation = staticValidation(tc.info)
			r := Reports{
				Static:   &Report{Kind: KindStatic, Module: m, Checks: []Check{cmvpCheck(m.Validation, tc.required)}},
				SelfTest: &Report{Kind: KindSelfTest, Provider: tc.listed, Checks: []Check{{Name: "provider-active", Status: NotRun, Detail: "the image has no openssl command in its PATH"}}},
			}
			judgeModuleIdentity(&r)
			if m.Identity == nil || m.Identity.Identity != tc.identity || m.Identity.Confirmed != tc.confirmed {
				t.Errorf("identity %+v, want %+v (confirmed %v)", m.Identity, tc.identity, tc.confirmed)
			}
			if got := checkStatus(r.SelfTest, moduleIdentityCheck); got != tc.check {
				t.Errorf("module-identity %q, want %q", got, tc.check)
			}
			if got := checkStatus(r.Static, cmvpCheckName); got != tc.cmvp {
				t.Errorf("cmvp-validated %q, want %q", got, tc.cmvp)
			}
			if !strings.Contains(m.Reasoning(), tc.reason) {
				t.Errorf("reasoning %q, want %q in it", m.Reasoning(), tc.reason)
			}
			if tc.listed == nil && !strings.Contains(m.Identity.How, "not confirmed at run time: openssl did not list the active provider (the image has no openssl command") {
				t.Errorf("how: %s", m.Identity.How)
			}
		})
	}
}

func checkStatus(r *Report, name string) string {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// The package that installed the module, from the image's dpkg database,
// named by its package URL; and what is said when no database names it.
func TestModulePackage(t *testing.T) {
	const module = "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so"
	image := func(t *testing.T, files map[string]string) imagefs.Root {
		root := t.TempDir()
		for name, content := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return imagefs.Root{Dir: root}
	}
	debian := map[string]string{
		module:                "fips",
		"var/lib/dpkg/status": "Package: openssl-provider-fips\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.5.9-1~deb13u1\n",
		"var/lib/dpkg/info/openssl-provider-fips.list": "/.\n" + module + "\n",
		"etc/os-release": "ID=debian\nVERSION_ID=\"13\"\n",
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		purl   string
		reason string
	}{
		{"dpkg", debian, "pkg:deb/debian/openssl-provider-fips@3.5.9-1~deb13u1?arch=amd64&distro=debian-13", "its claim is evidence, not proof"},
		{"copied in", map[string]string{module: "fips", "var/lib/dpkg/status": debian["var/lib/dpkg/status"], "var/lib/dpkg/info/other.list": "/usr/bin/other\n"}, "", "installed by other means"},
		{"rpm", map[string]string{module: "fips", "var/lib/rpm/rpmdb.sqlite": "SQLite format 3\x00"}, "", "rpm database (/var/lib/rpm/rpmdb.sqlite), which fipsgate does not read"},
		{"distroless", map[string]string{module: "fips"}, "", "no package database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := modulePackage(image(t, tc.files), &ModuleFacts{Path: module, RealPath: module})
			if p.PURL != tc.purl || p.Found != (tc.purl != "") || !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("package %+v", p)
			}
		})
	}
}
