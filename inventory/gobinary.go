package inventory

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
)

// goCrypto is what a Go binary's cryptography is.
type goCrypto struct {
	path string
	kind string
}

// cryptoPackages are the standard and x/crypto packages whose presence in a
// binary means it can do cryptography with Go's own implementation. Chosen
// as the packages that implement or expose an algorithm: crypto/rand and
// crypto/subtle are left out (randomness and constant-time helpers are
// linked by much that does no cryptography, e.g. through math/rand/v2 or
// net), as is crypto/x509 alone (certificate parsing, which does hash and
// verify only through the packages below, which it then links).
var cryptoPackages = []string{
	"crypto/aes", "crypto/cipher", "crypto/des", "crypto/dsa", "crypto/ecdh", "crypto/ecdsa",
	"crypto/ed25519", "crypto/elliptic", "crypto/hkdf", "crypto/hmac", "crypto/md5", "crypto/mlkem",
	"crypto/pbkdf2", "crypto/rc4", "crypto/rsa", "crypto/sha1", "crypto/sha256", "crypto/sha3",
	"crypto/sha512", "crypto/tls",
}

// Markers in a Go binary's function name table (.gopclntab, kept by
// stripping): function names are NUL-terminated "pkgpath.Name" strings.
var (
	markerCrypto       = []byte("\x00crypto/")
	markerXCrypto      = []byte("\x00golang.org/x/crypto/")
	markerVendorX      = []byte("\x00vendor/golang.org/x/crypto/")
	markerGolangFIPS   = []byte("golang-fips/openssl")
	markerBoringSig    = "internal/boring/sig.BoringCrypto"
	markerBackend      = "internal/backend."
	markerOpenSSLShim  = "internal/opensslcrypto"
	markerSystemCrypto = "internal/systemcrypto"
)

type goFacts struct {
	boring        bool
	opensslToolch string // evidence of an OpenSSL-backed toolchain
	fips140       string // evidence of Go's native FIPS module
	cryptoPkgs    map[string]bool
}

func (s *scanner) goBinary(ef *elf.File, name string, bi *buildinfo.BuildInfo, needed []string) {
	g := goFacts{cryptoPkgs: map[string]bool{}}
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	experiments := settings["GOEXPERIMENT"]
	for _, e := range strings.Split(experiments, ",") {
		switch e {
		case "boringcrypto":
			g.boring = true
		case "opensslcrypto", "systemcrypto", "cngcrypto", "darwincrypto":
			g.opensslToolch = "GOEXPERIMENT=" + experiments
		}
	}
	if strings.Contains(bi.GoVersion, "X:boringcrypto") {
		g.boring = true
	}
	if tags := settings["-tags"]; tags != "" {
		for _, t := range strings.Split(tags, ",") {
			if t == "requirefips" || t == "goexperiment.opensslcrypto" || t == "goexperiment.systemcrypto" {
				g.opensslToolch = "-tags=" + tags
			}
			if t == "goexperiment.boringcrypto" {
				g.boring = true
			}
		}
	}
	for _, m := range bi.Deps {
		if strings.Contains(m.Path, "golang-fips/openssl") {
			g.opensslToolch = "depends on " + m.Path + " " + m.Version
		}
	}
	if v := settings["GOFIPS140"]; v != "" && v != "off" {
		g.fips140 = "GOFIPS140=" + v
	}
	if dg := settings["DefaultGODEBUG"]; strings.Contains(","+dg+",", ",fips140=on,") || strings.Contains(","+dg+",", ",fips140=only,") {
		if g.fips140 == "" {
			g.fips140 = "DefaultGODEBUG has fips140=on/only"
		}
	}

	// The function name table tells which crypto is linked in, stripped or not.
	if r, err := sectionReader(ef, ".gopclntab", ".data.rel.ro.gopclntab"); err == nil {
		_ = s.scanFor(r, [][]byte{markerCrypto, markerXCrypto, markerVendorX, markerGolangFIPS}, func(m, after []byte) {
			name := string(after[:max(0, bytes.IndexByte(after, 0))])
			switch {
			case bytes.Equal(m, markerGolangFIPS):
				if g.opensslToolch == "" {
					g.opensslToolch = "links golang-fips/openssl"
				}
				return
			case !bytes.Equal(m, markerCrypto):
				if pkg, _, ok := strings.Cut(name, "."); ok {
					g.cryptoPkgs["golang.org/x/crypto/"+pkg] = true
				}
				return
			}
			switch {
			case strings.HasPrefix(name, markerBoringSig):
				g.boring = true
			case strings.HasPrefix(name, markerBackend), strings.HasPrefix(name, markerOpenSSLShim), strings.HasPrefix(name, markerSystemCrypto):
				if g.opensslToolch == "" {
					g.opensslToolch = "links crypto/" + strings.SplitN(name, ".", 2)[0]
				}
			}
			pkg := "crypto/" + name
			if i := strings.IndexByte(pkg, '.'); i > 0 {
				pkg = pkg[:i]
			}
			for _, c := range cryptoPackages {
				if pkg == c {
					g.cryptoPkgs[pkg] = true
				}
			}
		})
	}
	// For the boring syso, symbols survive in unstripped binaries too.
	if !g.boring {
		if syms, err := ef.Symbols(); err == nil {
			for _, sym := range syms {
				if strings.HasPrefix(sym.Name, "_goboringcrypto_") {
					g.boring = true
					break
				}
			}
		}
	}
	pkgs := make([]string, 0, len(g.cryptoPkgs))
	for p := range g.cryptoPkgs {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	pkgList := strings.Join(pkgs, ", ")
	if len(pkgs) > 6 {
		pkgList = strings.Join(pkgs[:6], ", ") + fmt.Sprintf(" and %d more", len(pkgs)-6)
	}
	opensslBinding := hasNeeded(needed, "libcrypto.so")
	version := bi.GoVersion

	switch {
	case g.boring:
		s.add(Finding{Path: name, Kind: KindGoBoringCrypto, Severity: Failure,
			Evidence: version + " built with BoringCrypto (GOEXPERIMENT=boringcrypto): its crypto is its own BoringSSL copy, not the image's OpenSSL FIPS module",
			Remedy:   "build with an OpenSSL-backed Go toolchain, or with cgo against the system libcrypto"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoBoringCrypto})
	case g.opensslToolch != "":
		s.add(Finding{Path: name, Kind: KindGoOpenSSL, Severity: Info,
			Evidence: version + " with an OpenSSL crypto backend (" + g.opensslToolch + "): FIPS when the OpenSSL FIPS checks pass"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoOpenSSL})
	case g.fips140 != "":
		s.add(Finding{Path: name, Kind: KindGoFIPS140, Severity: Warning,
			Evidence: version + " uses the Go Cryptographic Module in FIPS 140-3 mode (" + g.fips140 + "): a FIPS module of its own, not the image's OpenSSL one",
			Remedy:   "accept it as a second module (its validation is separate), or build against OpenSSL"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoFIPS140})
	case opensslBinding && len(pkgs) > 0:
		s.add(Finding{Path: name, Kind: KindGoOpenSSLMixed, Severity: Warning,
			Evidence: version + " binds the system libcrypto (cgo) and also links Go's own crypto (" + pkgList + "): whatever calls those bypasses OpenSSL",
			Remedy:   "make sure the Go crypto packages are unreachable (net/http links crypto/tls even without TLS), or use an OpenSSL-backed Go toolchain"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoOpenSSLMixed})
	case opensslBinding:
		s.add(Finding{Path: name, Kind: KindGoOpenSSL, Severity: Info,
			Evidence: version + " binds the system libcrypto (cgo) and links no Go crypto: FIPS when the OpenSSL FIPS checks pass"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoOpenSSL})
	case len(pkgs) > 0:
		s.add(Finding{Path: name, Kind: KindGoNativeCrypto, Severity: Failure,
			Evidence: version + " does its cryptography with Go's own implementation (" + pkgList + "), outside any FIPS mode",
			Remedy:   "build with GOFIPS140 (Go's FIPS 140-3 module), an OpenSSL-backed Go toolchain, or cgo against the system libcrypto"})
		s.goBinaries = append(s.goBinaries, goCrypto{name, KindGoNativeCrypto})
	}
}
