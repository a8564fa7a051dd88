// Package inventory finds, statically, every way an image's files can do
// cryptography outside the OpenSSL FIPS module that the FIPS checks
// verified: Go binaries and the crypto they carry (BoringCrypto, Go's own
// crypto, Go's FIPS 140-3 module, an OpenSSL backend), ELF files that load
// another libcrypto or embed a crypto library, and runtimes with crypto of
// their own (Node.js, Python, Java). Nothing is executed; non-ELF files are
// identified by their first bytes only.
//
// The default policy (POLICY below, and docs/inventory.md): a failure is
// what configuration cannot make FIPS — a BoringCrypto Go binary, a Go
// binary whose crypto is Go's own, a binary embedding a crypto library, a
// binary that would load a libcrypto other than the verified one. A warning
// is what may be unused or fixable by configuration: other crypto libraries
// present, interpreters and runtimes, Go's native FIPS module. Strict makes
// warnings failures; accepted exceptions turn findings into notes.
package inventory

import (
	"path"
	"sort"
)

// Severities.
const (
	Failure = "failure"
	Warning = "warning"
	Info    = "info"
)

// Kinds of finding.
const (
	KindGoBoringCrypto = "go-boringcrypto"
	KindGoNativeCrypto = "go-native-crypto"
	KindGoFIPS140      = "go-fips140-module"
	KindGoOpenSSL      = "go-openssl-backend"
	KindGoOpenSSLMixed = "go-openssl-and-native-crypto"
	KindGoFIPSDisabled = "go-fips-disabled-by-env"
	KindLibcryptoOther = "loads-other-libcrypto"
	KindLibcryptoCopy  = "libcrypto-copy"
	KindStaticOpenSSL  = "static-openssl"
	KindEmbeddedCrypto = "embedded-crypto-library"
	KindCryptoLibrary  = "crypto-library"
	KindRuntimeNode    = "runtime-nodejs"
	KindRuntimePython  = "runtime-python"
	KindRuntimeJava    = "runtime-java"
	KindUnreadableELF  = "unreadable-elf"
	KindUnreadable     = "unreadable-file"
	// Found only in what the application reaches (docs/verdict.md).
	KindImportsCryptoLibrary = "imports-crypto-library"
	KindOpenSSLLowLevel      = "openssl-low-level-api"
	KindNonFIPSFetch         = "non-fips-provider-or-property"
	KindOwnCrypto            = "own-crypto-implementation"
	KindUninspectable        = "uninspectable-static-executable"
	KindReachIncomplete      = "reach-incomplete"
)

// Finding is one thing the scan found.
type Finding struct {
	Path     string `json:"path"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Evidence string `json:"evidence"`
	// Remedy says what would make it FIPS, where something would.
	Remedy string `json:"remedy,omitempty"`
	// Reach says how the application reaches the file, when it does:
	// what would be a warning elsewhere may then fail (docs/verdict.md).
	Reach string `json:"reach,omitempty"`
	// Accepted is the reason of the exception that accepted it.
	Accepted string `json:"accepted,omitempty"`
}

// Stats count what was scanned.
type Stats struct {
	Files     int   `json:"files"`
	ELFFiles  int   `json:"elfFiles"`
	GoFiles   int   `json:"goBinaries"`
	Bytes     int64 `json:"bytes"`     // size of every regular file
	ReadBytes int64 `json:"readBytes"` // what the scan actually read
}

// Inventory is a scan's result.
type Inventory struct {
	// Summary counts findings by kind.
	Summary    map[string]int `json:"summary"`
	Findings   []Finding      `json:"findings"`
	Stats      Stats          `json:"stats"`
	Strict     bool           `json:"strict"`
	Exceptions []Exception    `json:"exceptions,omitempty"`
	// Reach is what the application can run and load; its findings say
	// so, and are judged harder.
	Reach *Reach `json:"reach,omitempty"`
}

// Failures lists the findings that fail the verdict.
func (inv *Inventory) Failures() []Finding {
	var out []Finding
	for _, f := range inv.Findings {
		if f.Severity == Failure && f.Accepted == "" {
			out = append(out, f)
		}
	}
	return out
}

// Exception accepts known findings: those of Kind (or any kind, if empty)
// at paths matching Path (a path.Match pattern, or a directory prefix
// ending in "/").
type Exception struct {
	Path   string `json:"path"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason"`
}

func (e Exception) matches(f Finding) bool {
	if e.Kind != "" && e.Kind != f.Kind {
		return false
	}
	if len(e.Path) > 0 && e.Path[len(e.Path)-1] == '/' {
		return len(f.Path) >= len(e.Path) && f.Path[:len(e.Path)] == e.Path
	}
	ok, _ := path.Match(e.Path, f.Path)
	return ok
}

// finish applies strictness and exceptions, sorts, and counts.
func (inv *Inventory) finish(strict bool, exceptions []Exception) {
	inv.Strict = strict
	inv.Exceptions = exceptions
	inv.Summary = map[string]int{}
	for i := range inv.Findings {
		f := &inv.Findings[i]
		if strict && f.Severity == Warning {
			f.Severity = Failure
		}
		for _, e := range exceptions {
			if e.matches(*f) {
				f.Accepted = e.Reason
				break
			}
		}
		inv.Summary[f.Kind]++
	}
	inv.sortFindings()
}

// sortFindings orders the findings by path, then kind.
func (inv *Inventory) sortFindings() {
	sort.SliceStable(inv.Findings, func(i, j int) bool {
		a, b := inv.Findings[i], inv.Findings[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Kind < b.Kind
	})
}

var allKinds = []string{
	KindGoBoringCrypto, KindGoNativeCrypto, KindGoFIPS140, KindGoOpenSSL, KindGoOpenSSLMixed, KindGoFIPSDisabled,
	KindLibcryptoOther, KindLibcryptoCopy, KindStaticOpenSSL, KindEmbeddedCrypto, KindCryptoLibrary,
	KindRuntimeNode, KindRuntimePython, KindRuntimeJava, KindUnreadableELF, KindUnreadable,
	KindImportsCryptoLibrary, KindOpenSSLLowLevel, KindNonFIPSFetch, KindOwnCrypto, KindUninspectable, KindReachIncomplete,
}

// Kinds lists every finding kind.
func Kinds() []string { return append([]string(nil), allKinds...) }

// IsKind tells whether k is a finding kind.
func IsKind(k string) bool {
	for _, x := range allKinds {
		if x == k {
			return true
		}
	}
	return false
}

// AddObserved adds to a scan's inventory what the application was seen to
// load (ScanFiles over the files its static reach did not hold): the
// entries join the reach, the findings the others.
func (inv *Inventory) AddObserved(observed *Inventory) {
	if observed == nil {
		return
	}
	if observed.Reach != nil {
		if inv.Reach == nil {
			inv.Reach = &Reach{Entries: []ReachEntry{}}
		}
		inv.Reach.Entries = append(inv.Reach.Entries, observed.Reach.Entries...)
		sort.SliceStable(inv.Reach.Entries, func(i, j int) bool { return inv.Reach.Entries[i].Path < inv.Reach.Entries[j].Path })
		inv.Reach.Unresolved = append(inv.Reach.Unresolved, observed.Reach.Unresolved...)
	}
	for _, f := range observed.Findings {
		dup := false
		for _, g := range inv.Findings {
			if g.Path == f.Path && g.Kind == f.Kind {
				dup = true
				break
			}
		}
		if !dup {
			inv.Findings = append(inv.Findings, f)
			inv.Summary[f.Kind]++
		}
	}
	inv.sortFindings()
}
