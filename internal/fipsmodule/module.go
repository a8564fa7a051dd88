// Package fipsmodule inspects an OpenSSL FIPS provider module (fips.so)
// without loading it: its digest, its integrity MAC as fipsinstall computes
// it, and its name and version; and it knows which versions NIST's CMVP has
// validated.
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
	// may name their builds), Version its release, e.g. "3.1.2".
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

var (
	// OPENSSL_VERSION_TEXT, compiled into every OpenSSL 3 module.
	versionText = regexp.MustCompile(`^OpenSSL (\d+\.\d+\.\d+)\S* +\d{1,2} [A-Z][a-z]{2} \d{4}`)
	bareVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
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
	var bare string
	strs := &stringScanner{min: 5, fn: func(s []byte) {
		switch {
		case info.Name == "" && bytes.Contains(s, []byte("FIPS Provider")):
			info.Name = string(s)
		case info.Version == "":
			if m := versionText.FindSubmatch(s); m != nil {
				info.Version = string(m[1])
			} else if bare == "" && bareVersion.Match(s) {
				bare = string(s)
			}
		}
	}}
	n, err := io.Copy(io.MultiWriter(sum, mac, strs), io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Info{}, err
	}
	if n > MaxSize {
		return Info{}, fmt.Errorf("%s: %w: reading stopped past the %d-byte limit for a FIPS provider module (OpenSSL's fips.so is 1-3 MB)", name, imagefs.ErrTooLarge, int64(MaxSize))
	}
	strs.flush()
	if info.Version == "" {
		info.Version = bare
	}
	info.Size = n
	info.SHA256 = hex.EncodeToString(sum.Sum(nil))
	info.MAC = FormatMAC(mac.Sum(nil))
	return info, nil
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
