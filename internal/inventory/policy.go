package inventory

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/pkgdb"
)

// What the application reaches is judged harder than the rest of the
// image (docs/verdict.md): crypto that bypasses the verified module fails
// when the application can run it. The rules below rest on the code that
// the files carry and import; each finding says whether it is proof or a
// strong hint.

// primitiveLibrary is a crypto library other than OpenSSL, recognised in
// an importer by the names of the primitives it imports.
type primitiveLibrary struct {
	name     string
	prefixes []string
	exact    []string
	// helpers are imports of the library that do no cryptography.
	helpers []string
	// needed: the prefixes are another library's too, so the importer must
	// need one of these for its imports to count.
	needed []string
	// family are the library's own files, whose imports of one another
	// are the library's business.
	family []string
	// hint: using it is a strong hint of crypto outside the module, not
	// proof (crypt(3), which perl links for its crypt builtin).
	hint string
}

var primitiveLibraries = []primitiveLibrary{
	{name: "Nettle", prefixes: []string{"nettle_"}, family: []string{"libnettle.so", "libhogweed.so"},
		helpers: []string{"nettle_base64_", "nettle_base16_", "nettle_buffer_", "nettle_memxor", "nettle_memeql_sec", "nettle_cnd_memcpy", "nettle_version_", "nettle_mpz_"}},
	{name: "libgcrypt", prefixes: []string{"gcry_md_", "gcry_cipher_", "gcry_mac_", "gcry_pk_", "gcry_kdf_", "gcry_ecc_"}},
	{name: "GnuTLS", family: []string{"libgnutls"}, prefixes: []string{"gnutls_hash", "gnutls_hmac", "gnutls_cipher_", "gnutls_aead_", "gnutls_privkey_sign", "gnutls_pubkey_verify", "gnutls_handshake", "gnutls_record_"}},
	{name: "libsodium", prefixes: []string{"crypto_", "randombytes_"}, needed: []string{"libsodium.so"}},
	{name: "Mbed TLS", prefixes: []string{"mbedtls_md", "mbedtls_sha", "mbedtls_aes_", "mbedtls_cipher_", "mbedtls_pk_", "mbedtls_ssl_", "mbedtls_gcm_", "mbedtls_hmac", "mbedtls_ecdsa_", "mbedtls_rsa_"}},
	{name: "wolfSSL", prefixes: []string{"wc_", "wolfSSL_"}},
	{name: "NSS", prefixes: []string{"PK11_", "HASH_", "SGN_", "VFY_", "SEC_PKCS"}, needed: []string{"libnss3.so", "libsoftokn3.so", "libfreebl"}},
	{name: "libmd", exact: []string{"MD2Init", "MD4Init", "MD5Init", "RMD160Init", "SHA1Init", "SHA256Init", "SHA384Init", "SHA512Init", "SHA512_256Init", "MD5Data", "SHA1Data", "SHA256Data"}, needed: []string{"libmd.so"}},
	{name: "libxcrypt", exact: []string{"crypt", "crypt_r", "crypt_rn", "crypt_ra"},
		hint: "crypt(3) hashes passwords outside the module (perl links it for its crypt builtin)"},
}

// lowLevel are OpenSSL functions that compute with libcrypto's own code,
// never through a provider: the deprecated digest, cipher and public-key
// APIs. A FIPS provider never sees what goes through them.
var (
	lowLevelPrefixes = []string{
		"MD2_", "MD4_", "MD5_", "MDC2_", "RIPEMD160_", "SHA1_", "SHA224_", "SHA256_", "SHA384_", "SHA512_", "WHIRLPOOL_",
		"AES_", "DES_", "BF_", "CAST_", "RC2_", "RC4_", "RC5_32_", "IDEA_", "SEED_", "Camellia_",
		// Engines and legacy method tables replace what a provider would
		// compute (an engine's RAND method replaces the DRBG).
		"ENGINE_", "RSA_meth_", "DSA_meth_", "DH_meth_", "EC_KEY_METHOD_", "EVP_MD_meth_", "EVP_CIPHER_meth_", "EVP_PKEY_meth_",
		"RSA_padding_add_", "ECDSA_sign", "ECDSA_do_sign", "DSA_generate_parameters", "DH_generate_parameters",
	}
	lowLevelExact = []string{
		"MD4", "MD5", "MDC2", "RIPEMD160", "WHIRLPOOL", "RC4",
		"RSA_public_encrypt", "RSA_private_decrypt", "RSA_private_encrypt", "RSA_public_decrypt", "RSA_sign", "RSA_verify",
		"RSA_generate_key_ex", "RSA_generate_multi_prime_key", "DSA_sign", "DSA_verify", "DSA_do_sign", "DSA_do_verify",
		"DSA_generate_key", "ECDSA_sign", "ECDSA_do_sign", "ECDSA_verify", "ECDSA_do_verify", "ECDH_compute_key",
		"EC_KEY_generate_key", "DH_generate_key", "DH_compute_key", "DH_compute_key_padded", "RSA_generate_key",
		"DSA_sign_setup", "RSA_sign_ASN1_OCTET_STRING", "RSA_verify_ASN1_OCTET_STRING", "ECDH_KDF_X9_62",
		"RSA_set_method", "DSA_set_method", "DH_set_method", "EC_KEY_set_method", "RAND_set_rand_method",
	}
	// lowLevelHarmless start like the above but do no cryptography.
	lowLevelHarmless = []string{"AES_options", "DES_options", "BF_options", "RC4_options", "IDEA_options", "CAST_options", "RC2_options"}
)

// providerLoaders load a provider by name; fetchers take a property query.
var providerLoaders = []string{"OSSL_PROVIDER_load", "OSSL_PROVIDER_try_load", "OSSL_PROVIDER_load_ex", "OSSL_PROVIDER_try_load_ex"}

// nonFIPSProviders are provider names a loader may be given.
var nonFIPSProviders = []string{"default", "legacy"}

// reachJudge holds what the scan needs to judge what the application
// reaches.
type reachJudge struct {
	reach   *Reach
	entries map[string]ReachEntry
	// packages are the image's package databases (dpkg, apk).
	packages *pkgdb.DB
	// nodeFIPS says why Node.js follows the image's FIPS configuration,
	// "" when nothing says so.
	nodeFIPS string
}

func newReachJudge(root imagefs.Root, reach *Reach, opts Options) *reachJudge {
	if reach == nil || len(reach.Entries) == 0 {
		return nil
	}
	j := &reachJudge{reach: reach, entries: map[string]ReachEntry{}, packages: pkgdb.Read(root)}
	for _, e := range reach.Entries {
		if _, ok := j.entries[e.Path]; !ok || !e.Observed {
			j.entries[e.Path] = e
		}
	}
	j.nodeFIPS = nodeSharedConfig(reach, opts)
	return j
}

// nodeSharedConfig says why Node.js reads the image's FIPS configuration:
// the configuration's nodejs_conf is openssl_conf's section, NODE_OPTIONS
// has --openssl-shared-config, or every command line that runs node gives
// it among node's own options (before the script). --force-fips and
// --enable-fips alone do not count: without the shared configuration the
// FIPS provider has no configuration, and Node refuses to start.
func nodeSharedConfig(reach *Reach, opts Options) string {
	if opts.NodeSharedConfig != "" {
		return opts.NodeSharedConfig
	}
	if slices.Contains(strings.Fields(opts.Env["NODE_OPTIONS"]), "--openssl-shared-config") {
		return "NODE_OPTIONS has --openssl-shared-config"
	}
	runs := 0
	for prog, argvs := range reach.invocations {
		if b := path.Base(prog); b != "node" && b != "nodejs" {
			continue
		}
		for _, argv := range argvs {
			runs++
			shared := false
			for _, a := range argv[1:] {
				if !strings.HasPrefix(a, "-") {
					break // the script: what follows is its own
				}
				shared = shared || a == "--openssl-shared-config"
			}
			if !shared {
				return ""
			}
		}
	}
	if runs == 0 {
		return ""
	}
	return "run with --openssl-shared-config"
}

// appCode tells whether a file in the reach is the application's own code
// rather than the distribution's: a program, or a library that the
// image's package database does not list — or, in an image without one, a
// library outside /lib, /usr/lib, /lib64 and /usr/lib64 (RPATH, RUNPATH,
// LD_LIBRARY_PATH, /usr/local, /opt, a preload).
func (j *reachJudge) appCode(name string, program bool) bool {
	return program || !j.distributions(name)
}

// distributions tells a file of the distribution's: listed by its package
// database, or, without one, a library in its library tree.
func (j *reachJudge) distributions(name string) bool {
	if j.packages.HasFiles() {
		return j.packages.Lists(name)
	}
	if strings.HasPrefix(name, "/usr/local/") {
		return false
	}
	for _, d := range []string{"/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/"} {
		if strings.HasPrefix(name, d) {
			return true
		}
	}
	return false
}

// judgeReach judges one file in the application's reach: the findings of
// the scan from start on are the file's; the crypto it imports and
// carries is looked for here.
func (s *scanner) judgeReach(ef *elf.File, name string, e ReachEntry, start int, facts fileFacts) {
	j := s.judge
	own := j.appCode(name, facts.program)
	// A program of the distribution's is judged on what it imports; what
	// cannot be told of it (constants, a stripped static build) is a hint.
	distributed := facts.program && j.distributions(name)
	where := "in the application's reach (" + e.Via + ")"
	multiCall := path.Base(name) == "busybox"
	switch {
	case multiCall:
		s.appletFindings(name)
	case !facts.judged:
		s.reachImports(ef, name, facts, own)
		if own && !facts.goBinary && !facts.runtime {
			if algs := s.algorithmsIn(ef); len(algs) > 0 {
				f := Finding{Path: name, Kind: KindOwnCrypto, Severity: Failure,
					Evidence: "carries its own " + strings.Join(algs, ", ") + " (the algorithms' constants are in its code or data): a strong hint that it hashes or encrypts without the module",
					Remedy:   "use the verified libcrypto's EVP API instead"}
				if distributed {
					f.Severity = Warning
					f.Evidence += "; a program of the distribution's, whose package lists it"
				}
				s.add(f)
			}
		}
	}
	if facts.opensslModule && e.Observed && !s.isVerifiedModule(name) {
		s.add(Finding{Path: name, Kind: KindNonFIPSFetch, Severity: Failure,
			Evidence: "the application loaded this OpenSSL provider or engine while it ran, besides the verified FIPS module (" + orNone(s.opts.VerifiedModule) + "): what it serves is not the FIPS module's",
			Remedy:   "load only the fips (and base) provider"})
	}
	for i := start; i < len(s.inv.Findings); i++ {
		f := &s.inv.Findings[i]
		f.Reach = e.Via
		switch f.Kind {
		case KindGoOpenSSLMixed, KindLibcryptoCopy, KindRuntimeJava:
			f.Severity = Failure
		case KindGoFIPS140:
			if len(facts.goOutside) > 0 {
				f.Severity = Failure
			}
		case KindUninspectable:
			if !multiCall && !distributed {
				f.Severity = Failure
			}
		case KindCryptoLibrary:
			switch {
			case e.Observed && e.DependencyOf == "":
				f.Severity = Failure
				f.Evidence += "; the application loaded it while it ran, and nothing loaded with it needs it: the application's own dlopen"
			case e.Observed:
				f.Evidence += "; loaded while the application ran, as a dependency of " + e.DependencyOf + ", whose imports are judged"
			}
		case KindRuntimeNode:
			switch {
			case !strings.Contains(f.Evidence, "system libcrypto"):
				f.Severity = Failure
			case j.nodeFIPS == "":
				f.Severity = Failure
				f.Evidence += ", run without --openssl-shared-config and with no nodejs_conf in the configuration: it reads its own nodejs_conf section, not the image's openssl_conf, so its crypto does not follow the FIPS configuration"
				f.Remedy = "run node with --openssl-shared-config (and --force-fips, which turns a broken module into a clean refusal), or set nodejs_conf to the openssl_conf section"
			default:
				f.Severity = Info
				f.Evidence += "; " + j.nodeFIPS + ": it follows the image's FIPS configuration"
			}
		case KindRuntimePython:
			if facts.pythonBuiltinHashes != "" {
				f.Severity = Failure
				f.Evidence = "Python with built-in digests (" + facts.pythonBuiltinHashes + "): hashlib falls back to them when OpenSSL refuses an algorithm, and hashlib.md5(usedforsecurity=False) never asks OpenSSL"
			}
		}
		if f.Severity == Failure || f.Severity == Warning {
			f.Evidence += "; " + where
		}
	}
}

// fileFacts is what the scan learnt of a file that the reach rules use.
type fileFacts struct {
	program, goBinary, runtime bool
	// verified: it is the verified libcrypto.
	verified bool
	// opensslModule: an OpenSSL provider or engine.
	opensslModule bool
	// judged: the file is a crypto library or module, or carries one;
	// its own findings say so.
	judged bool
	// needsVerified: it needs the verified libcrypto.
	needsVerified       bool
	needed              []string
	pythonBuiltinHashes string
	// goOutside: a Go binary in FIPS 140-3 mode that links crypto outside
	// the Go module.
	goOutside []string
}

// reachImports reports what a file in the reach imports: another crypto
// library's primitives, OpenSSL's low-level API, a non-FIPS provider or
// property query.
func (s *scanner) reachImports(ef *elf.File, name string, facts fileFacts, own bool) {
	syms, _ := ef.DynamicSymbols()
	var imports []string
	for _, sym := range syms {
		if sym.Section == elf.SHN_UNDEF && sym.Name != "" {
			imports = append(imports, sym.Name)
		}
	}
	if len(imports) == 0 {
		return
	}
	sort.Strings(imports)
	severity := func(hint bool) string {
		if own && !hint {
			return Failure
		}
		return Warning
	}
	whose := "it"
	if !own {
		whose = "this library of the system directories (a hint: what the application calls of it cannot be told)"
	}
	for _, lib := range primitiveLibraries {
		if slices.ContainsFunc(lib.family, func(f string) bool { return strings.HasPrefix(path.Base(name), f) }) {
			continue
		}
		if len(lib.needed) > 0 && !slices.ContainsFunc(lib.needed, func(n string) bool { return hasNeeded(facts.needed, n) }) {
			continue
		}
		var hits []string
		for _, sym := range imports {
			if lib.isPrimitive(sym) {
				hits = append(hits, sym)
			}
		}
		if len(hits) == 0 {
			continue
		}
		f := Finding{Path: name, Kind: KindImportsCryptoLibrary, Severity: severity(lib.hint != ""),
			Evidence: fmt.Sprintf("%s imports %s's primitives (%s): crypto outside the FIPS module", whose, lib.name, listSyms(hits)),
			Remedy:   "do this crypto through the verified libcrypto's EVP API"}
		if lib.hint != "" {
			f.Evidence += "; a hint: " + lib.hint
		}
		s.add(f)
	}
	if isOpenSSLLibrary(name, facts) {
		return
	}
	var low []string
	for _, sym := range imports {
		if isLowLevel(sym) {
			low = append(low, sym)
		}
	}
	if len(low) > 0 {
		s.add(Finding{Path: name, Kind: KindOpenSSLLowLevel, Severity: severity(false),
			Evidence: fmt.Sprintf("%s imports OpenSSL's low-level API (%s), which computes with libcrypto's own code and never goes through a provider: not the FIPS module", whose, listSyms(low)),
			Remedy:   "use EVP_Digest*, EVP_Cipher*, EVP_PKEY_* (fetched under the default properties) instead"})
	}
	if !facts.needsVerified && !hasNeeded(facts.needed, "libcrypto.so") && !hasNeeded(facts.needed, "libssl.so") {
		return
	}
	var evidence []string
	if loader := firstOf(imports, providerLoaders); loader != "" {
		for _, p := range nonFIPSProviders {
			if s.hasCString(ef, p) {
				evidence = append(evidence, fmt.Sprintf("imports %s and carries the provider name %q", loader, p))
				break
			}
		}
	}
	if q := s.nonFIPSQuery(ef); q != "" {
		evidence = append(evidence, fmt.Sprintf("carries the property query %q", q))
	}
	if len(evidence) > 0 {
		s.add(Finding{Path: name, Kind: KindNonFIPSFetch, Severity: severity(false),
			Evidence: whose + " " + strings.Join(evidence, " and ") + ": a strong hint that it fetches algorithms outside the FIPS provider",
			Remedy:   "load only the fips (and base) provider, and fetch with NULL or fips=yes properties"})
	}
}

func (l primitiveLibrary) isPrimitive(sym string) bool {
	if slices.Contains(l.exact, sym) {
		return true
	}
	for _, h := range l.helpers {
		if strings.HasPrefix(sym, h) {
			return false
		}
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(sym, p) {
			return true
		}
	}
	return false
}

func isLowLevel(sym string) bool {
	if slices.Contains(lowLevelExact, sym) {
		return true
	}
	if slices.Contains(lowLevelHarmless, sym) {
		return false
	}
	for _, p := range lowLevelPrefixes {
		if strings.HasPrefix(sym, p) {
			return true
		}
	}
	return false
}

// isOpenSSLLibrary tells OpenSSL's own files on the verified libcrypto:
// libssl, whose legacy record code uses the low-level digests, and the
// openssl command, which loads what its command line asks (-provider,
// -propquery, -legacy) and which the self-test runs.
func isOpenSSLLibrary(name string, facts fileFacts) bool {
	base := path.Base(name)
	return facts.needsVerified && (!facts.program && strings.HasPrefix(base, "libssl.so") ||
		facts.program && base == "openssl" && hasNeeded(facts.needed, "libssl.so"))
}

func firstOf(sorted, names []string) string {
	for _, n := range names {
		if i := sort.SearchStrings(sorted, n); i < len(sorted) && sorted[i] == n {
			return n
		}
	}
	return ""
}

func listSyms(syms []string) string {
	if len(syms) > 4 {
		return strings.Join(syms[:4], ", ") + fmt.Sprintf(" and %d more", len(syms)-4)
	}
	return strings.Join(syms, ", ")
}

// hasCString tells whether the file's read-only data holds text as a
// NUL-terminated string, or the tail of one after a blank (a linker
// merges "default" into "the provider default").
func (s *scanner) hasCString(ef *elf.File, text string) bool {
	found := false
	for _, r := range dataSegments(ef) {
		_ = s.scanFor(r, [][]byte{[]byte("\x00" + text + "\x00"), []byte(" " + text + "\x00")}, func(_, _ []byte) { found = true })
	}
	return found
}

// maxQueryScan bounds what is read of a file's data for property
// queries.
const maxQueryScan = 64 << 20

// nonFIPSQuery finds, in the file's loaded read-only data, a property
// query that opts out of FIPS, read as OpenSSL parses one: names are
// case-insensitive, blanks are skipped, "!=" negates. It returns the query
// as written, "" when there is none.
func (s *scanner) nonFIPSQuery(ef *elf.File) string {
	read := 0
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 || p.Flags&elf.PF_X != 0 || read >= maxQueryScan {
			continue
		}
		n := min(int(p.Filesz), maxQueryScan-read)
		data := make([]byte, n)
		n, _ = p.ReadAt(data, 0)
		read += n
		lower := bytes.ToLower(data[:n])
		for _, key := range [][]byte{[]byte("fips"), []byte("provider")} {
			for off := 0; ; {
				k := bytes.Index(lower[off:], key)
				if k < 0 {
					break
				}
				at := off + k
				off = at + len(key)
				start := bytes.LastIndexByte(lower[max(0, at-256):at], 0) + max(0, at-256) + 1
				end := bytes.IndexByte(lower[at:min(len(lower), at+256)], 0)
				if end < 0 {
					continue
				}
				if q := string(data[start : at+end]); optsOutOfFIPS(strings.ToLower(q)) {
					return q
				}
			}
		}
	}
	return ""
}

// optsOutOfFIPS tells a property query (lower case) with a clause that
// opts out of the FIPS provider: fips=no, fips!=yes, -fips, ?fips=yes (a
// preference, not a requirement), or another provider named.
func optsOutOfFIPS(q string) bool {
	if len(q) > 200 || !strings.ContainsAny(q, "=-?!") {
		return false
	}
	q = strings.NewReplacer(" ", "", "\t", "").Replace(q)
	for _, clause := range strings.Split(q, ",") {
		switch clause {
		case "fips=no", "fips=false", "fips!=yes", "fips!=true", "-fips", "?fips=yes", "?fips=true", "?fips",
			"provider=default", "provider=legacy", "provider=base", "provider!=fips", "?provider=fips":
			return true
		}
	}
	return false
}

func (s *scanner) isVerifiedModule(name string) bool {
	if s.opts.VerifiedModule == "" {
		return false
	}
	real, err := s.root.Real(s.opts.VerifiedModule)
	return err == nil && real == name
}

// hashingApplets are the applets of a multi-call binary (BusyBox) that
// hash with its own code.
var hashingApplets = map[string]string{
	"md5sum": "MD5", "sha1sum": "SHA-1", "sha256sum": "SHA-256", "sha512sum": "SHA-512", "sha3sum": "SHA-3",
	"sha224sum": "SHA-224", "sha384sum": "SHA-384", "cryptpw": "crypt(3)", "mkpasswd": "crypt(3)",
}

// appletFindings judges a multi-call binary by the applets the reach runs
// it as, not by the constants of every applet it carries: a shell of
// BusyBox is no hash, its md5sum is.
func (s *scanner) appletFindings(name string) {
	var run []string
	for _, argv := range s.judge.reach.Invocations(name) {
		applet := path.Base(argv[0])
		if applet == "busybox" && len(argv) > 1 {
			applet = argv[1]
		}
		if alg, ok := hashingApplets[applet]; ok && !slices.Contains(run, applet+" ("+alg+")") {
			run = append(run, applet+" ("+alg+")")
		}
	}
	if len(run) > 0 {
		sort.Strings(run)
		s.add(Finding{Path: name, Kind: KindOwnCrypto, Severity: Failure,
			Evidence: "the application runs its " + strings.Join(run, ", ") + " applet: BusyBox's own implementation, not the module",
			Remedy:   "hash with openssl dgst (on the verified libcrypto) instead"})
	}
}
