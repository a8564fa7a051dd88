package probe

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
)

// The FIPS module's self-tests, as `openssl fipsinstall` prints them.
//
// Every process that loads the FIPS provider runs its self-tests (the
// module's integrity, then its known-answer tests), and refuses the module
// when one fails; only fipsinstall says which ran. It sets a self-test
// callback (OSSL_SELF_TEST_set_callback) before it loads the module, and
// prints each test as it goes (apps/fipsinstall.c, self_test_events, the
// same from 3.0 to 3.5): "DESC : (TYPE) : " when a test starts, "Pass" or
// "Fail" and a newline when it ends. It loads the module only to install
// it: -verify reads the configuration and never loads it. So the probe runs
// it as an installation that writes the configuration to its standard
// output, under OPENSSL_CONF=/dev/null (the module is loaded by fipsinstall
// alone, not first by the image's configuration, when no callback would
// print), and reads two things from what it prints: the self-tests, and the
// module-mac it computed over the module, which the probe compares with the
// configured one, as -verify compares them.
//
// What it prints is the image's program's word (opensslCommandCheck): the
// parsing is strict, and nothing in the text can turn a failure into a
// pass.

// Names of the checks the self-tests and the algorithm matrix are the
// evidence of, in the self-test report.
const (
	CheckSelfTests  = "self-tests"
	CheckAlgorithms = "algorithms"
)

// Self-test results, as OpenSSL names its phases (OSSL_SELF_TEST_PHASE_*).
const (
	SelfTestPass = "Pass"
	SelfTestFail = "Fail"
)

// MaxSelfTests bounds the self-tests read from one run: OpenSSL 3.5's
// module runs 41.
const MaxSelfTests = 512

// SelfTest is one self-test the FIPS module ran, as fipsinstall printed
// it: "SHA2 : (KAT_Digest) : Pass".
type SelfTest struct {
	// Description is what was tested (OSSL_SELF_TEST_DESC_*: "SHA2",
	// "AES_GCM", "ML-KEM"), Type the kind of test (OSSL_SELF_TEST_TYPE_*:
	// "KAT_Digest", "Module_Integrity").
	Description string `json:"description"`
	Type        string `json:"type"`
	Result      string `json:"result"`
}

// SelfTests are the self-tests of one run of the module, in the order it
// ran them.
type SelfTests struct {
	Tests []SelfTest `json:"tests"`
}

// RequiredSelfTests are the kinds of self-test every OpenSSL 3 FIPS module
// runs when it loads (providers/fips/self_test.c and self_test_kats.c,
// 3.0 to 3.5): the module's integrity, and known-answer tests of digests,
// ciphers, signatures, KDFs, key agreement and the DRBGs. A run that printed
// none of a kind did not run it, or did not say so: either way the
// evidence is missing, and the check fails. Kinds later releases added
// (KAT_Integrity, KAT_KEM, KAT_AsymmetricKeyGeneration, …) are recorded
// when they ran, not required.
var RequiredSelfTests = []string{"Module_Integrity", "KAT_Digest", "KAT_Cipher", "KAT_Signature", "KAT_KDF", "KAT_KA", "DRBG"}

// selfTestLine is one line the callback printed. Descriptions and types
// are OpenSSL's identifiers: no blanks, no punctuation but "_", "-", ".".
var selfTestLine = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]{0,63}) : \(([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\) : (Pass|Fail)$`)

// selfTestShape is what any line the callback prints contains.
const selfTestShape = " : ("

// parseSelfTests reads the self-tests from fipsinstall's output (standard
// output and error, as written): the tests in the order they ran, and what
// in the output cannot be taken. The callback prints the tests one after
// another while the module loads, before fipsinstall prints anything else:
// a line in their shape that is not exactly one ("SHA2 : (KAT_Digest) :
// Corrupt Fail", a trailing word, a leading blank), a test line apart from
// the others, more tests than MaxSelfTests, or output that did not fit in
// what was kept of it, is a problem, and problems fail the check.
func parseSelfTests(out []byte, truncated bool) (tests []SelfTest, problems []string) {
	tests = []SelfTest{}
	if truncated {
		problems = append(problems, fmt.Sprintf("its output is over %d KiB: its start, where the self-tests are, was not kept", outputCap>>10))
	}
	const (
		before = iota
		within
		after
	)
	state := before
	for i, line := range strings.Split(string(out), "\n") {
		m := selfTestLine.FindStringSubmatch(line)
		switch {
		case m != nil && state == after:
			problems = append(problems, fmt.Sprintf("line %d, %q, is a self-test apart from the others", i+1, clip(line)))
		case m != nil && len(tests) == MaxSelfTests:
			return tests, append(problems, fmt.Sprintf("more than %d self-tests", MaxSelfTests))
		case m != nil:
			tests = append(tests, SelfTest{Description: m[1], Type: m[2], Result: m[3]})
			state = within
		case strings.Contains(line, selfTestShape):
			// A self-test that cannot be read: the others are still
			// recorded, and the check fails.
			problems = append(problems, fmt.Sprintf("line %d, %q, is not a self-test result as OpenSSL prints one", i+1, clip(line)))
		case state == within:
			state = after
		}
	}
	return tests, problems
}

// maxProblems bounds the problems of the image's output a detail lists.
const maxProblems = 5

// clip bounds a line of the image's output quoted in a detail.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// selfTestsCheck judges a run of fipsinstall by its self-tests: it passes
// only when the module loaded (fipsinstall exited 0), every self-test it
// printed passed, every kind of RequiredSelfTests is among them, and
// nothing in the output was out of place.
func selfTestsCheck(c Check, o outcome) (Check, *SelfTests) {
	tests, problems := parseSelfTests(o.Output, o.Truncated)
	var failed []string
	kinds := map[string]int{}
	for _, t := range tests {
		kinds[t.Type]++
		if t.Result != SelfTestPass {
			failed = append(failed, t.Description+" ("+t.Type+")")
		}
	}
	var why []string
	if len(failed) > 0 {
		why = append(why, "FAILED: "+strings.Join(failed, ", "))
	}
	if !o.Ran() {
		why = append(why, "openssl fipsinstall "+o.Describe()+": the module did not load")
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	why = append(why, problems...)
	if len(tests) == 0 {
		why = append(why, "it printed no self-test: that the module ran its self-tests cannot be shown")
	} else {
		var missing []string
		for _, k := range RequiredSelfTests {
			if kinds[k] == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			why = append(why, "no self-test of kind "+strings.Join(missing, ", ")+" was printed: every OpenSSL 3 FIPS module runs them when it loads")
		}
	}
	evidence := &SelfTests{Tests: tests}
	// The output's excerpt is of the self-tests: the rest is the
	// fipsinstall-verify check's.
	var shaped []string
	for _, line := range strings.Split(string(o.Output), "\n") {
		if strings.Contains(line, selfTestShape) {
			shaped = append(shaped, line)
		}
	}
	c.Output = excerpt([]byte(strings.Join(shaped, "\n")), 12)
	if len(why) > 0 {
		c.Status, c.Detail = Failed, strings.Join(why, "; ")
		return c, evidence
	}
	var counts []string
	for k, n := range kinds {
		counts = append(counts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(counts)
	c.Status = Passed
	c.Detail = fmt.Sprintf("%d self-tests ran and passed: %s", len(tests), strings.Join(counts, ", "))
	return c, evidence
}

// fipsinstallMAC is a module-mac line of the configuration fipsinstall
// writes (print_mac: OPENSSL_buf2hexstr, upper case, bytes between colons;
// HMAC-SHA256 is 32 bytes, and no MAC OpenSSL offers is over 64).
var fipsinstallMAC = regexp.MustCompile(`^module-mac = ([0-9A-F]{2}(?::[0-9A-F]{2}){15,63})$`)

// fipsinstallMACCheck judges a run of fipsinstall by the module-mac it
// computed: exactly one, the one configured.
func fipsinstallMACCheck(c Check, o outcome, m *ModuleFacts) Check {
	if !o.Ran() {
		c.Status, c.Detail = Failed, "openssl fipsinstall "+o.Describe()
		return c
	}
	var macs []string
	if !o.Truncated {
		for _, line := range strings.Split(string(o.Output), "\n") {
			if mm := fipsinstallMAC.FindStringSubmatch(line); mm != nil {
				macs = append(macs, mm[1])
			}
		}
	}
	if len(macs) != 1 {
		c.Status, c.Detail = Failed, fmt.Sprintf("openssl fipsinstall printed %d module-mac lines, want the one of the configuration it writes", len(macs))
		return c
	}
	got, err := fipsmodule.NormalizeMAC(macs[0])
	want, werr := fipsmodule.NormalizeMAC(m.ConfiguredMAC)
	switch {
	case err != nil:
		c.Status, c.Detail = Failed, err.Error()
	case werr != nil:
		c.Status, c.Detail = Failed, "the configured "+werr.Error()
	case got != want:
		c.Status = Failed
		c.Detail = fmt.Sprintf("MISMATCH — openssl fipsinstall computes the module-mac %s for %s, %s configures %s", got, m.RealPath, m.Config, want)
	default:
		c.Status = Passed
		c.Detail = fmt.Sprintf("openssl fipsinstall computes for %s the module-mac %s configures: %s", m.RealPath, m.Config, got)
	}
	return c
}

// fipsinstallName is the provider name under which fipsinstall loads the
// module at p. The configuration it writes and loads names no module file:
// OpenSSL loads the provider's name with ".so" appended from the module's
// directory (DSO_convert_filename, DSO_FLAG_NAME_TRANSLATION_EXT_ONLY). So
// only a module whose file is NAME.so loads as itself; false for any other
// (another file would load, or none), and for a name the configuration
// fipsinstall writes could not hold as it is.
func fipsinstallName(p string) (string, bool) {
	name, ok := strings.CutSuffix(path.Base(p), ".so")
	return name, ok && providerName.MatchString(name)
}

var providerName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// sameRun is check c with the command and outcome another check of the same
// run recorded; what a check that did not run says is said for both.
func sameRun(c, from Check) Check {
	c.Command, c.Expect = from.Command, from.Expect
	c.ExitCode, c.Signal, c.TimedOut = from.ExitCode, from.Signal, from.TimedOut
	c.OutputSHA256, c.Output = from.OutputSHA256, from.Output
	if from.Status == NotRun {
		c.Status, c.Required, c.Detail = NotRun, false, from.Detail
	}
	return c
}
