package probe

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The algorithm matrix: what OpenSSL serves under the image's
// configuration, listed by the image's openssl in the same process that
// lists the providers (one more process would run the module's self-tests
// once more).
//
// `openssl list -digest-algorithms …` lists an algorithm only when it can
// be fetched (apps/list.c, is_*_fetchable, since 3.0): with no -propquery,
// as an application fetches it, under the configuration's default
// properties. So the listing is what the image's applications can have,
// each with the provider that serves it. An algorithm it leaves out is
// refused to them. An algorithm the FIPS provider serves under default
// properties that require fips=yes is approved: the module marks what its
// security policy does not approve fips=no, and such a configuration does
// not fetch it.

// Categories of algorithm, as openssl list prints them.
const (
	CategoryDigest      = "digest"
	CategoryKDF         = "kdf"
	CategoryMAC         = "mac"
	CategoryCipher      = "cipher"
	CategorySignature   = "signature"
	CategoryAsymCipher  = "asymmetric-cipher"
	CategoryKeyExchange = "key-exchange"
	CategoryKEM         = "kem"
	// CategoryUnseparated is what OpenSSL 3.0 lists after its cipher
	// header: it prints ciphers, signatures, asymmetric ciphers, key
	// exchanges and KEMs one after another, with no line between them
	// (3.1 added one between every two lists).
	CategoryUnseparated = "cipher-or-public-key"
)

// listArgs lists the providers and every category of the matrix. openssl
// list prints its lists in an order of its own, whatever the order of its
// options: digests, KDFs, MACs, ciphers, signatures, asymmetric ciphers,
// key exchanges, KEMs, then the providers. -verbose is for the providers'
// build (module identity); it also describes each algorithm's parameters,
// on lines of their own under it, which the matrix does not read.
var listArgs = []string{"list", "-providers", "-verbose", "-digest-algorithms", "-kdf-algorithms", "-mac-algorithms", "-cipher-algorithms",
	"-signature-algorithms", "-asymcipher-algorithms", "-key-exchange-algorithms", "-kem-algorithms"}

// listingOutputCap is how much of the listing is kept, to be read whole:
// OpenSSL 3.5.9's, verbose, is 117 KiB under the FIPS configuration, 250
// KiB with the default provider.
const listingOutputCap = 1 << 20

// listSection is one list of the listing: its category, the header it
// starts with ("" for none), and whether a "Legacy:" list (the names of
// libcrypto's built-in table, which says nothing of what a provider serves)
// may come before that header.
type listSection struct {
	category string
	header   string
	legacy   bool
}

var listSections = []listSection{
	{CategoryDigest, "Provided:", true},
	{CategoryKDF, "Provided KDFs and PDFs:", false},
	{CategoryMAC, "Provided MACs:", false},
	{CategoryCipher, "Provided:", true},
	{CategorySignature, "", false},
	{CategoryAsymCipher, "", false},
	{CategoryKeyExchange, "", false},
	{CategoryKEM, "", false},
}

// ServedAlgorithm is one algorithm the configuration serves.
type ServedAlgorithm struct {
	Category string `json:"category"`
	// Names are its names, sorted; object identifiers are left out.
	Names    []string `json:"names"`
	Provider string   `json:"provider"`
	// Approved: served by the FIPS provider under default properties that
	// require fips=yes.
	Approved bool `json:"approved"`
}

// NonApproved is a non-approved algorithm looked for in the listing.
type NonApproved struct {
	Category string `json:"category"`
	Name     string `json:"name"`
	// Refused: nothing the configuration serves goes by that name.
	Refused bool `json:"refused"`
}

// Algorithms is the matrix: every algorithm served, and the non-approved
// algorithms looked for.
type Algorithms struct {
	Served      []ServedAlgorithm `json:"served"`
	NonApproved []NonApproved     `json:"nonApproved"`
}

// nonApproved are algorithms no FIPS 140-3 module approves, which OpenSSL's
// default or legacy provider serves: the seed procedure's MD5, and the rest
// of what a FIPS image must not hand out. Each is looked for by a name
// OpenSSL gives it (names are matched in any case, across categories).
var nonApproved = []struct{ category, name string }{
	{CategoryDigest, "MD5"}, {CategoryDigest, "MD5-SHA1"}, {CategoryDigest, "MD4"}, {CategoryDigest, "MD2"},
	{CategoryDigest, "MDC2"}, {CategoryDigest, "RIPEMD-160"}, {CategoryDigest, "WHIRLPOOL"},
	{CategoryDigest, "BLAKE2B-512"}, {CategoryDigest, "BLAKE2S-256"}, {CategoryDigest, "SM3"},
	{CategoryCipher, "DES-CBC"}, {CategoryCipher, "BF-CBC"}, {CategoryCipher, "CAST5-CBC"}, {CategoryCipher, "RC2-CBC"},
	{CategoryCipher, "RC4"}, {CategoryCipher, "RC5-CBC"}, {CategoryCipher, "IDEA-CBC"}, {CategoryCipher, "SEED-CBC"},
	{CategoryCipher, "SM4-CBC"}, {CategoryCipher, "CAMELLIA-256-CBC"}, {CategoryCipher, "ARIA-256-GCM"},
	{CategoryCipher, "CHACHA20"}, {CategoryCipher, "CHACHA20-POLY1305"},
	{CategoryMAC, "SIPHASH"}, {CategoryMAC, "POLY1305"}, {CategoryMAC, "BLAKE2BMAC"}, {CategoryMAC, "BLAKE2SMAC"},
	{CategoryKDF, "SCRYPT"}, {CategoryKDF, "PKCS12KDF"}, {CategoryKDF, "KRB5KDF"},
	{CategorySignature, "SM2"},
}

// requiredApproved is what the matrix must show approved: SHA-256, the
// approved digest the seed procedure and the sha256-works check use.
var requiredApproved = struct{ category, name string }{CategoryDigest, "SHA2-256"}

// Bounds on the listing.
const (
	maxListed     = 8192 // entries and legacy lines
	maxDetails    = 16 * maxListed
	maxNames      = 64 // names of one entry
	maxListedLine = 4096
)

var (
	listEntry   = regexp.MustCompile(`^  (?:\{ ([^{}]+) \}|([^ {},@]+)) @ ([A-Za-z0-9_.-]{1,64})$`)
	listName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/+=-]{0,127}$`)
	objectID    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)
	emptyMarker = " -" // what a list with nothing in it prints (3.2 and later, for some)
)

// splitListing cuts the output of `openssl list` with listArgs into the
// algorithm lists and the providers' section, which starts at the one line
// "Providers:".
func splitListing(out []byte, truncated bool) (algorithms []string, providers string, err error) {
	if truncated {
		return nil, "", fmt.Errorf("its output is over %d KiB: its start was not kept", listingOutputCap>>10)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	at := -1
	for i, l := range lines {
		if l != "Providers:" {
			continue
		}
		if at >= 0 {
			return nil, "", fmt.Errorf("lines %d and %d both start a Providers: section", at+1, i+1)
		}
		at = i
	}
	if at < 0 {
		return nil, "", errors.New("it has no Providers: section")
	}
	return lines[:at], strings.Join(lines[at:], "\n"), nil
}

// parseAlgorithms reads the algorithm lists (the lines before
// "Providers:"). Each list starts with its header, or, for those without,
// right after the one before; from 3.1 a blank line comes before every
// list but the first and before the providers. Every line must be a
// header in its place, a name of a legacy list, an entry ("  NAME @
// PROVIDER", "  { NAME, NAME } @ PROVIDER"), a line -verbose adds under an
// entry (indented by four or more: what it takes as parameters), an empty
// list's " -", or one of those blank lines: anything else fails the whole
// listing.
func parseAlgorithms(lines []string) ([]ServedAlgorithm, error) {
	separated := slices.Contains(lines, "")
	served := []ServedAlgorithm{}
	i := 0
	errAt := func(what string) error {
		if i >= len(lines) {
			return fmt.Errorf("it ends before %s", what)
		}
		return fmt.Errorf("line %d, %q: want %s", i+1, clip(lines[i]), what)
	}
	legacy, details := 0, 0
	for n, s := range listSections {
		if separated && n > 0 {
			if i >= len(lines) || lines[i] != "" {
				return nil, errAt("a blank line before the " + s.category + " list")
			}
			i++
		}
		if s.legacy && i < len(lines) && lines[i] == "Legacy:" {
			for i++; i < len(lines) && strings.HasPrefix(lines[i], "  ") && !strings.Contains(lines[i], " @ "); i++ {
				if legacy++; legacy > maxListed || len(lines[i]) > maxListedLine {
					return nil, errAt("a listing within fipsgate's bounds")
				}
			}
		}
		if s.header != "" {
			if i >= len(lines) || lines[i] != s.header {
				return nil, errAt(fmt.Sprintf("%q, the header of the %s list", s.header, s.category))
			}
			i++
		}
		category := s.category
		if !separated && s.category == CategoryCipher {
			// OpenSSL 3.0: what follows runs to the end, undivided.
			category = CategoryUnseparated
		}
		entry := false
		for ; i < len(lines) && strings.HasPrefix(lines[i], " "); i++ {
			if lines[i] == emptyMarker {
				entry = false
				continue
			}
			if entry && strings.HasPrefix(lines[i], "    ") {
				// -verbose: what the entry above takes as parameters.
				if details++; details > maxDetails || len(lines[i]) > maxListedLine {
					return nil, errAt("a listing within fipsgate's bounds")
				}
				continue
			}
			a, err := parseEntry(lines[i])
			if err != nil {
				return nil, errAt("an entry of the " + category + " list (" + err.Error() + ")")
			}
			if len(served) == maxListed {
				return nil, errAt("a listing within fipsgate's bounds")
			}
			a.Category = category
			served = append(served, a)
			entry = true
		}
		if category == CategoryUnseparated {
			break
		}
	}
	if separated {
		if i >= len(lines) || lines[i] != "" {
			return nil, errAt("a blank line before the providers")
		}
		i++
	}
	if i != len(lines) {
		return nil, errAt("the providers")
	}
	return served, nil
}

// parseEntry reads one entry of an algorithm list.
func parseEntry(line string) (ServedAlgorithm, error) {
	if len(line) > maxListedLine {
		return ServedAlgorithm{}, errors.New("too long")
	}
	m := listEntry.FindStringSubmatch(line)
	if m == nil {
		return ServedAlgorithm{}, errors.New("not NAME @ PROVIDER")
	}
	all := []string{m[2]}
	if m[1] != "" {
		all = strings.Split(m[1], ", ")
	}
	if len(all) > maxNames {
		return ServedAlgorithm{}, fmt.Errorf("over %d names", maxNames)
	}
	var names, oids []string
	for _, n := range all {
		switch {
		case !listName.MatchString(n):
			return ServedAlgorithm{}, fmt.Errorf("%q is not an algorithm name", clip(n))
		case objectID.MatchString(n):
			oids = append(oids, n)
		default:
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		names = oids
	}
	sortNames(names)
	return ServedAlgorithm{Names: slices.Compact(names), Provider: m[3]}, nil
}

// sortNames sorts names as a reader looks for them, in any case, and the
// same every time.
func sortNames(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
}

// categoryOrder orders the matrix by category as openssl list does.
func categoryOrder(c string) int {
	for i, s := range listSections {
		if s.category == c {
			return i
		}
	}
	return len(listSections)
}

// sortServed orders the matrix the same every time: openssl list sorts by
// provider only, and an unstable sort leaves the rest as it comes.
func sortServed(served []ServedAlgorithm) {
	sort.SliceStable(served, func(i, j int) bool {
		a, b := served[i], served[j]
		if oa, ob := categoryOrder(a.Category), categoryOrder(b.Category); oa != ob {
			return oa < ob
		}
		ka, kb := strings.ToLower(strings.Join(a.Names, " ")), strings.ToLower(strings.Join(b.Names, " "))
		if ka != kb {
			return ka < kb
		}
		return a.Provider < b.Provider
	})
}

// serves tells whether an algorithm of the listing goes by name (in any
// case), in category, or in any category when category is "".
func serves(served []ServedAlgorithm, category, name string) *ServedAlgorithm {
	for i, a := range served {
		if category != "" && a.Category != category {
			continue
		}
		if slices.ContainsFunc(a.Names, func(n string) bool { return strings.EqualFold(n, name) }) {
			return &served[i]
		}
	}
	return nil
}

// algorithmsCheck judges the algorithm lists of the listing: they can be
// read; everything listed is served by the FIPS provider (fipsKey, as the
// providers' section names it), under default properties that require
// fips=yes; SHA-256 is among it; and none of the non-approved algorithms
// is. It returns the matrix when the lists could be read.
func algorithmsCheck(c Check, lines []string, fipsKey string, static *Report) (Check, *Algorithms) {
	served, err := parseAlgorithms(lines)
	if err != nil {
		c.Status, c.Detail = Failed, "the algorithm listing cannot be read: "+err.Error()
		return c, nil
	}
	requires := static.OpenSSL != nil && static.OpenSSL.Summary.RequiresFIPS()
	counts := map[string]int{}
	var outside []string
	for i, a := range served {
		counts[a.Category]++
		served[i].Approved = fipsKey != "" && a.Provider == fipsKey && requires
		if a.Provider != fipsKey {
			outside = append(outside, a.Names[0]+" @ "+a.Provider)
		}
	}
	sortServed(served)
	m := &Algorithms{Served: served, NonApproved: []NonApproved{}}
	var notRefused []string
	for _, na := range nonApproved {
		refused := serves(served, "", na.name) == nil
		m.NonApproved = append(m.NonApproved, NonApproved{Category: na.category, Name: na.name, Refused: refused})
		if !refused {
			notRefused = append(notRefused, na.name)
		}
	}
	var why []string
	switch {
	case fipsKey == "":
		why = append(why, "no active FIPS provider is listed: nothing listed is approved")
	case !requires:
		why = append(why, "the configuration's default properties do not require fips=yes: what it serves is not known to be approved")
	}
	if len(outside) > 0 && fipsKey != "" {
		why = append(why, fmt.Sprintf("served by a provider other than %s: %s", fipsKey, strings.Join(firstOf(outside, 8), ", ")))
	}
	if len(notRefused) > 0 {
		why = append(why, "NOT REFUSED (non-approved): "+strings.Join(notRefused, ", "))
	}
	if a := serves(served, requiredApproved.category, requiredApproved.name); a == nil || !a.Approved {
		why = append(why, "no approved "+requiredApproved.name+" is listed")
	}
	if len(why) > 0 {
		c.Status, c.Detail = Failed, strings.Join(why, "; ")
		return c, m
	}
	var per []string
	for _, s := range append(listSections, listSection{category: CategoryUnseparated}) {
		if n := counts[s.category]; n > 0 {
			per = append(per, fmt.Sprintf("%s %d", s.category, n))
		}
	}
	c.Status = Passed
	c.Detail = fmt.Sprintf("%d algorithms served, all approved, by %s (%s); none of the %d non-approved algorithms looked for (MD5, RC4, ChaCha20, …) is served",
		len(served), fipsKey, strings.Join(per, ", "), len(nonApproved))
	return c, m
}

// firstOf is the first n of s, and how many more there are.
func firstOf(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}

// md5Check judges MD5's refusal by the matrix: openssl dgst -md5 fails
// where EVP_MD_fetch of MD5 under the configuration's default properties
// fails, and openssl list lists an algorithm only when that fetch
// succeeds; the listing's process shows it without one of its own, which
// would run the module's self-tests once more.
func md5Check(c Check, m *Algorithms) Check {
	if m == nil {
		c.Status, c.Detail = Failed, "the algorithm listing cannot be read: that MD5 is refused cannot be shown"
		return c
	}
	for _, n := range m.NonApproved {
		if n.Name != "MD5" {
			continue
		}
		if n.Refused {
			c.Status, c.Detail = Passed, "MD5 cannot be fetched under the image's configuration: openssl list, which lists an algorithm only when an application could fetch it (as openssl dgst -md5 would), lists none by that name"
		} else {
			c.Status, c.Detail = Failed, "MD5 IS SERVED under the image's configuration: openssl list lists it"
		}
		return c
	}
	c.Status, c.Detail = Failed, "MD5 was not looked for"
	return c
}
