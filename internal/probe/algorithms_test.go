package probe

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/opensslconf"
)

// fipsStatic is the static report of an image whose configuration
// requires fips=yes, with fips and base activated.
func fipsStatic(defaultProperties string) *Report {
	r := &Report{OpenSSL: &OpenSSLFacts{}}
	r.OpenSSL.Summary.DefaultProperties = defaultProperties
	for _, p := range []string{"base", "fips"} {
		r.OpenSSL.Summary.Providers = append(r.OpenSSL.Summary.Providers, opensslconf.Provider{Name: p, Activate: true})
	}
	return r
}

// listing30 is what OpenSSL 3.0 prints for the same lists: 3.1 added the
// blank line before every list but the first (apps/list.c, MAYBE_ADD_NL);
// 3.0 prints them one after another.
func listing30(out string) string {
	return strings.ReplaceAll(out, "\n\n", "\n")
}

// judgeListing runs the provider and algorithm checks on one listing, as
// opensslSelfTest does.
func judgeListing(out string, truncated bool, static *Report) (Check, Check, *Algorithms) {
	providers := Check{Name: "provider-active", Status: Passed}
	lists, section, err := splitListing([]byte(out), truncated)
	if err != nil {
		return Check{Status: Failed, Detail: err.Error()}, Check{Status: Failed, Detail: err.Error()}, nil
	}
	providers, _ = providerCheck(providers, section, static)
	key := ""
	if p := activeFIPS(listedProviders(section)); p != nil {
		key = p.key
	}
	a, m := algorithmsCheck(Check{Name: CheckAlgorithms, Required: true}, lists, key, static)
	return providers, a, m
}

func TestAlgorithmsOfOpenSSL35(t *testing.T) {
	providers, c, m := judgeListing(opensslOutput(t, "list-3.5.9.txt"), false, fipsStatic("fips=yes"))
	if providers.Status != Passed || c.Status != Passed {
		t.Fatalf("providers %s %s; algorithms %s %s", providers.Status, providers.Detail, c.Status, c.Detail)
	}
	if !strings.Contains(c.Detail, "144 algorithms served, all approved, by fips (digest 15, kdf 9, mac 5, cipher 50, signature 53, asymmetric-cipher 1, key-exchange 4, kem 7)") {
		t.Errorf("detail: %s", c.Detail)
	}
	for _, want := range []struct{ category, name string }{
		{CategoryDigest, "SHA2-256"}, {CategoryDigest, "SHA3-512"}, {CategoryMAC, "HMAC"}, {CategoryKDF, "HKDF"},
		{CategoryCipher, "AES-256-GCM"}, {CategorySignature, "ML-DSA-65"}, {CategorySignature, "SLH-DSA-SHA2-128s"},
		{CategoryKEM, "ML-KEM-768"}, {CategoryAsymCipher, "RSA"}, {CategoryKeyExchange, "ECDH"},
	} {
		a := serves(m.Served, want.category, want.name)
		if a == nil || !a.Approved || a.Provider != "fips" {
			t.Errorf("%s %s: %+v", want.category, want.name, a)
		}
	}
	if a := serves(m.Served, CategoryDigest, "SHA256"); a == nil || !slices.Equal(a.Names, []string{"SHA-256", "SHA2-256", "SHA256"}) {
		t.Errorf("SHA-256's names, without its object identifier: %+v", a)
	}
	if len(m.NonApproved) != len(nonApproved) {
		t.Errorf("%d non-approved algorithms looked for, want %d", len(m.NonApproved), len(nonApproved))
	}
	for _, n := range m.NonApproved {
		if !n.Refused {
			t.Errorf("%+v", n)
		}
	}
	// The same every time: openssl list leaves the order within a provider
	// to an unstable sort.
	_, _, again := judgeListing(reverseList(t, opensslOutput(t, "list-3.5.9.txt"), "Provided KDFs and PDFs:"), false, fipsStatic("fips=yes"))
	if !reflect.DeepEqual(m, again) {
		t.Errorf("the matrix depends on the order openssl lists in")
	}
	// Without -verbose, the same.
	_, c, brief := judgeListing(withoutDetails(opensslOutput(t, "list-3.5.9.txt")), false, fipsStatic("fips=yes"))
	if c.Status != Passed || !reflect.DeepEqual(m, brief) {
		t.Errorf("without -verbose: %s %s", c.Status, c.Detail)
	}
}

// reverseList reverses the order of the entries of the list under header,
// each with what -verbose says of it.
func reverseList(t *testing.T, out, header string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := slices.Index(lines, header) + 1
	end := start + slices.Index(lines[start:], "")
	var blocks [][]string
	for _, l := range lines[start:end] {
		if !strings.HasPrefix(l, "    ") {
			blocks = append(blocks, nil)
		}
		blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
	}
	if len(blocks) < 2 {
		t.Fatalf("%s lists %d entries", header, len(blocks))
	}
	slices.Reverse(blocks)
	return strings.Join(append(append(slices.Clone(lines[:start]), slices.Concat(blocks...)...), lines[end:]...), "\n")
}

// withoutDetails is a listing as openssl list prints it without -verbose.
func withoutDetails(out string) string {
	lines := strings.Split(out, "\n")
	algorithms := lines[:slices.Index(lines, "Providers:")]
	return strings.Join(slices.DeleteFunc(algorithms, func(l string) bool { return strings.HasPrefix(l, "    ") }), "\n") + "\n" + strings.Join(lines[len(algorithms):], "\n")
}

// withoutList is a listing without its nth list (counting from 0) of
// those OpenSSL 3.1 and later separate with blank lines.
func withoutList(out string, n int) string {
	at := strings.Index(out, "Providers:")
	lists := strings.Split(out[:at], "\n\n")
	return strings.Join(slices.Delete(lists, n, n+1), "\n\n") + out[at:]
}

// OpenSSL 3.0 does not separate the lists after its cipher header: they
// are one category there, and the verdict is the same.
func TestAlgorithmsOfOpenSSL30(t *testing.T) {
	_, c, m := judgeListing(listing30(opensslOutput(t, "list-3.5.9.txt")), false, fipsStatic("fips=yes"))
	if c.Status != Passed || !strings.Contains(c.Detail, "digest 15, kdf 9, mac 5, cipher-or-public-key 115") {
		t.Fatalf("%s: %s", c.Status, c.Detail)
	}
	if a := serves(m.Served, CategoryUnseparated, "ML-KEM-768"); a == nil || !a.Approved {
		t.Errorf("ML-KEM-768: %+v", a)
	}
}

// OpenSSL 3.0 itself, with its default provider: the lists are read, and
// the check fails.
func TestAlgorithmsOfOpenSSL30DefaultProvider(t *testing.T) {
	_, c, m := judgeListing(opensslOutput(t, "list-3.0.19-default-provider.txt"), false, fipsStatic(""))
	if c.Status != Failed || !strings.Contains(c.Detail, "NOT REFUSED (non-approved): MD5") || m == nil {
		t.Fatalf("%s: %s", c.Status, c.Detail)
	}
	if a := serves(m.Served, CategoryDigest, "MD5"); a == nil || a.Provider != "default" || a.Approved {
		t.Errorf("MD5: %+v", a)
	}
	if a := serves(m.Served, CategoryUnseparated, "X25519"); a == nil {
		t.Errorf("X25519 not among what follows the ciphers")
	}
}

// Without the FIPS configuration the default provider serves MD5 and the
// rest: the matrix says so, and the check fails.
func TestAlgorithmsOfTheDefaultProvider(t *testing.T) {
	out := opensslOutput(t, "list-3.5.9-default-provider.txt")
	_, c, m := judgeListing(out, false, fipsStatic(""))
	if c.Status != Failed || !strings.Contains(c.Detail, "no active FIPS provider") || !strings.Contains(c.Detail, "NOT REFUSED (non-approved): MD5, MD5-SHA1, RIPEMD-160") {
		t.Errorf("%s: %s", c.Status, c.Detail)
	}
	if a := serves(m.Served, CategoryDigest, "MD5"); a == nil || a.Approved || a.Provider != "default" {
		t.Errorf("MD5: %+v", a)
	}
	// Even were the listing's provider taken for the FIPS one.
	served, err := parseAlgorithms(must(splitListing([]byte(out), false)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ = algorithmsCheck(Check{}, must(splitListing([]byte(out), false)), "fips", fipsStatic("fips=yes"))
	if c.Status != Failed || !strings.Contains(c.Detail, "served by a provider other than fips: ") || len(served) < 200 {
		t.Errorf("%d served; %s: %s", len(served), c.Status, c.Detail)
	}
}

func must(lines []string, _ string, err error) []string {
	if err != nil {
		panic(err)
	}
	return lines
}

// The listing is read strictly: whatever is not as OpenSSL prints it fails
// the check, and nothing in it turns a failure into a pass.
func TestAlgorithmsCheckRefuses(t *testing.T) {
	good := opensslOutput(t, "list-3.5.9.txt")
	sha256 := "  { 2.16.840.1.101.3.4.2.1, SHA-256, SHA2-256, SHA256 } @ fips\n"
	var flood strings.Builder
	for i := range maxListed + 1 {
		fmt.Fprintf(&flood, "  ALG-%d @ fips\n", i)
	}
	for _, tc := range []struct {
		name      string
		out       string
		static    *Report
		truncated bool
		want      string
	}{
		{"MD5 served by the FIPS provider", strings.Replace(good, sha256, sha256+"  MD5 @ fips\n", 1), fipsStatic("fips=yes"), false, "NOT REFUSED (non-approved): MD5"},
		{"ChaCha20 among the ciphers", strings.Replace(good, "  AES-128-CFB1 @ fips\n", "  AES-128-CFB1 @ fips\n  chacha20-poly1305 @ fips\n", 1), fipsStatic("fips=yes"), false, "NOT REFUSED (non-approved): CHACHA20-POLY1305"},
		{"SHA-256 missing", strings.Replace(good, sha256, "", 1), fipsStatic("fips=yes"), false, "no approved SHA2-256"},
		{"SHA-256 served by another provider", strings.Replace(good, sha256, strings.Replace(sha256, "@ fips", "@ default", 1), 1), fipsStatic("fips=yes"), false, "served by a provider other than fips: SHA-256 @ default"},
		{"fips=yes not required", good, fipsStatic("?fips=yes"), false, "do not require fips=yes"},
		{"no FIPS provider active", strings.Replace(good, "    name: OpenSSL FIPS Provider\n    version: 3.5.9\n    status: active", "    name: OpenSSL FIPS Provider\n    version: 3.5.9\n    status: inactive", 1), fipsStatic("fips=yes"), false, "no active FIPS provider"},
		{"no providers section", strings.Replace(good, "Providers:\n", "", 1), fipsStatic("fips=yes"), false, "no Providers: section"},
		{"two providers sections", good + "Providers:\n", fipsStatic("fips=yes"), false, "both start a Providers: section"},
		{"truncated", good, fipsStatic("fips=yes"), true, "its start was not kept"},
		{"nothing", "", fipsStatic("fips=yes"), false, "no Providers: section"},
		{"providers alone", "Providers:\n  fips\n    name: OpenSSL FIPS Provider\n    status: active\n", fipsStatic("fips=yes"), false, "it ends before \"Provided:\", the header of the digest list"},
		{"an unknown header", strings.Replace(good, "Provided MACs:", "Provided MAGIC:", 1), fipsStatic("fips=yes"), false, `"Provided MAGIC:": want "Provided MACs:"`},
		{"a garbage line", strings.Replace(good, sha256, sha256+"garbage\n", 1), fipsStatic("fips=yes"), false, `"garbage": want a blank line before the kdf list`},
		{"an entry without a provider", strings.Replace(good, sha256, "  SHA2-256\n", 1), fipsStatic("fips=yes"), false, "not NAME @ PROVIDER"},
		{"an unclosed brace", strings.Replace(good, sha256, "  { SHA-256, SHA2-256 @ fips\n", 1), fipsStatic("fips=yes"), false, "not NAME @ PROVIDER"},
		{"an empty name", strings.Replace(good, sha256, "  { SHA-256, , SHA256 } @ fips\n", 1), fipsStatic("fips=yes"), false, "is not an algorithm name"},
		{"a name of control characters", strings.Replace(good, sha256, "  { SHA-256, \x1b[2J } @ fips\n", 1), fipsStatic("fips=yes"), false, "is not an algorithm name"},
		{"a served algorithm among the legacy names", strings.Replace(good, "  whirlpool\n", "  whirlpool @ fips\n", 1), fipsStatic("fips=yes"), false, `"  whirlpool @ fips": want "Provided:"`},
		{"a -verbose line under no entry", strings.Replace(good, "Provided MACs:\n", "Provided MACs:\n    description: where MD5 @ default hides\n", 1), fipsStatic("fips=yes"), false, "want an entry of the mac list (not NAME @ PROVIDER)"},
		{"a list missing (3.1 and later)", withoutList(good, 5), fipsStatic("fips=yes"), false, "it ends before a blank line before the providers"},
		{"a blank line too many", strings.Replace(good, "Provided MACs:\n", "Provided MACs:\n\n", 1), fipsStatic("fips=yes"), false, `"  CMAC @ fips": want "Provided:", the header of the cipher list`},
		{"a line too long", strings.Replace(good, sha256, "  "+strings.Repeat("A", maxListedLine)+" @ fips\n"+sha256, 1), fipsStatic("fips=yes"), false, "too long"},
		{"too many names", strings.Replace(good, sha256, "  { "+strings.TrimSuffix(strings.Repeat("N, ", maxNames+1), ", ")+" } @ fips\n"+sha256, 1), fipsStatic("fips=yes"), false, "over 64 names"},
		{"too many entries", strings.Replace(good, sha256, sha256+flood.String(), 1), fipsStatic("fips=yes"), false, "within fipsgate's bounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, _ := judgeListing(tc.out, tc.truncated, tc.static)
			if c.Status != Failed || !strings.Contains(c.Detail, tc.want) {
				t.Errorf("%s: %s", c.Status, c.Detail)
			}
		})
	}
}

// The providers' section of the combined listing is judged as `openssl
// list -providers` alone would be.
func TestProviderCheckOfTheListing(t *testing.T) {
	_, section, err := splitListing([]byte(opensslOutput(t, "list-3.5.9.txt")), false)
	if err != nil {
		t.Fatal(err)
	}
	static := fipsStatic("fips=yes")
	static.Module = &ModuleFacts{Path: "/fips.so"}
	static.Module.Version = "3.5.9"
	if c, _ := providerCheck(Check{}, section, static); c.Status != Passed || c.Detail != "active: OpenSSL FIPS Provider" {
		t.Errorf("%s: %s", c.Status, c.Detail)
	}
}

// MD5's refusal is read from the matrix: MD5 absent, or served.
func TestMD5Check(t *testing.T) {
	_, _, good := judgeListing(opensslOutput(t, "list-3.5.9.txt"), false, fipsStatic("fips=yes"))
	_, _, served := judgeListing(opensslOutput(t, "list-3.5.9-default-provider.txt"), false, fipsStatic(""))
	for _, tc := range []struct {
		name string
		m    *Algorithms
		want string // "" for passed, else in the detail
	}{
		{"refused", good, ""},
		{"served", served, "MD5 IS SERVED"},
		{"no matrix", nil, "cannot be read"},
		{"not looked for", &Algorithms{Served: []ServedAlgorithm{}, NonApproved: []NonApproved{}}, "not looked for"},
	} {
		c := md5Check(Check{Name: "md5-refused", Required: true}, tc.m)
		if (tc.want == "") != (c.Status == Passed) || !strings.Contains(c.Detail, tc.want) {
			t.Errorf("%s: %s %s", tc.name, c.Status, c.Detail)
		}
	}
}
