package probe

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
)

// fakeImage writes a root filesystem laid out like Debian's: a libcrypto
// naming its directories, a FIPS module, and the given configuration.
func fakeImage(t *testing.T, openssl, fipsmoduleCnf string) string {
	t.Helper()
	return fakeImageOf(t, "3.1.2", openssl, fipsmoduleCnf)
}

// fakeImageOf is fakeImage with a FIPS module of the given version.
func fakeImageOf(t *testing.T, version, openssl, fipsmoduleCnf string) string {
	t.Helper()
	root := t.TempDir()
	module := []byte("\x7fELF\x00OpenSSL FIPS Provider\x00OpenSSL " + version + " 1 Aug 2023\x00")
	info, err := fipsmodule.Inspect(bytes.NewReader(module))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"lib/x86_64-linux-gnu/libcrypto.so.3":           "\x00OPENSSLDIR: \"/usr/lib/ssl\"\x00MODULESDIR: \"/usr/lib/x86_64-linux-gnu/ossl-modules\"\x00",
		"usr/lib/x86_64-linux-gnu/ossl-modules/fips.so": string(module),
		"etc/ssl/openssl.cnf":                           openssl,
		"etc/ssl/fipsmodule.cnf":                        strings.ReplaceAll(fipsmoduleCnf, "$MAC", info.MAC),
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/ssl"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/ssl/openssl.cnf", filepath.Join(root, "usr/lib/ssl/openssl.cnf")); err != nil {
		t.Fatal(err)
	}
	return root
}

const goodConfig = `config_diagnostics = 1
openssl_conf = openssl_init
.include /etc/ssl/fipsmodule.cnf
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
fips = fips_sect
base = base_sect
[base_sect]
activate = 1
[algorithm_sect]
default_properties = fips=yes
`

const goodModuleCnf = "[fips_sect]\nactivate = 1\nmodule-mac = $MAC\n"

func statuses(r *Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.Name] = c.Status
	}
	return m
}

func TestStatic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		version   string // of the module; 3.1.2, validated, if empty
		config    string
		moduleCnf string
		env       []string
		require   bool
		want      map[string]string
	}{
		{
			name: "FIPS configured", config: goodConfig, moduleCnf: goodModuleCnf,
			want: map[string]string{"openssl-config": Passed, "fips-provider-activated": Passed, "base-provider-activated": Passed,
				"no-other-provider": Passed, "fips-default-properties": Passed, "config-diagnostics": Passed,
				"fips-module-present": Passed, "module-mac": Passed, "cmvp-validated": Passed},
		},
		{
			name: "MAC of another module", config: goodConfig, moduleCnf: "[fips_sect]\nactivate = 1\nmodule-mac = 00:11:22\n",
			want: map[string]string{"module-mac": Failed},
		},
		{
			name: "embedded MAC", config: goodConfig, moduleCnf: "[fips_sect]\nactivate = 1\n",
			want: map[string]string{"module-mac": NotRun, "fips-provider-activated": Passed},
		},
		{
			name: "default provider beside fips", config: strings.Replace(goodConfig, "base = base_sect", "base = base_sect\ndefault = default_sect\n[default_sect]\nactivate = 1", 1), moduleCnf: goodModuleCnf,
			want: map[string]string{"no-other-provider": Failed},
		},
		{
			name: "optional fips property and no diagnostics", config: strings.Replace(strings.Replace(goodConfig, "fips=yes", "?fips=yes", 1), "config_diagnostics = 1\n", "", 1), moduleCnf: goodModuleCnf,
			want: map[string]string{"fips-default-properties": Failed, "config-diagnostics": Warning},
		},
		{
			name: "missing fipsmodule.cnf include", config: strings.Replace(goodConfig, "/etc/ssl/fipsmodule.cnf", "/etc/ssl/nope.cnf", 1), moduleCnf: goodModuleCnf,
			want: map[string]string{"openssl-config": Failed, "fips-provider-activated": Failed},
		},
		{
			name: "OPENSSL_CONF points elsewhere", config: goodConfig, moduleCnf: goodModuleCnf, env: []string{"OPENSSL_CONF=/etc/ssl/none.cnf"},
			want: map[string]string{"openssl-config": Failed},
		},
		{
			name: "validated version required", config: goodConfig, moduleCnf: goodModuleCnf, require: true,
			want: map[string]string{"cmvp-validated": Passed},
		},
		{
			name: "unvalidated version required", version: "3.5.9", config: goodConfig, moduleCnf: goodModuleCnf, require: true,
			want: map[string]string{"cmvp-validated": Failed, "module-mac": Passed},
		},
		{
			name: "unvalidated version not required", version: "3.5.9", config: goodConfig, moduleCnf: goodModuleCnf,
			want: map[string]string{"cmvp-validated": Warning, "module-mac": Passed},
		},
		{
			// Once validated, no longer an active FIPS 140-3 validation.
			name: "historical version required", version: "3.0.9", config: goodConfig, moduleCnf: goodModuleCnf, require: true,
			want: map[string]string{"cmvp-validated": Failed},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := tc.version
			if version == "" {
				version = "3.1.2"
			}
			root := fakeImageOf(t, version, tc.config, tc.moduleCnf)
			r := staticReport(Spec{Root: root, Image: Image{Env: tc.env}, RequireValidated: tc.require})
			got := statuses(r)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: %s, want %s (report %+v)", name, got[name], want, r.Checks)
				}
			}
			if r.Module == nil || r.Module.Version != version {
				t.Fatalf("module %+v, want version %s", r.Module, version)
			}
			// The check fails the verdict only when required; its detail
			// says which version, and why.
			for _, c := range r.Checks {
				if c.Name == "cmvp-validated" && (c.Required != tc.require || !strings.Contains(c.Detail, "version "+version)) {
					t.Errorf("cmvp-validated: required %v, detail %q", c.Required, c.Detail)
				}
			}
		})
	}
}

func TestStaticFindsPathsForTheNegativeTests(t *testing.T) {
	root := fakeImage(t, goodConfig, goodModuleCnf)
	r := staticReport(Spec{Root: root})
	m := r.Module
	if m.RealPath != "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so" || m.RealConfig != "/etc/ssl/fipsmodule.cnf" ||
		m.Section != "fips_sect" || !strings.Contains(m.ConfigContent, "module-mac") || !m.MACVerified || m.Version != "3.1.2" {
		t.Errorf("module facts: %+v", m)
	}
	if r.OpenSSL.ConfigFile != "/usr/lib/ssl/openssl.cnf" || r.OpenSSL.Libcrypto != "/lib/x86_64-linux-gnu/libcrypto.so.3" {
		t.Errorf("openssl facts: %+v", r.OpenSSL)
	}
}

// staticReport runs the static checks as Run does for RunStatic, under the
// environment of the image's processes.
func staticReport(spec Spec) *Report {
	spec.Image.Env = processEnv(spec)
	r := inspectOpenSSL(spec)
	addInventory(r, spec)
	return r
}

// OpenSSL expands $ENV::NAME from the environment of the process that
// loads the configuration: what it activates must not depend on it.
func TestStaticConfigDependsOnEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         string
	}{
		{"providers chosen by HOME", strings.Replace(goodConfig, "openssl_conf = openssl_init", "HOME = openssl_init\nopenssl_conf = $ENV::HOME", 1), Failed},
		// As Debian's stock configuration: HOME has a default.
		{"HOME in a section nothing loads", "HOME = .\n" + goodConfig + "[req]\ndir = $ENV::HOME/ca\n", Passed},
		// Without HOME, OpenSSL cannot expand it and drops the whole
		// configuration: a process started without it runs without FIPS.
		{"HOME needed to load", goodConfig + "[req]\ndir = $ENV::HOME/ca\n", Failed},
		// A relative include is read from OPENSSL_CONF_INCLUDE, or else the
		// working directory.
		{"relative include", strings.Replace(goodConfig, ".include /etc/ssl/fipsmodule.cnf", ".include fipsmodule.cnf", 1), Failed},
	} {
		root := fakeImage(t, tc.config, goodModuleCnf)
		r := staticReport(Spec{Root: root, Image: Image{WorkingDir: "/etc/ssl"}})
		if got := statuses(r)["config-environment"]; tc.want != "" && got != tc.want {
			t.Errorf("%s: config-environment %q, want %q: %+v", tc.name, got, tc.want, r.Checks)
		}
	}
}

// A configuration file that resolves into /proc says nothing of what the
// image's processes read there.
func TestStaticConfigInProc(t *testing.T) {
	root := fakeImage(t, strings.Replace(goodConfig, ".include /etc/ssl/fipsmodule.cnf", ".include /etc/ssl/env.cnf", 1), goodModuleCnf)
	if err := os.MkdirAll(filepath.Join(root, "proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/self/environ"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/environ", filepath.Join(root, "etc/ssl/env.cnf")); err != nil {
		t.Fatal(err)
	}
	r := staticReport(Spec{Root: root})
	if got := statuses(r)["openssl-config"]; got != Failed {
		t.Errorf("openssl-config %s: %+v", got, r.Checks)
	}
}

// Turning off what the FIPS provider enforces by default fails.
func TestStaticEnforcementTurnedOff(t *testing.T) {
	for cnf, want := range map[string]string{
		goodModuleCnf: Passed,
		"[fips_sect]\nactivate = 1\nsecurity-checks = 1\nhmac-key-check = 0\nmodule-mac = $MAC\n":     Passed,
		"[fips_sect]\nactivate = 1\nsecurity-checks = 0\nmodule-mac = $MAC\n":                         Failed,
		"[fips_sect]\nactivate = 1\npbkdf2-lower-bound-check = 0\nmodule-mac = $MAC\n":                Failed,
		"[fips_sect]\nactivate = 1\nconditional-errors = 0\nsecurity-checks = 1\nmodule-mac = $MAC\n": Failed,
	} {
		r := staticReport(Spec{Root: fakeImage(t, goodConfig, cnf)})
		if got := statuses(r)["fips-enforcement"]; got != want {
			t.Errorf("%q: fips-enforcement %s, want %s", cnf, got, want)
		}
	}
}

// Configurations an adversarial review found read as FIPS by the static
// checks and not by OpenSSL 3.5.9.
func TestStaticProvidersAsOpenSSLFindsThem(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		check        string
	}{
		{"the built-in default provider named after fips.so",
			strings.Replace(goodConfig, "base = base_sect\n", "base = base_sect\ndefault = default_sect\n[default_sect]\nactivate = 1\nmodule = fips.so\n", 1), "no-other-provider"},
		{"a second FIPS provider",
			strings.Replace(goodConfig, "base = base_sect\n", "base = base_sect\nfips2 = fips2_sect\n[fips2_sect]\nactivate = 1\nmodule = /opt/other/fips.so\n", 1), "no-other-provider"},
		{"fips!=maybe as the default property",
			strings.Replace(goodConfig, "default_properties = fips=yes", "default_properties = fips!=maybe", 1), "fips-default-properties"},
		{"an entry that is not activated lends its settings",
			strings.Replace(goodConfig, "fips = fips_sect\n", "stub.fips = fips_stub\nfips = fips_sect\n", 1) + "[fips_stub]\nactivate = 0\nsecurity-checks = 0\n", "openssl-config"},
	} {
		r := staticReport(Spec{Root: fakeImage(t, tc.config, goodModuleCnf)})
		if got := statuses(r)[tc.check]; got != Failed {
			t.Errorf("%s: %s %s", tc.name, tc.check, got)
		}
	}
}
