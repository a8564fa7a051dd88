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

// routeTokens lists the standard packages whose presence in a binary means
// it can do cryptography with Go's own implementation (with anything under
// golang.org/x/crypto). Chosen as the packages that implement or expose an
// algorithm: crypto/rand and crypto/subtle are left out (randomness and
// constant-time helpers are linked by much that does no cryptography, e.g.
// through math/rand/v2 or net), as is crypto/x509 alone (certificate
// parsing, which hashes and verifies only through the packages below, which
// it then links).
//
// Each is mapped to what an OpenSSL backend's
// crypto/internal/backend calls its implementation (NewSHA256, NewHMAC,
// NewAESCipher, SignRSAPKCS1v15, …): a package is routed to OpenSSL when the
// backend's function for it is linked in, which dead-code elimination
// leaves only when the package calls it. Packages that only compose the
// others (cipher modes, elliptic, tls) follow them.
var routeTokens = map[string]string{
	"crypto/aes": "AES", "crypto/des": "DES", "crypto/dsa": "DSA", "crypto/ecdh": "ECDH",
	"crypto/ecdsa": "ECDSA", "crypto/ed25519": "Ed25519", "crypto/hkdf": "HKDF", "crypto/hmac": "HMAC",
	"crypto/md5": "MD5", "crypto/mlkem": "MLKEM", "crypto/pbkdf2": "PBKDF2", "crypto/rc4": "RC4",
	"crypto/rsa": "RSA", "crypto/sha1": "SHA1", "crypto/sha256": "SHA256", "crypto/sha3": "SHA3",
	"crypto/sha512": "SHA512",
	"crypto/cipher": "", "crypto/elliptic": "", "crypto/tls": "",
}

// Markers in a Go binary's function name table (.gopclntab, kept by
// stripping): function names are NUL-terminated "pkgpath.Name" strings.
var (
	markerCrypto     = []byte("\x00crypto/")
	markerXCrypto    = []byte("\x00golang.org/x/crypto/")
	markerVendorX    = []byte("\x00vendor/golang.org/x/crypto/")
	markerGolangFIPS = []byte("golang-fips/openssl/")
	markerMSOpenSSL  = []byte("microsoft/go-crypto-openssl/")
	markerBoringCgo  = "internal/boring._Cfunc__goboringcrypto_"
	markerBoringSig  = "internal/boring/sig.BoringCrypto"
	markerBackend    = "internal/backend."
)

// markerFIPS140On is searched in the default GODEBUG the linker wrote into
// runtime.godebugDefault.
var (
	markerFIPS140On = []byte("fips140=on") // and only
)

type goFacts struct {
	claims      []string // what the build information says, as hints
	boringClaim string   // what the build information says of BoringCrypto
	boring      string   // code evidence of BoringCrypto
	backend     []string // crypto/internal/backend functions
	binding     string   // OpenSSL binding functions (golang-fips/openssl, go-crypto-openssl)
	boringSig   bool
	cryptoPkgs  map[string]bool
}

// goBinary classifies a Go binary's crypto from its code: the function
// name table, what it needs from the dynamic linker, and its read-only data.
// Build settings and tags are only hints: they are written into the
// binary by whoever builds it (runtime.modinfo takes -ldflags=-X), and a
// tag such as requirefips changes nothing in a standard toolchain. It
// tells whether the binary carries BoringCrypto.
func (s *scanner) goBinary(ef *elf.File, name string, bi *buildinfo.BuildInfo, needed []string) bool {
	g := goFacts{cryptoPkgs: map[string]bool{}}
	g.readClaims(bi)
	s.readFunctionTable(ef, &g)
	// For the boring syso, symbols survive in unstripped binaries too.
	if g.boring == "" {
		if syms, err := ef.Symbols(); err == nil {
			for _, sym := range syms {
				if strings.HasPrefix(sym.Name, "_goboringcrypto_") {
					g.boring = "defines " + sym.Name
					break
				}
			}
		}
	}
	// The OpenSSL backends mark themselves with sig.BoringCrypto as well;
	// without one, the mark is BoringCrypto's.
	if g.boring == "" && g.boringSig && len(g.backend) == 0 && g.binding == "" {
		g.boring = "links crypto/" + markerBoringSig
	}
	// A claim of BoringCrypto is believed: it can only fail the binary.
	if g.boring == "" {
		g.boring = g.boringClaim
	}

	// Bound to libcrypto: it needs it, or it has an OpenSSL binding that
	// dlopens it (golang-fips/openssl finds libcrypto.so.N at run time).
	bound := ""
	switch {
	case hasNeeded(needed, "libcrypto.so"):
		bound = "needs libcrypto"
	case (len(g.backend) > 0 || g.binding != "") && importsSymbol(ef, "dlopen") && s.hasText(ef, "libcrypto.so"):
		bound = "dlopens libcrypto"
	}
	var pkgs, unrouted []string
	for p := range g.cryptoPkgs {
		pkgs = append(pkgs, p)
		if !routed(p, g.backend) {
			unrouted = append(unrouted, p)
		}
	}
	sort.Strings(pkgs)
	sort.Strings(unrouted)
	version := bi.GoVersion
	fipsMode, fipsWhy := s.goFIPS140Mode(ef, version)
	claimed := ""
	if len(g.claims) > 0 {
		claimed = "; its build information says " + strings.Join(g.claims, ", ") + ", which its code does not bear out"
	}
	add := func(kind, severity, evidence, remedy string) {
		s.add(Finding{Path: name, Kind: kind, Severity: severity, Evidence: evidence, Remedy: remedy})
		s.goBinaries = append(s.goBinaries, goCrypto{name, kind})
	}

	switch {
	case g.boring != "":
		add(KindGoBoringCrypto, Failure,
			version+" built with BoringCrypto ("+g.boring+"): its crypto is its own BoringSSL copy, not the image's OpenSSL FIPS module",
			"build with an OpenSSL-backed Go toolchain, or with cgo against the system libcrypto")
	case bound != "" && len(unrouted) > 0:
		via := "binds the system libcrypto (" + bound + ")"
		if len(g.backend) > 0 {
			via += " through crypto/internal/backend"
		}
		add(KindGoOpenSSLMixed, Warning,
			version+" "+via+" and also links Go's own crypto ("+listPkgs(unrouted)+") that nothing routes to OpenSSL: whatever calls those bypasses OpenSSL",
			"make sure the Go crypto packages are unreachable (net/http links crypto/tls even without TLS), or use an OpenSSL-backed Go toolchain")
	case bound != "" && len(pkgs) > 0:
		add(KindGoOpenSSL, Info,
			version+" with an OpenSSL crypto backend ("+bound+"; crypto/internal/backend routes "+listPkgs(pkgs)+"): FIPS when the OpenSSL FIPS checks pass", "")
	case bound != "":
		add(KindGoOpenSSL, Info,
			version+" binds the system libcrypto ("+bound+") and links no Go crypto: FIPS when the OpenSSL FIPS checks pass", "")
	case len(pkgs) > 0 && fipsMode != "":
		evidence := version + " uses the Go Cryptographic Module in FIPS 140-3 mode (" + fipsWhy + "): a FIPS module of its own, not the image's OpenSSL one"
		if outside := outsideGoModule(pkgs, fipsMode); len(outside) > 0 {
			s.goOutside = outside
			evidence += ", but it also links crypto outside that module (" + listPkgs(outside) + ")"
			if fipsMode == "on" {
				evidence += "; fips140=on leaves non-approved algorithms working (only fips140=only refuses them)"
			}
		}
		add(KindGoFIPS140, Warning, evidence,
			"accept it as a second module (its validation is separate) with GODEBUG=fips140=only and no golang.org/x/crypto, or build against OpenSSL")
	case len(pkgs) > 0:
		add(KindGoNativeCrypto, Failure,
			version+" does its cryptography with Go's own implementation ("+listPkgs(pkgs)+"), outside any FIPS mode"+claimed,
			"build with GOFIPS140 (Go's FIPS 140-3 module), an OpenSSL-backed Go toolchain, or cgo against the system libcrypto")
	}
	return g.boring != ""
}

// routed tells whether the backend has the function that pkg calls instead
// of its own implementation.
func routed(pkg string, backend []string) bool {
	if len(backend) == 0 {
		return false
	}
	token, ok := routeTokens[pkg]
	if !ok {
		return false
	}
	if token == "" {
		return true
	}
	for _, fn := range backend {
		if strings.Contains(fn, token) {
			return true
		}
	}
	return false
}

func listPkgs(pkgs []string) string {
	if len(pkgs) > 6 {
		return strings.Join(pkgs[:6], ", ") + fmt.Sprintf(" and %d more", len(pkgs)-6)
	}
	return strings.Join(pkgs, ", ")
}

// goFIPS140Mode says what turns on the Go Cryptographic Module's FIPS
// 140-3 mode in a binary: the default GODEBUG it was linked with, or the
// image's Env, which the runtime reads at start (Go 1.24 and later, whose
// standard crypto is that module). "" when nothing does.
func (s *scanner) goFIPS140Mode(ef *elf.File, version string) (mode, why string) {
	if goAtLeast(version, 24) {
		// The environment wins over the linked default; the last setting
		// of a name wins.
		env := ""
		for _, kv := range strings.Split(s.opts.Env["GODEBUG"], ",") {
			if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "fips140" {
				env = v
			}
		}
		// fips140=off over a binary linked in FIPS mode is reported as
		// such (envFindings).
		if env == "on" || env == "only" {
			return env, "the image's Env sets GODEBUG=" + s.opts.Env["GODEBUG"]
		}
	}
	why = s.godebugFIPS140(ef)
	switch {
	case strings.HasSuffix(why, "fips140=only"):
		return "only", why
	case why != "":
		return "on", why
	}
	return "", ""
}

// outsideGoModule lists the crypto packages of a Go binary that the Go
// Cryptographic Module does not cover in mode: golang.org/x/crypto always;
// MD5, RC4, DES and DSA unless fips140=only makes them refuse.
func outsideGoModule(pkgs []string, mode string) []string {
	var out []string
	for _, p := range pkgs {
		switch {
		case strings.HasPrefix(p, "golang.org/x/crypto/"):
			out = append(out, p)
		case mode != "only" && (p == "crypto/md5" || p == "crypto/rc4" || p == "crypto/des" || p == "crypto/dsa"):
			out = append(out, p)
		}
	}
	return out
}

// goAtLeast tells whether a Go version (go1.24.4, go1.25rc1 X:…) is at
// least go1.minor.
func goAtLeast(version string, minor int) bool {
	v, ok := strings.CutPrefix(version, "go1.")
	if !ok {
		return false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n >= minor
}

// godebugFIPS140 finds fips140=on or only in the default GODEBUG that the
// linker wrote into the binary (runtime.godebugDefault), which is what
// turns the mode on at run time. The linker stores that value as a C string
// of comma-separated settings; the build information's DefaultGODEBUG line
// (ended by a newline) is a copy anyone can write, and Go's own string
// literals are not NUL-terminated: neither counts.
func (s *scanner) godebugFIPS140(ef *elf.File) string {
	r, err := sectionReader(ef, ".rodata")
	if err != nil {
		return ""
	}
	setting := ""
	_ = s.scanFor(r, [][]byte{markerFIPS140On}, func(_, after []byte) {
		v := "fips140=on"
		if bytes.HasPrefix(after, []byte("ly")) {
			v, after = "fips140=only", after[2:]
		}
		if len(after) == 0 || (after[0] != ',' && after[0] != 0) {
			return
		}
		end := bytes.IndexFunc(after, func(c rune) bool { return !isGodebugByte(c) })
		if end >= 0 && after[end] == 0 && setting == "" {
			setting = v
		}
	})
	if setting == "" {
		return ""
	}
	return "the default GODEBUG it was linked with has " + setting
}

func isGodebugByte(c rune) bool {
	return c == ',' || c == '=' || c == '.' || c == '_' || c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// importsSymbol tells whether the file takes name from a shared library.
func importsSymbol(ef *elf.File, name string) bool {
	syms, _ := ef.DynamicSymbols()
	for _, sym := range syms {
		if sym.Section == elf.SHN_UNDEF && sym.Name == name {
			return true
		}
	}
	return false
}

// readClaims reads what a Go binary's build information says of its
// crypto: hints, never evidence, but for BoringCrypto, whose claim is
// believed since it can only fail the binary.
func (g *goFacts) readClaims(bi *buildinfo.BuildInfo) {
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	experiments := settings["GOEXPERIMENT"]
	for _, e := range strings.Split(experiments, ",") {
		switch e {
		case "boringcrypto":
			g.boringClaim = "GOEXPERIMENT=" + experiments
		case "opensslcrypto", "systemcrypto", "cngcrypto", "darwincrypto":
			g.claims = append(g.claims, "GOEXPERIMENT="+experiments)
		}
	}
	if strings.Contains(bi.GoVersion, "X:boringcrypto") {
		g.boringClaim = "Go version " + bi.GoVersion
	}
	if tags := settings["-tags"]; tags != "" {
		for _, t := range strings.Split(tags, ",") {
			switch t {
			case "requirefips", "goexperiment.opensslcrypto", "goexperiment.systemcrypto":
				g.claims = append(g.claims, "-tags="+tags)
			case "goexperiment.boringcrypto":
				g.boringClaim = "-tags=" + tags
			}
		}
	}
	for _, m := range bi.Deps {
		if strings.Contains(m.Path, "golang-fips/openssl") {
			g.claims = append(g.claims, "a dependency on "+m.Path+" "+m.Version)
		}
	}
	if v := settings["GOFIPS140"]; v != "" && v != "off" {
		g.claims = append(g.claims, "GOFIPS140="+v)
	}
}

// readFunctionTable reads which crypto packages, OpenSSL bindings and
// backend functions are linked in from the function name table, which
// stripping keeps.
func (s *scanner) readFunctionTable(ef *elf.File, g *goFacts) {
	if r, err := sectionReader(ef, ".gopclntab", ".data.rel.ro.gopclntab"); err == nil {
		_ = s.scanFor(r, [][]byte{markerCrypto, markerXCrypto, markerVendorX, markerGolangFIPS, markerMSOpenSSL}, func(m, after []byte) {
			name := string(after[:max(0, bytes.IndexByte(after, 0))])
			switch {
			case bytes.Equal(m, markerGolangFIPS), bytes.Equal(m, markerMSOpenSSL):
				if g.binding == "" && strings.Contains(name, ".") {
					g.binding = string(m) + name
				}
				return
			case !bytes.Equal(m, markerCrypto):
				if pkg, _, ok := strings.Cut(name, "."); ok {
					g.cryptoPkgs["golang.org/x/crypto/"+pkg] = true
				}
				return
			}
			switch {
			case strings.HasPrefix(name, markerBoringCgo):
				if g.boring == "" {
					g.boring = "links crypto/" + markerBoringCgo + "…"
				}
			case strings.HasPrefix(name, markerBoringSig):
				g.boringSig = true
			case strings.HasPrefix(name, markerBackend):
				g.backend = append(g.backend, strings.TrimPrefix(name, markerBackend))
			}
			pkg := "crypto/" + name
			if i := strings.IndexByte(pkg, '.'); i > 0 {
				pkg = pkg[:i]
			}
			if _, ok := routeTokens[pkg]; ok {
				g.cryptoPkgs[pkg] = true
			}
		})
	}
}
