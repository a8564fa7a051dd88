package inventory

import (
	"bytes"
	"debug/elf"
	"slices"
)

// codeMark is a byte string that a crypto library's code cannot do
// without, so that it survives stripping (it is data, not a symbol) and
// dead-code elimination (the code that is kept refers to it).
type codeMark struct {
	text    []byte
	library string
	why     string
}

// codeMarks are searched in what an ELF file maps read-only. Chosen for
// what every linked-in use of the library drags along, and for their
// absence elsewhere: a program that merely uses libcrypto through its
// shared library carries none of them.
//
// The first mark found names the library, so the most telling come first.
var codeMarks = []codeMark{
	// Source file names that ERR_raise records: the EVP layer and the
	// providers raise errors everywhere. BoringSSL and AWS-LC keep their
	// core under crypto/fipsmodule.
	{[]byte("crypto/fipsmodule/"), "BoringSSL or AWS-LC", "the source file names its error reporting records (crypto/fipsmodule/…)"},
	{[]byte("providers/implementations/"), "OpenSSL 3", "the source file names its error reporting records (providers/implementations/…)"},
	// The default and FIPS providers' algorithm name table: every fetch
	// of SHA-256 goes through it.
	{[]byte("SHA2-256:SHA-256:SHA256"), "OpenSSL 3", "its providers' algorithm name table (SHA2-256:SHA-256:SHA256)"},
	{[]byte("crypto/evp/"), "OpenSSL (or BoringSSL, AWS-LC)", "the source file names its error reporting records (crypto/evp/…)"},
	// cpuid.c/armcap.c read the capability override from the environment
	// when the library starts; every assembly routine needs those
	// capabilities, so any use of the assembly links it. The NUL keeps
	// symbol names (OPENSSL_ia32cap_P) in a dynamic string table out.
	{[]byte("OPENSSL_ia32cap\x00"), "OpenSSL (or BoringSSL, AWS-LC)", "the CPU capability setup of its assembly (OPENSSL_ia32cap)"},
	{[]byte("OPENSSL_armcap\x00"), "OpenSSL (or BoringSSL, AWS-LC)", "the CPU capability setup of its assembly (OPENSSL_armcap)"},
	{[]byte("OPENSSL_ppccap\x00"), "OpenSSL", "the CPU capability setup of its assembly (OPENSSL_ppccap)"},
	{[]byte("OPENSSL_s390xcap\x00"), "OpenSSL", "the CPU capability setup of its assembly (OPENSSL_s390xcap)"},
	{[]byte("OPENSSL_riscvcap\x00"), "OpenSSL", "the CPU capability setup of its assembly (OPENSSL_riscvcap)"},
	// The perlasm modules end their constant tables with this banner
	// (in the code segment in OpenSSL 3.0, where only files without a
	// separate read-only segment are searched).
	{[]byte("CRYPTOGAMS by <appro@openssl.org>"), "OpenSSL's assembly (CRYPTOGAMS: OpenSSL, BoringSSL, AWS-LC, GnuTLS)", "the banner after its assembly's constant tables"},
	{versionMark, "OpenSSL", "its version text (OPENSSL_VERSION_TEXT)"},
}

// versionMark is OPENSSL_VERSION_TEXT's start: counted only when a
// release and a date follow, and only in a file that does not load
// libcrypto (a program may quote the version of the library it loads).
var versionMark = []byte("OpenSSL ")

// markPrefixes are what the scan searches for: marks that share a prefix
// are told apart by what follows it, so that the data is read with fewer
// passes than there are marks.
var markPrefixes = func() [][]byte {
	var out [][]byte
	for _, m := range codeMarks {
		p := markPrefix(m.text)
		if !slices.ContainsFunc(out, func(q []byte) bool { return bytes.Equal(p, q) }) {
			out = append(out, p)
		}
	}
	return out
}()

func markPrefix(text []byte) []byte {
	for _, p := range [][]byte{[]byte("OPENSSL_"), []byte("crypto/")} {
		if bytes.HasPrefix(text, p) {
			return p
		}
	}
	return text
}

// codeSignature searches what the file maps read-only for the code marks,
// and returns the first of codeMarks that it holds.
func (s *scanner) codeSignature(ef *elf.File, loadsLibcrypto bool) (codeMark, bool) {
	best := len(codeMarks)
	for _, r := range dataSegments(ef) {
		_ = s.scanFor(r, markPrefixes, func(prefix, after []byte) {
			for i, m := range codeMarks[:best] {
				if !bytes.Equal(markPrefix(m.text), prefix) || !bytes.HasPrefix(after, m.text[len(prefix):]) {
					continue
				}
				if bytes.Equal(m.text, versionMark) && (loadsLibcrypto || !opensslVersionText.Match(after)) {
					continue
				}
				best = i
				return
			}
		})
	}
	if best == len(codeMarks) {
		return codeMark{}, false
	}
	return codeMarks[best], true
}

// isOpenSSLModule tells an OpenSSL provider or engine: a shared object, not
// a program, that libcrypto itself loads. It carries OpenSSL's code by
// design (the FIPS module, the legacy provider), and whether it is used is
// the configuration's business, which the FIPS checks verify.
func isOpenSSLModule(ef *elf.File, program bool) bool {
	if program {
		return false
	}
	syms, _ := ef.DynamicSymbols()
	for _, sym := range syms {
		if sym.Section != elf.SHN_UNDEF && (sym.Name == "OSSL_provider_init" || sym.Name == "bind_engine") {
			return true
		}
	}
	return false
}
