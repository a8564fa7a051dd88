package inventory

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// Options tune a scan.
type Options struct {
	// Env is the image config's environment (LD_LIBRARY_PATH, GODEBUG…).
	Env map[string]string
	// VerifiedLibcrypto is the libcrypto the FIPS checks verified, as an
	// image path; "" when there is none.
	VerifiedLibcrypto string
	Strict            bool
	Exceptions        []Exception
	// Skip lists image paths that are not the image's: the check
	// container's own mounts.
	Skip []string
	// Reach is what the application reaches (ResolveReach, and what it was
	// seen to load): those files are judged harder (docs/verdict.md).
	Reach *Reach
	// VerifiedModule is the FIPS module the checks verified, as an image
	// path: the one provider the application may be seen to load.
	VerifiedModule string
	// NodeSharedConfig says why Node.js reads the image's FIPS
	// configuration without being told to, "" when it does not.
	NodeSharedConfig string
	// AppArgs is the application's command, whose flags some runtimes
	// take their FIPS mode from.
	AppArgs []string
}

// scanWorkers bounds how many files are read at once.
const scanWorkers = 4

// skipDirs are pseudo-filesystems and mount points whose contents are not
// part of an image.
var skipDirs = map[string]bool{"/proc": true, "/sys": true, "/dev": true}

// Scan walks the image at root and returns its crypto inventory.
func Scan(root imagefs.Root, opts Options) (*Inventory, error) {
	s := newScanner(root, opts)
	type file struct{ hostPath, name string }
	var files []file
	err := filepath.WalkDir(root.Dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root.Dir, p)
		name := path.Clean("/" + filepath.ToSlash(rel))
		if err != nil {
			// An unreadable directory is reported, not fatal.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skipDirs[name] || slices.Contains(opts.Skip, name) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		// Counted as listed: a file removed while the scan reads still
		// counts, and is reported as unreadable.
		s.inv.Stats.Files++
		files = append(files, file{p, name})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Files are read by a few workers at once; their findings are put
	// together in the order of the listing, so that the inventory does not
	// depend on which worker was quicker.
	type result struct {
		findings   []Finding
		goBinaries []goCrypto
		stats      Stats
	}
	results := make([]result, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), scanWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &scanner{root: s.root, opts: s.opts, libDirs: s.libDirs, verified: s.verified, judge: s.judge}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				w.inv, w.goBinaries = &Inventory{}, nil
				w.file(files[i].hostPath, files[i].name)
				results[i] = result{w.inv.Findings, w.goBinaries, w.inv.Stats}
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		s.inv.Findings = append(s.inv.Findings, r.findings...)
		s.goBinaries = append(s.goBinaries, r.goBinaries...)
		st := &s.inv.Stats
		st.ELFFiles, st.GoFiles = st.ELFFiles+r.stats.ELFFiles, st.GoFiles+r.stats.GoFiles
		st.Bytes, st.ReadBytes = st.Bytes+r.stats.Bytes, st.ReadBytes+r.stats.ReadBytes
	}
	s.envFindings()
	s.reachIncomplete()
	s.inv.Reach = opts.Reach
	s.inv.finish(opts.Strict, opts.Exceptions)
	return s.inv, nil
}

// ScanFiles judges only the named files (image paths, symlinks resolved),
// as Scan would in the same image: what the application was seen to load
// that its static reach did not hold.
func ScanFiles(root imagefs.Root, names []string, opts Options) *Inventory {
	s := newScanner(root, opts)
	for _, name := range names {
		real, err := root.Real(name)
		if err != nil {
			continue
		}
		host, err := root.Resolve(real)
		if err != nil {
			continue
		}
		if st, err := os.Lstat(host); err != nil || !st.Mode().IsRegular() {
			continue
		}
		s.inv.Stats.Files++
		s.file(host, real)
	}
	s.envFindings()
	s.reachIncomplete()
	s.inv.Reach = opts.Reach
	s.inv.finish(opts.Strict, opts.Exceptions)
	return s.inv
}

// reachIncomplete fails a reach that could not be followed to its end:
// what it left out was not judged.
func (s *scanner) reachIncomplete() {
	if r := s.opts.Reach; r != nil && r.Incomplete != "" {
		s.add(Finding{Path: "/", Kind: KindReachIncomplete, Severity: Failure, Evidence: r.Incomplete,
			Remedy: "start the application from a smaller script, or accept it with an exception of kind " + KindReachIncomplete})
	}
}

func newScanner(root imagefs.Root, opts Options) *scanner {
	s := &scanner{root: root, opts: opts, inv: &Inventory{}}
	s.libDirs = LibraryDirs(root, opts.Env)
	if opts.VerifiedLibcrypto != "" {
		s.verified, _ = root.Real(opts.VerifiedLibcrypto)
	}
	s.judge = newReachJudge(root, opts.Reach, opts)
	return s
}

type scanner struct {
	root     imagefs.Root
	opts     Options
	inv      *Inventory
	libDirs  []string
	verified string
	// goBinaries records each Go binary's crypto, for env overrides.
	goBinaries []goCrypto
	// buf is scanFor's buffer, reused from file to file.
	buf []byte
	// judge judges the files the application reaches; nil when none.
	judge *reachJudge
	// goOutside lists the crypto packages of the file being read that are
	// outside the Go Cryptographic Module it runs in FIPS mode.
	goOutside []string
}

func (s *scanner) scanFor(r io.Reader, markers [][]byte, fn func(marker, after []byte)) error {
	if s.buf == nil {
		s.buf = make([]byte, scanChunk*2+scanTail)
	}
	return scanForBuf(r, markers, fn, s.buf)
}

func (s *scanner) add(f Finding) { s.inv.Findings = append(s.inv.Findings, f) }

// countingReaderAt counts what the scan reads, so that benchmarks can show
// that large non-ELF files are not read.
type countingReaderAt struct {
	r io.ReaderAt
	n *int64
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	*c.n += int64(n)
	return n, err
}

func (s *scanner) file(hostPath, name string) {
	// Most files are not ELF and only their magic number is read: plain
	// system calls, without the bookkeeping of an *os.File (its poller
	// registration and flag queries cost more than the read).
	// O_NONBLOCK: a regular file listed may be something else by now.
	fd, err := syscall.Open(hostPath, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		s.add(Finding{Path: name, Kind: KindUnreadable, Severity: Warning, Evidence: "listed, but could not be read: " + err.Error(),
			Remedy: "make it readable, or look at what removes it"})
		return
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		s.add(Finding{Path: name, Kind: KindUnreadable, Severity: Warning, Evidence: "listed, but could not be read: " + err.Error(),
			Remedy: "make it readable, or look at what removes it"})
		return
	}
	s.inv.Stats.Bytes += st.Size
	var magic [4]byte
	n, err := syscall.Pread(fd, magic[:], 0)
	if n > 0 {
		s.inv.Stats.ReadBytes += int64(n)
	}
	if err != nil || n != len(magic) || string(magic[:]) != elf.ELFMAG {
		syscall.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), hostPath)
	defer f.Close()
	s.analyzeELF(countingReaderAt{f, &s.inv.Stats.ReadBytes}, st.Size, name)
}

// analyze classifies one file from its content: only the first bytes of a
// file that is not ELF are read.
func (s *scanner) analyze(r io.ReaderAt, size int64, name string) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return
	}
	s.analyzeELF(r, size, name)
}

// analyzeELF reads a file whose magic number says ELF.
func (s *scanner) analyzeELF(r io.ReaderAt, size int64, name string) {
	s.inv.Stats.ELFFiles++
	ef, err := elf.NewFile(r)
	if err != nil {
		s.unreadableELF(r, size, name, "debug/elf cannot parse it: "+err.Error())
		return
	}
	defer ef.Close()
	if ef.Type == elf.ET_REL || ef.Type == elf.ET_CORE {
		// Object files (.o, Go's .syso) and core dumps: neither the kernel
		// nor the dynamic linker loads them, so no process of the image
		// runs their code; what a toolchain links them into is judged
		// where it lies.
		return
	}
	if len(ef.Sections) == 0 {
		// Without section headers neither the symbols nor Go's function
		// table can be found, yet the kernel runs the file as well.
		s.unreadableELF(r, size, name, "it has no section headers, so its symbols and function table cannot be read")
		return
	}
	start := len(s.inv.Findings)
	facts := s.elfFile(r, ef, name)
	if s.judge != nil && !facts.verified {
		if e, ok := s.judge.entries[name]; ok {
			s.judgeReach(ef, name, e, start, facts)
		}
	}
}

// unreadableELF reports an ELF file the scan cannot judge: a failure when
// the kernel would still load it (it reads only the ELF header and the
// program headers), a warning when nothing could run it.
func (s *scanner) unreadableELF(r io.ReaderAt, size int64, name, why string) {
	if ok, what := kernelLoadable(r, size); ok {
		s.add(Finding{Path: name, Kind: KindUnreadableELF, Severity: Failure,
			Evidence: "the kernel would load it (" + what + "), but " + why + ": its crypto cannot be judged",
			Remedy:   "rebuild it with a standard toolchain, or remove it"})
	} else {
		s.add(Finding{Path: name, Kind: KindUnreadableELF, Severity: Warning,
			Evidence: why + "; neither the kernel nor the dynamic linker would load it (" + what + ")"})
	}
}

func (s *scanner) elfFile(r io.ReaderAt, ef *elf.File, name string) (facts fileFacts) {
	// The dynamic linker reads the dynamic segment, not the section that
	// says where it is.
	dyn := dynamicStrings(ef)
	needed := dyn[elf.DT_NEEDED]
	soname := ""
	if v := dyn[elf.DT_SONAME]; len(v) > 0 {
		soname = v[0]
	}
	program := isProgram(ef)
	facts.program, facts.needed = program, needed
	base := path.Base(name)
	real, _ := s.root.Real(name)
	if s.verified != "" && real == s.verified {
		facts.verified = true
		return facts
	}
	// A Go binary is an ELF file too: what its build information says is
	// a hint, and the C side is checked as for any other file.
	boring := false
	if bi, err := buildinfo.Read(r); err == nil {
		s.inv.Stats.GoFiles++
		facts.goBinary = true
		s.goOutside = nil
		boring = s.goBinary(ef, name, bi, needed)
		facts.goOutside = s.goOutside
	} else {
		switch {
		case isNode(ef, base, soname):
			// Node.js carries its own OpenSSL unless linked to the system's:
			// the runtime finding says which.
			s.add(runtimeFinding(name, KindRuntimeNode, needed))
			facts.runtime, facts.judged = true, true
			return facts
		case isPython(base, soname):
			s.add(runtimeFinding(name, KindRuntimePython, needed))
			facts.runtime = true
			facts.pythonBuiltinHashes = s.pythonBuiltinHashes(ef, name)
		case base == "libjvm.so" || (base == "java" && hasNeeded(needed, "libjli.so")):
			s.add(runtimeFinding(name, KindRuntimeJava, needed))
			facts.runtime = true
		}
	}
	// A library named libcrypto is OpenSSL's by name; a program that
	// calls itself libcrypto is judged as a program.
	if !program && (strings.HasPrefix(soname, "libcrypto.so") || (soname == "" && strings.HasPrefix(base, "libcrypto.so"))) {
		s.add(Finding{Path: name, Kind: KindLibcryptoCopy, Severity: Warning,
			Evidence: fmt.Sprintf("an OpenSSL libcrypto (%s) other than the one the FIPS checks verified (%s)", orNone(soname), orNone(s.opts.VerifiedLibcrypto)),
			Remedy:   "remove it, or make sure nothing loads it"})
		facts.judged = true
		return facts
	}
	facts.needsVerified = s.libcryptoNeeds(name, dyn)
	// BoringCrypto's BoringSSL is the Go finding's evidence already.
	if boring || s.cryptoSymbols(ef, name, soname) {
		facts.judged = true
		return facts
	}
	if isOpenSSLModule(ef, program) {
		facts.judged, facts.opensslModule = true, true
		return facts
	}
	mark, ok := s.codeSignature(ef, hasNeeded(needed, "libcrypto.so"))
	if !ok {
		if !facts.goBinary && isStripped(ef) && isStatic(ef, needed) {
			s.add(Finding{Path: name, Kind: KindUninspectable, Severity: Warning,
				Evidence: "a static executable without symbols: no crypto library's code marks were found in it, but what it links cannot be told from its symbols",
				Remedy:   "keep its symbol table (do not strip it), link it dynamically, or accept it with an exception that says what it is"})
		}
		return facts
	}
	facts.judged = true
	kind := KindEmbeddedCrypto
	if strings.HasPrefix(mark.library, "OpenSSL") {
		kind = KindStaticOpenSSL
	}
	s.add(Finding{Path: name, Kind: kind, Severity: Failure,
		Evidence: "carries " + mark.why + ": " + mark.library + " linked in, not the verified libcrypto",
		Remedy:   "link dynamically against the system libcrypto"})
	return facts
}

// isStripped tells a file without a symbol table.
func isStripped(ef *elf.File) bool {
	syms, err := ef.Symbols()
	return err != nil || len(syms) == 0
}

// isStatic tells a program that loads no shared object: no dynamic loader
// and nothing needed (static, or static-pie).
func isStatic(ef *elf.File, needed []string) bool {
	if len(needed) > 0 {
		return false
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	if ef.Type == elf.ET_EXEC {
		return true
	}
	// A static-pie is a shared object that says it is a program; the
	// dynamic loader is one that does not.
	flags, _ := ef.DynValue(elf.DT_FLAGS_1)
	return ef.Type == elf.ET_DYN && len(flags) > 0 && flags[0]&uint64(elf.DF_1_PIE) != 0
}

// pythonBuiltinHashes names the digests a Python carries besides OpenSSL's:
// built into the interpreter (PyInit__md5…), or as extension modules in
// its lib-dynload directory. "" when it has none.
func (s *scanner) pythonBuiltinHashes(ef *elf.File, name string) string {
	var found []string
	mods := []string{"_md5", "_sha1", "_sha2", "_sha256", "_sha512", "_sha3", "_blake2"}
	defined := definedSymbols(ef)
	for _, m := range mods {
		if slices.Contains(defined, "PyInit_"+m) {
			found = append(found, m+" (built in)")
		}
	}
	version := strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "libpython"), ".so")
	if i := strings.Index(version, ".so"); i >= 0 {
		version = version[:i]
	}
	version = strings.TrimPrefix(version, "python")
	version = strings.TrimRight(version, "dmu")
	if version != "" {
		for _, prefix := range []string{"/usr/lib", "/usr/local/lib"} {
			dir := prefix + "/python" + version + "/lib-dynload"
			names, _ := s.root.ReadDir(dir)
			sort.Strings(names)
			for _, n := range names {
				for _, m := range mods {
					if strings.HasPrefix(n, m+".") {
						found = append(found, path.Join(dir, n))
					}
				}
			}
		}
	}
	return strings.Join(found, ", ")
}

// isNode tells Node.js by its name and by the N-API it exports to addons.
func isNode(ef *elf.File, base, soname string) bool {
	if !isRuntime(base, soname, "node") {
		return false
	}
	syms, _ := ef.DynamicSymbols()
	for _, sym := range syms {
		if sym.Section != elf.SHN_UNDEF && sym.Name == "napi_module_register" {
			return true
		}
	}
	return false
}

// hasText tells whether the file's read-only data holds text.
func (s *scanner) hasText(ef *elf.File, text string) bool {
	found := false
	for _, r := range dataSegments(ef) {
		_ = s.scanFor(r, [][]byte{[]byte(text)}, func(_, _ []byte) { found = true })
	}
	return found
}

// isProgram tells an executable from a shared library: libraries export
// what they link in, programs need not.
func isProgram(ef *elf.File) bool {
	if ef.Type == elf.ET_EXEC {
		return true
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// opensslVersionText is OPENSSL_VERSION_TEXT, compiled into libcrypto and so
// into anything that links it statically and keeps the version function.
var opensslVersionText = regexp.MustCompile(`^ ?(\d+\.\d+\.\d+[a-z]?)(-[^ ]*)? +\d{1,2} [A-Z][a-z]{2} \d{4}`)

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func hasNeeded(needed []string, prefix string) bool {
	for _, n := range needed {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func isRuntime(base, soname, name string) bool {
	return base == name || base == name+"js" || strings.HasPrefix(soname, "libnode.so")
}

func isPython(base, soname string) bool {
	return (strings.HasPrefix(base, "python3") && !strings.Contains(base, "-config")) || strings.HasPrefix(soname, "libpython3")
}

func runtimeFinding(name, kind string, needed []string) Finding {
	switch kind {
	case KindRuntimeNode:
		f := Finding{Path: name, Kind: kind, Severity: Warning}
		if hasNeeded(needed, "libcrypto.so") {
			f.Evidence = "Node.js linked to the system libcrypto"
			f.Remedy = "run node with --openssl-shared-config (it reads its own nodejs_conf section otherwise), and --force-fips"
		} else {
			f.Evidence = "Node.js with its own bundled OpenSSL"
			f.Remedy = "use a Node.js built with --shared-openssl against the system libcrypto, run with --openssl-shared-config and --force-fips"
		}
		return f
	case KindRuntimePython:
		return Finding{Path: name, Kind: kind, Severity: Warning,
			Evidence: "Python: hashlib silently falls back to its built-in digests (_md5, _sha1, _sha2, HACL*) when OpenSSL refuses an algorithm",
			Remedy:   "build Python with --with-builtin-hashlib-hashes= (none) or remove the built-in hash modules, so that hashlib has only OpenSSL"}
	default:
		return Finding{Path: name, Kind: kind, Severity: Warning,
			Evidence: "a Java runtime: its JCA providers (SunJCE, SunEC…) are its own cryptography, not OpenSSL's",
			Remedy:   "configure a FIPS 140-3 validated JCA provider in java.security and remove the others"}
	}
}

// libcryptoNeeds checks that each libcrypto a binary needs resolves to the
// verified one.
func (s *scanner) libcryptoNeeds(name string, dyn map[elf.DynTag][]string) (verified bool) {
	runpaths := append(append([]string(nil), dyn[elf.DT_RUNPATH]...), dyn[elf.DT_RPATH]...)
	for _, lib := range dyn[elf.DT_NEEDED] {
		if !strings.HasPrefix(lib, "libcrypto.so") {
			continue
		}
		found := FindLibrary(s.root, lib, runpaths, path.Dir(name), s.libDirs)
		real, _ := s.root.Real(found)
		switch {
		case found == "":
			s.add(Finding{Path: name, Kind: KindLibcryptoOther, Severity: Failure,
				Evidence: "needs " + lib + ", which is nowhere in its library path"})
		case s.verified == "" || real != s.verified:
			s.add(Finding{Path: name, Kind: KindLibcryptoOther, Severity: Failure,
				Evidence: fmt.Sprintf("needs %s and would load %s, not the libcrypto the FIPS checks verified (%s)", lib, found, orNone(s.opts.VerifiedLibcrypto)),
				Remedy:   "link it against the verified libcrypto (or remove the other copy and its RPATH)"})
		default:
			verified = true
		}
	}
	return verified
}

// signature recognises a crypto library by a symbol only it defines.
type signature struct {
	name    string
	symbols []string
	sonames []string // the library's own file names: finding it there is not "embedded"
}

var signatures = []signature{
	{"BoringSSL", []string{"BORINGSSL_self_test", "CRYPTO_is_confidential_build"}, nil},
	{"AWS-LC", []string{"awslc_version_string"}, []string{"libcrypto.so"}},
	{"ring (Rust)", []string{"ring_core_"}, nil},
	{"libgcrypt", []string{"gcry_check_version"}, []string{"libgcrypt.so"}},
	{"Nettle", []string{"nettle_sha256_init"}, []string{"libnettle.so"}},
	{"GnuTLS", []string{"gnutls_global_init"}, []string{"libgnutls.so"}},
	{"libsodium", []string{"sodium_init"}, []string{"libsodium.so"}},
	{"Mbed TLS", []string{"mbedtls_sha256_init", "mbedtls_md_setup"}, []string{"libmbedcrypto.so"}},
	{"wolfSSL", []string{"wolfSSL_Init", "wolfCrypt_Init"}, []string{"libwolfssl.so"}},
	{"NSS", []string{"NSS_Init", "PK11_HashBuf"}, []string{"libnss3.so", "libsoftokn3.so", "libfreebl"}},
	{"libxcrypt", []string{"crypt_gensalt_rn"}, []string{"libcrypt.so"}},
	{"OpenSSL", []string{"OPENSSL_init_crypto"}, []string{"libcrypto.so"}},
}

// definedSymbols returns the names of the symbols an ELF file defines,
// dynamic and static (the latter absent when stripped).
func definedSymbols(ef *elf.File) []string {
	var out []string
	for _, get := range []func() ([]elf.Symbol, error){ef.DynamicSymbols, ef.Symbols} {
		syms, _ := get()
		for _, sym := range syms {
			if sym.Section != elf.SHN_UNDEF && sym.Name != "" {
				out = append(out, sym.Name)
			}
		}
	}
	return out
}

// cryptoSymbols reports a crypto library by the symbols the file defines,
// and tells whether it found one.
func (s *scanner) cryptoSymbols(ef *elf.File, name, soname string) bool {
	syms := definedSymbols(ef)
	if len(syms) == 0 {
		return false
	}
	sort.Strings(syms)
	has := func(prefix string) bool {
		i := sort.SearchStrings(syms, prefix)
		return i < len(syms) && strings.HasPrefix(syms[i], prefix)
	}
	base := path.Base(name)
	for _, sig := range signatures {
		var hit string
		for _, sym := range sig.symbols {
			if has(sym) {
				hit = sym
				break
			}
		}
		if hit == "" {
			continue
		}
		own := false
		for _, so := range sig.sonames {
			if strings.HasPrefix(soname, so) || strings.HasPrefix(base, so) {
				own = true
			}
		}
		switch {
		case sig.name == "OpenSSL" && own:
			// A libcrypto: handled as such.
		case sig.name == "OpenSSL":
			s.add(Finding{Path: name, Kind: KindStaticOpenSSL, Severity: Failure,
				Evidence: "defines " + hit + ": OpenSSL linked in statically, not the verified libcrypto",
				Remedy:   "link dynamically against the system libcrypto"})
		case sig.name == "AWS-LC" && s.hasText(ef, "AWS-LC FIPS"):
			// A FIPS build of AWS-LC is a FIPS module, but not the one verified.
			s.add(Finding{Path: name, Kind: KindCryptoLibrary, Severity: Warning,
				Evidence: "AWS-LC FIPS build (defines " + hit + "): a FIPS module of its own, not the image's OpenSSL one",
				Remedy:   "accept it as a second module (its validation is separate), or use the system OpenSSL"})
		case own:
			s.add(Finding{Path: name, Kind: KindCryptoLibrary, Severity: Warning,
				Evidence: sig.name + " (defines " + hit + "): a crypto library outside the OpenSSL FIPS module",
				Remedy:   "remove it if unused; whatever uses it does not use the FIPS module"})
		default:
			s.add(Finding{Path: name, Kind: KindEmbeddedCrypto, Severity: Failure,
				Evidence: sig.name + " linked in statically (defines " + hit + ")",
				Remedy:   "use the system OpenSSL (libcrypto) instead"})
		}
		// One library per file is enough evidence; the OpenSSL signature
		// of BoringSSL and AWS-LC is the same symbol.
		return true
	}
	return false
}

// envFindings reports image Env settings that turn Go's FIPS modes off.
func (s *scanner) envFindings() {
	env := s.opts.Env
	godebug := env["GODEBUG"]
	fipsOff := strings.Contains(","+godebug+",", ",fips140=off,")
	golangFIPS0 := env["GOLANG_FIPS"] == "0" || env["GOFIPS"] == "0"
	for _, g := range s.goBinaries {
		switch {
		case g.kind == KindGoFIPS140 && fipsOff:
			s.add(Finding{Path: g.path, Kind: KindGoFIPSDisabled, Severity: Failure,
				Evidence: "the image sets GODEBUG=" + godebug + ", which turns off the Go FIPS 140-3 module this binary enables",
				Remedy:   "remove fips140=off from GODEBUG"})
		case g.kind == KindGoOpenSSL && golangFIPS0:
			s.add(Finding{Path: g.path, Kind: KindGoFIPSDisabled, Severity: Failure,
				Evidence: "the image sets GOLANG_FIPS=0 or GOFIPS=0, which turns off FIPS mode of this binary's OpenSSL backend",
				Remedy:   "remove GOLANG_FIPS=0 / GOFIPS=0 from the image's environment"})
		}
	}
}

var errNoSection = errors.New("no section")

// sectionReader returns a reader of the named section, or errNoSection.
func sectionReader(ef *elf.File, names ...string) (io.Reader, error) {
	for _, n := range names {
		if sec := ef.Section(n); sec != nil && sec.Type != elf.SHT_NOBITS {
			return sec.Open(), nil
		}
	}
	return nil, errNoSection
}

const (
	scanChunk = 1 << 20
	scanTail  = 512
)

// scanFor streams r and calls fn with the bytes that follow each
// occurrence of a marker (up to 256 bytes), in constant memory.
func scanFor(r io.Reader, markers [][]byte, fn func(marker, after []byte)) error {
	return scanForBuf(r, markers, fn, make([]byte, scanChunk*2+scanTail))
}

// scanForBuf is scanFor with a caller's buffer of scanChunk*2+scanTail bytes.
func scanForBuf(r io.Reader, markers [][]byte, fn func(marker, after []byte), mem []byte) error {
	buf := mem[: 0 : scanChunk+scanTail]
	tmp := mem[scanChunk+scanTail:]
	for {
		n, err := io.ReadFull(r, tmp[:scanChunk])
		buf = append(buf, tmp[:n]...)
		final := err != nil
		// Matches starting in the carried-over tail are left for the next
		// round, where they start the buffer; at the end, all count.
		limit := len(buf) - scanTail
		if final {
			limit = len(buf)
		}
		for _, m := range markers {
			for off := 0; ; {
				i := bytes.Index(buf[off:], m)
				if i < 0 || off+i >= limit {
					break
				}
				start := off + i + len(m)
				end := min(start+256, len(buf))
				fn(m, buf[start:end])
				off = off + i + 1
			}
		}
		if final {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		if limit > 0 {
			buf = append(buf[:0], buf[limit:]...)
		}
	}
}
