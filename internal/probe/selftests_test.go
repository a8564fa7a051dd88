package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// opensslOutput reads what OpenSSL printed (testdata/openssl/README.md).
func opensslOutput(t *testing.T, name string) string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join("testdata", "openssl", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(dt)
}

func exited(code int) outcome {
	return outcome{ExitCode: &code}
}

// The module-mac the debian-fips image's fipsmodule.cnf holds, the one
// fipsinstall-3.5.9.txt computes.
const debianFIPSMAC = "23:F5:1F:F4:32:6E:32:6D:22:7D:CB:C3:96:F5:A0:95:63:C7:5E:35:38:B3:8C:60:C9:E1:F5:FA:A8:EE:74:5C"

func TestParseSelfTests(t *testing.T) {
	tests, problems := parseSelfTests([]byte(opensslOutput(t, "fipsinstall-3.5.9.txt")), false)
	if len(problems) > 0 {
		t.Errorf("problems: %q", problems)
	}
	if len(tests) != 41 {
		t.Fatalf("%d self-tests, want the 41 OpenSSL 3.5.9 runs", len(tests))
	}
	if first, last := tests[0], tests[40]; first != (SelfTest{"HMAC", "KAT_Integrity", "Pass"}) || last != (SelfTest{"RSA_Decrypt", "KAT_AsymmetricCipher", "Pass"}) {
		t.Errorf("first %+v, last %+v: not in the order they ran", first, last)
	}
	for _, want := range []SelfTest{{"HMAC", "Module_Integrity", "Pass"}, {"SHA2", "KAT_Digest", "Pass"}, {"ML-KEM", "KAT_AsymmetricKeyGeneration", "Pass"}, {"SLH-DSA", "KAT_Signature", "Pass"}} {
		found := false
		for _, got := range tests {
			found = found || got == want
		}
		if !found {
			t.Errorf("no %+v", want)
		}
	}
}

// A self-test passes the check only as OpenSSL prints a passed one, among
// the others, from a run that loaded the module; anything else in their
// shape, or missing, fails it.
func TestSelfTestsCheck(t *testing.T) {
	good := opensslOutput(t, "fipsinstall-3.5.9.txt")
	changed := opensslOutput(t, "fipsinstall-3.5.9-module-changed.txt")
	block := good[:strings.Index(good, "\tname:")]
	for _, tc := range []struct {
		name      string
		out       string
		o         outcome
		truncated bool
		want      string // "" for passed, else in the detail
		tests     int
	}{
		{"as OpenSSL 3.5.9 prints them", good, exited(0), false, "", 41},
		{"OpenSSL's own corruption of SHA2", opensslOutput(t, "fipsinstall-3.5.9-corrupt-sha2.txt"), exited(1), false, `"SHA2 : (KAT_Digest) : Corrupt Fail", is not a self-test result`, 40},
		{"a changed module", changed, exited(1), false, "FAILED: RSA (KAT_Signature)", 41},
		{"a changed module, exit status 0", changed, exited(0), false, "FAILED: RSA (KAT_Signature)", 41},
		{"a Fail then a Pass of the same test", strings.Replace(changed, "RSA : (KAT_Signature) : Fail\n", "RSA : (KAT_Signature) : Fail\nRSA : (KAT_Signature) : Pass\n", 1), exited(0), false, "FAILED: RSA", 42},
		{"every test passed, the module did not load", strings.Replace(changed, ": Fail", ": Pass", 1), exited(1), false, "did not load", 41},
		{"the module did not load at all", opensslOutput(t, "fipsinstall-3.5.9-other-name.txt"), exited(1), false, "printed no self-test", 0},
		{"nothing printed", "", exited(0), false, "printed no self-test", 0},
		{"INSTALL PASSED alone", "INSTALL PASSED\n", exited(0), false, "printed no self-test", 0},
		{"garbage", "\x00\xff\xfe : (\x01) : Pass\n\x7fELF", exited(0), false, "is not a self-test result", 0},
		{"a Pass after the rest", good + "SHA2 : (KAT_Digest) : Pass\n", exited(0), false, "apart from the others", 41},
		{"a Pass before the rest", "SHA2 : (KAT_Digest) : Pass\nwarming up\n" + good, exited(0), false, "apart from the others", 1},
		{"the integrity test left out", strings.Replace(good, "HMAC : (Module_Integrity) : Pass\n", "", 1), exited(0), false, "no self-test of kind Module_Integrity", 40},
		{"digests only", "SHA2 : (KAT_Digest) : Pass\nINSTALL PASSED\n", exited(0), false, "Module_Integrity, KAT_Cipher, KAT_Signature, KAT_KDF, KAT_KA, DRBG", 1},
		{"indented", strings.Replace(good, "SHA2 : (KAT_Digest) : Pass", "  SHA2 : (KAT_Digest) : Pass", 1), exited(0), false, "not a self-test result", 40},
		{"a word after Pass", strings.Replace(good, "SHA2 : (KAT_Digest) : Pass", "SHA2 : (KAT_Digest) : Pass (not really)", 1), exited(0), false, "not a self-test result", 40},
		{"lower case", strings.Replace(good, "SHA2 : (KAT_Digest) : Pass", "SHA2 : (KAT_Digest) : pass", 1), exited(0), false, "not a self-test result", 40},
		{"a carriage return", strings.Replace(good, "SHA2 : (KAT_Digest) : Pass", "SHA2 : (KAT_Digest) : Pass\r", 1), exited(0), false, "not a self-test result", 40},
		{"a blank in the description", strings.Replace(good, "SHA2 : (KAT_Digest) : Pass", "SHA 2 : (KAT_Digest) : Pass", 1), exited(0), false, "not a self-test result", 40},
		{"over the output kept", good, exited(0), true, "over 64 KiB", 41},
		{"more tests than any module runs", strings.Repeat("SHA2 : (KAT_Digest) : Pass\n", MaxSelfTests+1) + block, exited(0), false, "more than 512 self-tests", MaxSelfTests},
		{"a flood of malformed lines", strings.Repeat("x : (y) : maybe\n", 10000), exited(0), false, "and 9995 more", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Output, o.Truncated = []byte(tc.out), tc.truncated
			c, st := selfTestsCheck(Check{Name: CheckSelfTests, Required: true}, o)
			if (tc.want == "") != (c.Status == Passed) || !strings.Contains(c.Detail, tc.want) {
				t.Errorf("%s: %s", c.Status, c.Detail)
			}
			if st == nil || st.Tests == nil || len(st.Tests) != tc.tests {
				t.Errorf("evidence %+v, want %d tests (never null)", st, tc.tests)
			}
			if len(c.Detail) > 4096 {
				t.Errorf("detail of %d bytes", len(c.Detail))
			}
		})
	}
}

func TestFipsinstallMACCheck(t *testing.T) {
	good := opensslOutput(t, "fipsinstall-3.5.9.txt")
	m := &ModuleFacts{RealPath: "/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so", Config: "/etc/ssl/fipsmodule.cnf", ConfiguredMAC: debianFIPSMAC}
	other := *m
	other.ConfiguredMAC = strings.Replace(debianFIPSMAC, "23:F5", "23:F6", 1)
	lower := *m
	lower.ConfiguredMAC = strings.ToLower(strings.ReplaceAll(debianFIPSMAC, ":", ""))
	for _, tc := range []struct {
		name string
		out  string
		o    outcome
		m    *ModuleFacts
		want string
	}{
		{"the configured MAC", good, exited(0), m, ""},
		{"the configured MAC, written otherwise", good, exited(0), &lower, ""},
		{"another MAC configured", good, exited(0), &other, "MISMATCH"},
		{"it failed", good, exited(1), m, "exited with status 1"},
		{"no MAC printed", opensslOutput(t, "fipsinstall-3.5.9-other-name.txt"), exited(0), m, "printed 0 module-mac lines"},
		{"two MACs printed", good + "module-mac = " + debianFIPSMAC + "\n", exited(0), m, "printed 2 module-mac lines"},
		{"a MAC out of format", strings.Replace(good, "module-mac = 23:F5", "module-mac = 23:f5", 1), exited(0), m, "printed 0"},
		{"a MAC in the middle of a line", strings.Replace(good, "module-mac = ", "x module-mac = ", 1), exited(0), m, "printed 0"},
	} {
		o := tc.o
		o.Output = []byte(tc.out)
		c := fipsinstallMACCheck(Check{}, o, tc.m)
		if (tc.want == "") != (c.Status == Passed) || !strings.Contains(c.Detail, tc.want) {
			t.Errorf("%s: %s %s", tc.name, c.Status, c.Detail)
		}
	}
	truncated := exited(0)
	truncated.Output, truncated.Truncated = []byte(good), true
	if c := fipsinstallMACCheck(Check{}, truncated, m); c.Status != Failed {
		t.Errorf("truncated output: %s %s", c.Status, c.Detail)
	}
}

// fipsinstall loads a module by its provider name, NAME.so in the
// module's directory: only such a module loads as itself.
func TestFipsinstallName(t *testing.T) {
	for p, want := range map[string]string{
		"/usr/lib/x86_64-linux-gnu/ossl-modules/fips.so": "fips",
		"/opt/vendor/fips_3.so":                          "fips_3",
		"/opt/vendor/fips.so.3":                          "",
		"/opt/vendor/fips":                               "",
		"/opt/vendor/.so":                                "",
		"/opt/vendor/fips-3.so":                          "",
		"/opt/vendor/fips = x\n.so":                      "",
	} {
		name, ok := fipsinstallName(p)
		if ok != (want != "") || (ok && name != want) {
			t.Errorf("fipsinstallName(%q) = %q, %v; want %q", p, name, ok, want)
		}
	}
}
