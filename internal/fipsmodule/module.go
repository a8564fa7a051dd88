// Package fipsmodule inspects an OpenSSL FIPS provider module (fips.so)
// without loading it: its digest, its integrity MAC as fipsinstall computes
// it, and the name, version and build it reports of itself; and it matches
// that identity against a table of NIST CMVP certificates (cmvp.json).
package fipsmodule

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// MaxSize is the largest module Inspect reads. OpenSSL's fips.so is 1-3 MB
// on every platform it builds for; the margin leaves room for vendors'
// debug builds while bounding what a hostile image can make fipsgate hash
// (a sparse file of terabytes, /dev/zero) to well under a second of work.
const MaxSize = 256 << 20

// DefaultKey is OpenSSL's public default FIPS integrity key (FIPS_KEY_STRING
// in include/openssl/fipskey.h, the SHA-256 of "holy hand grenade of
// antioch"). `openssl fipsinstall` uses it unless given -macopt hexkey:…, and
// the provider's self-test uses it to check module-mac.
var DefaultKey = mustHex("f4556650ac31d35461610bac4ed81b1a181b2d8a43ea2854cbae22ca74560813")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Info describes a module file.
type Info struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// MAC is HMAC-SHA256 of the whole file under DefaultKey, formatted as
	// fipsinstall writes module-mac (upper-case hex pairs joined by ':').
	MAC string `json:"mac"`
	// Name is the provider's name ("OpenSSL FIPS Provider" upstream; vendors
	// name their builds), Version its release ("3.1.2"; vendors add a
	// suffix: "3.0.7-395c1a240fbfffd8"), and Build its build information
	// (OPENSSL_FULL_VERSION_STR upstream): the module's best reading of what
	// the provider reports through OSSL_PROV_PARAM_NAME, _VERSION and
	// _BUILDINFO. Build is "" when the strings do not settle it.
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Build   string `json:"build,omitempty"`
	// Names and Versions are every string the module carries that could be
	// its name (it contains "FIPS Provider") or its version or build (it
	// is version-like), in file order: what the provider can report of
	// itself is among them. Truncated says that there were more than
	// fipsgate keeps.
	Names     []string `json:"names,omitempty"`
	Versions  []string `json:"versions,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

var (
	// OPENSSL_VERSION_TEXT, compiled into every OpenSSL 3 module:
	// "OpenSSL " OPENSSL_FULL_VERSION_STR " " OPENSSL_RELEASE_DATE.
	versionText = regexp.MustCompile(`^OpenSSL ((\d+\.\d+\.\d+)\S*) +\d{1,2} [A-Z][a-z]{2} \d{4}`)
	bareVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	// versionLike is a release with an optional vendor suffix or build
	// metadata: "3.5.9", "3.4.0-r5", "3.0.5-0ubuntu0.1+Fips2.1".
	versionLike = regexp.MustCompile(`^\d+\.\d+\.\d+([-+~][0-9A-Za-z][0-9A-Za-z.+~_-]*)?$`)
)

// Bounds on the identity strings kept: a module has one name and one or
// two version strings; a hostile one may carry thousands.
const (
	maxNames       = 16
	maxVersions    = 64
	maxIdentityLen = 256
	// nameWindow is how many strings after the name the provider's version
	// is looked for: fips_get_params uses them one after the other, and
	// compilers lay them out in that order.
	nameWindow = 4
)

// Inspect reads a module once, in constant memory, computing its digest and
// MAC and finding its name and version among its printable strings. It
// refuses modules over MaxSize bytes. When r is a file (it has Stat), one
// that is not regular or is over the limit is refused before anything is
// read; otherwise, and if the file grows, reading stops past the limit.
func Inspect(r io.Reader) (Info, error) {
	name := "the module"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	if s, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		st, err := s.Stat()
		if err != nil {
			return Info{}, err
		}
		if !st.Mode().IsRegular() {
			return Info{}, imagefs.NotRegular(name, st.Mode())
		}
		if st.Size() > MaxSize {
			return Info{}, tooLarge(name, st.Size())
		}
	}
	var info Info
	sum, mac := sha256.New(), hmac.New(sha256.New, DefaultKey)
	var ids identityReader
	strs := &stringScanner{min: 5, fn: func(s []byte) { ids.add(&info, s) }}
	n, err := io.Copy(io.MultiWriter(sum, mac, strs), io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Info{}, err
	}
	if n > MaxSize {
		return Info{}, fmt.Errorf("%s: %w: reading stopped past the %d-byte limit for a FIPS provider module (OpenSSL's fips.so is 1-3 MB)", name, imagefs.ErrTooLarge, int64(MaxSize))
	}
	strs.flush()
	ids.settle(&info)
	info.Size = n
	info.SHA256 = hex.EncodeToString(sum.Sum(nil))
	info.MAC = FormatMAC(mac.Sum(nil))
	return info, nil
}

// identityReader reads the provider's identity from the module's strings
// as they stream past.
type identityReader struct {
	index          int // of the current string
	nameAt         int // index of the first name string, -1 before
	afterName      string
	text, textFull string // from OPENSSL_VERSION_TEXT
	bare           string
	seen           map[string]bool
}

func (r *identityReader) add(info *Info, s []byte) {
	if r.seen == nil {
		r.seen, r.nameAt = map[string]bool{}, -1
	}
	r.index++
	switch {
	case len(s) > maxIdentityLen:
	case bytes.Contains(s, []byte("FIPS Provider")):
		if r.nameAt < 0 {
			r.nameAt = r.index
		}
		r.keep(info, &info.Names, maxNames, string(s))
	case versionLike.Match(s):
		v := string(s)
		r.keep(info, &info.Versions, maxVersions, v)
		if r.afterName == "" && r.nameAt >= 0 && r.index-r.nameAt <= nameWindow {
			r.afterName = v
		}
		if r.bare == "" && bareVersion.MatchString(v) {
			r.bare = v
		}
	case r.text == "":
		if m := versionText.FindSubmatch(s); m != nil {
			r.textFull, r.text = string(m[1]), string(m[2])
		}
	}
}

func (r *identityReader) keep(info *Info, list *[]string, limit int, s string) {
	if r.seen[s] {
		return
	}
	if len(*list) >= limit {
		info.Truncated = true
		return
	}
	r.seen[s] = true
	*list = append(*list, s)
}

// settle makes the best reading of the identity: the first name; the
// version the provider's code uses right after it, else the release in
// OPENSSL_VERSION_TEXT, else the first plain release; the build from
// OPENSSL_VERSION_TEXT (which holds OPENSSL_FULL_VERSION_STR), or the
// version itself when it is the only version-like string (upstream, where
// the full version string is the version string).
func (r *identityReader) settle(info *Info) {
	if len(info.Names) > 0 {
		info.Name = info.Names[0]
	}
	switch {
	case r.afterName != "":
		info.Version = r.afterName
	case r.text != "":
		info.Version = r.text
	default:
		info.Version = r.bare
	}
	switch {
	case r.textFull != "" && (r.textFull == info.Version || r.text == info.Version):
		info.Build = r.textFull
	case len(info.Versions) == 1 && info.Versions[0] == info.Version:
		info.Build = info.Version
	}
}

// StaticIdentity is the identity read from the module's strings, and why
// it may not be the one the provider reports ("" when the strings leave no
// doubt: one name, and a version).
func (i Info) StaticIdentity() (Identity, string) {
	id := Identity{Name: i.Name, Version: i.Version, Build: i.Build}
	switch {
	case i.Truncated:
		return id, "the module carries more name and version strings than fipsgate reads"
	case len(i.Names) > 1:
		return id, fmt.Sprintf("the module carries %d provider names (%s)", len(i.Names), strings.Join(quoteAll(i.Names), ", "))
	case i.Name == "":
		return id, "the module carries no provider name (no string with \"FIPS Provider\")"
	case i.Version == "":
		return id, "the module carries no version string"
	}
	return id, ""
}

// Carries says which fields of what a provider reported are not among the
// module's strings: nil when the module carries each of them.
func (i Info) Carries(id Identity) []string {
	var missing []string
	if !slices.Contains(i.Names, id.Name) {
		missing = append(missing, fmt.Sprintf("name %q", id.Name))
	}
	if !slices.Contains(i.Versions, id.Version) {
		missing = append(missing, fmt.Sprintf("version %q", id.Version))
	}
	if id.Build != "" && !slices.Contains(i.Versions, id.Build) {
		missing = append(missing, fmt.Sprintf("build %q", id.Build))
	}
	return missing
}

func tooLarge(name string, size int64) error {
	return fmt.Errorf("%w; OpenSSL's fips.so is 1-3 MB, and fipsgate does not hash a larger module", imagefs.TooLarge(name, size, MaxSize))
}

// FormatMAC writes a MAC the way fipsinstall does.
func FormatMAC(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// NormalizeMAC puts a module-mac value in FormatMAC's form, so that values
// written with other case or without colons compare equal.
func NormalizeMAC(s string) (string, error) {
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("module-mac %q is not a hex MAC", s)
	}
	return FormatMAC(b), nil
}

// stringScanner calls fn for each run of at least min printable ASCII
// bytes, like strings(1), in constant memory across Write calls.
type stringScanner struct {
	min int
	fn  func([]byte)
	cur []byte
}

const maxStringLen = 4096

func (s *stringScanner) Write(p []byte) (int, error) {
	for _, c := range p {
		if c >= 0x20 && c < 0x7f {
			if len(s.cur) < maxStringLen {
				s.cur = append(s.cur, c)
			}
			continue
		}
		s.flush()
	}
	return len(p), nil
}

func (s *stringScanner) flush() {
	if len(s.cur) >= s.min {
		s.fn(s.cur)
	}
	s.cur = s.cur[:0]
}
