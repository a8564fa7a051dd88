package inventory

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

const verifiedLibcrypto = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"

var (
	fixtureOnce sync.Once
	fixtureRoot string
	fixtureErr  error
)

// fixture builds, once, an image root of real binaries: Go programs built
// four ways, C programs on libcrypto (the verified copy and another one),
// and stand-ins for statically linked and other crypto libraries.
func fixture(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() { fixtureRoot, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureRoot
}

func buildFixture() (string, error) {
	root, err := os.MkdirTemp("", "fipsgate-inventory-")
	if err != nil {
		return "", err
	}
	src, err := filepath.Abs("testdata/src")
	if err != nil {
		return "", err
	}
	hostLibcrypto, err := filepath.EvalSymlinks(verifiedLibcrypto)
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "fipsgate-inventory-src-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	in := func(p string) string { return filepath.Join(root, p) }
	steps := [][]string{
		{"mkdir", "-p", in("usr/bin"), in("usr/lib/x86_64-linux-gnu"), in("opt/vendored/lib"), in("opt/vendored/bin"), in("usr/share/big")},
		{"cp", hostLibcrypto, in(verifiedLibcrypto)},
		{"cp", hostLibcrypto, in("opt/vendored/lib/libcrypto.so.3")},
		{"gcc", "-o", in("usr/bin/c-digest"), filepath.Join(src, "digest.c"), "-l:libcrypto.so.3"},
		{"gcc", "-o", in("opt/vendored/bin/c-digest"), filepath.Join(src, "digest.c"), "-l:libcrypto.so.3", "-Wl,-rpath,/opt/vendored/lib"},
		{"gcc", "-o", in("usr/bin/static-openssl"), filepath.Join(src, "static_openssl.c")},
		{"gcc", "-o", in("usr/bin/embedded-gcrypt"), filepath.Join(src, "embedded_gcrypt.c")},
		{"gcc", "-s", "-o", in("usr/bin/stripped-openssl"), filepath.Join(src, "stripped_openssl.c")},
		{"gcc", "-shared", "-fPIC", "-Wl,-soname,libnettle.so.8", "-o", in("usr/lib/x86_64-linux-gnu/libnettle.so.8"), filepath.Join(src, "nettle.c")},
		{"cp", in("usr/bin/c-digest"), in("usr/bin/python3.13")},
		{"truncate", "-s", "8M", in("usr/share/big/data.bin")},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return "", &buildError{s, err, out}
		}
	}
	goMod := "module example.com/fixture\n\ngo 1.24\n"
	for _, g := range []struct {
		name, src string
		env       []string
		flags     []string
	}{
		{"plain", "gocrypto.go.txt", nil, nil},
		{"stripped", "gocrypto.go.txt", nil, []string{"-ldflags=-s -w"}},
		{"boring", "gocrypto.go.txt", []string{"GOEXPERIMENT=boringcrypto", "CGO_ENABLED=1"}, nil},
		{"fips140", "gocrypto.go.txt", []string{"GOFIPS140=latest"}, nil},
		{"nocrypto", "nocrypto.go.txt", nil, nil},
	} {
		dir := filepath.Join(work, g.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		dt, err := os.ReadFile(filepath.Join(src, g.src))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), dt, 0o644); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644); err != nil {
			return "", err
		}
		args := append([]string{"build", "-o", in("usr/bin/go-" + g.name)}, g.flags...)
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local"), g.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{cmd.Args, err, out}
		}
	}
	return root, nil
}

type buildError struct {
	args []string
	err  error
	out  []byte
}

func (e *buildError) Error() string {
	return strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + string(e.out)
}

func findingsByPath(inv *Inventory) map[string][]Finding {
	m := map[string][]Finding{}
	for _, f := range inv.Findings {
		m[f.Path] = append(m[f.Path], f)
	}
	return m
}

func TestScanFixture(t *testing.T) {
	root := fixture(t)
	inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ kind, severity, evidence string }{
		"/usr/bin/go-plain":                        {KindGoNativeCrypto, Failure, "crypto/sha256"},
		"/usr/bin/go-stripped":                     {KindGoNativeCrypto, Failure, "crypto/sha256"},
		"/usr/bin/go-boring":                       {KindGoBoringCrypto, Failure, "BoringCrypto"},
		"/usr/bin/go-fips140":                      {KindGoFIPS140, Warning, "default GODEBUG it was linked with has fips140=on"},
		"/opt/vendored/bin/c-digest":               {KindLibcryptoOther, Failure, "would load /opt/vendored/lib/libcrypto.so.3"},
		"/opt/vendored/lib/libcrypto.so.3":         {KindLibcryptoCopy, Warning, "other than the one the FIPS checks verified"},
		"/usr/bin/static-openssl":                  {KindStaticOpenSSL, Failure, "OPENSSL_init_crypto"},
		"/usr/bin/embedded-gcrypt":                 {KindEmbeddedCrypto, Failure, "libgcrypt"},
		"/usr/lib/x86_64-linux-gnu/libnettle.so.8": {KindCryptoLibrary, Warning, "Nettle"},
		"/usr/bin/python3.13":                      {KindRuntimePython, Warning, "hashlib"},
	}
	got := findingsByPath(inv)
	for p, w := range want {
		fs := got[p]
		if len(fs) != 1 || fs[0].Kind != w.kind || fs[0].Severity != w.severity || !strings.Contains(fs[0].Evidence, w.evidence) {
			t.Errorf("%s: got %+v, want one %s %s mentioning %q", p, fs, w.severity, w.kind, w.evidence)
		}
	}
	for _, clean := range []string{"/usr/bin/c-digest", "/usr/bin/go-nocrypto", verifiedLibcrypto, "/usr/share/big/data.bin"} {
		if fs := got[clean]; len(fs) > 0 {
			t.Errorf("%s must have no finding, got %+v", clean, fs)
		}
	}
	if inv.Stats.GoFiles != 5 || inv.Summary[KindGoNativeCrypto] != 2 {
		t.Errorf("stats %+v, summary %+v", inv.Stats, inv.Summary)
	}
	// The 8 MiB data file is identified by its first bytes only.
	if inv.Stats.ReadBytes > inv.Stats.Bytes-8<<20 {
		t.Errorf("read %d of %d bytes: the large non-ELF file was read", inv.Stats.ReadBytes, inv.Stats.Bytes)
	}
}

func TestScanPolicy(t *testing.T) {
	root := fixture(t)
	t.Run("strict", func(t *testing.T) {
		inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto, Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range inv.Findings {
			if f.Severity == Warning {
				t.Errorf("strict left a warning: %+v", f)
			}
		}
	})
	t.Run("exceptions", func(t *testing.T) {
		exc := []Exception{
			{Path: "/opt/vendored/", Reason: "vendored, going away"},
			{Path: "/usr/bin/go-*", Kind: KindGoNativeCrypto, Reason: "test tools"},
		}
		inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto, Exceptions: exc})
		if err != nil {
			t.Fatal(err)
		}
		var failures []string
		for _, f := range inv.Failures() {
			failures = append(failures, f.Path)
		}
		want := "/usr/bin/embedded-gcrypt /usr/bin/go-boring /usr/bin/static-openssl /usr/bin/stripped-openssl"
		if strings.Join(failures, " ") != want {
			t.Errorf("failures after exceptions: %v, want %s", failures, want)
		}
		for _, f := range inv.Findings {
			if strings.HasPrefix(f.Path, "/opt/vendored/") && f.Accepted != "vendored, going away" {
				t.Errorf("not accepted: %+v", f)
			}
		}
	})
	t.Run("env turns Go FIPS off", func(t *testing.T) {
		inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto, Env: map[string]string{"GODEBUG": "http2client=0,fips140=off"}})
		if err != nil {
			t.Fatal(err)
		}
		if fs := findingsByPath(inv)["/usr/bin/go-fips140"]; len(fs) != 2 || fs[0].Kind != KindGoFIPSDisabled || fs[0].Severity != Failure {
			t.Errorf("GODEBUG=fips140=off: %+v", fs)
		}
	})
	t.Run("no verified libcrypto", func(t *testing.T) {
		inv, err := Scan(imagefs.Root{Dir: root}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if fs := findingsByPath(inv)["/usr/bin/c-digest"]; len(fs) != 1 || fs[0].Kind != KindLibcryptoOther {
			t.Errorf("without a verified libcrypto every libcrypto user fails: %+v", fs)
		}
	})
}

func TestParseExceptions(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"exceptions":[{"path":"/opt/x/*","kind":"go-native-crypto","reason":"r"}]}`, ""},
		{`{"exceptions":[{"path":"opt/x","reason":"r"}]}`, "absolute"},
		{`{"exceptions":[{"path":"/x","kind":"nope","reason":"r"}]}`, "unknown kind"},
		{`{"exceptions":[{"path":"/x"}]}`, "reason is required"},
		{`{"exceptions":[{"path":"/[","reason":"r"}]}`, "not a valid pattern"},
		{`{"exception":[]}`, "unknown field"},
		{`not json`, "FIPSGATE_EXCEPTIONS file f.json"},
	} {
		_, err := ParseExceptions("f.json", []byte(tc.in))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseExceptions(%s) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

// scanFor must find exactly what bytes.Index finds, across chunk borders.
func TestScanForAcrossChunks(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 3<<20)
	for _, off := range []int{0, 1<<20 - 3, 1<<20 - 600, 2<<20 + 5, 3<<20 - 20} {
		copy(data[off:], "\x00crypto/tls.Dial")
	}
	var n int
	if err := scanFor(bytes.NewReader(data), [][]byte{[]byte("\x00crypto/")}, func(_, after []byte) {
		if !bytes.HasPrefix(after, []byte("tls.Dial")) {
			t.Errorf("after = %.10q", after)
		}
		n++
	}); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("found %d markers, want 5", n)
	}
}

func FuzzScanFor(f *testing.F) {
	f.Add([]byte("ab\x00crypto/x.y\x00crypto/"), 3)
	f.Fuzz(func(t *testing.T, data []byte, repeat int) {
		if repeat < 0 || repeat > 8 {
			return
		}
		// Large inputs cross chunk borders.
		data = bytes.Repeat(data, 1+repeat*(1<<20)/max(1, len(data)))
		marker := []byte("\x00crypto/")
		var got int
		if err := scanFor(bytes.NewReader(data), [][]byte{marker}, func(_, _ []byte) { got++ }); err != nil {
			t.Fatal(err)
		}
		if want := bytes.Count(data, marker); got != want {
			t.Fatalf("scanFor found %d, bytes.Count %d", got, want)
		}
	})
}

// FuzzAnalyze feeds hostile bytes to the ELF and Go build-info readers. Its
// seed corpus (testdata/fuzz/FuzzAnalyze) holds small real ELF files: a
// program, a shared library, a program with an RPATH.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	empty := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &scanner{root: imagefs.Root{Dir: empty}, inv: &Inventory{}}
		s.analyze(bytes.NewReader(data), int64(len(data)), "/fuzz")
		s.envFindings()
		s.inv.finish(false, nil)
	})
}

func BenchmarkScanFixture(b *testing.B) {
	benchmarkScan(b, fixture(b))
}

// BenchmarkScanImage scans FIPSGATE_BENCH_ROOT, an unpacked image: make
// bench leaves the base images' roots under _output/bench.
func BenchmarkScanImage(b *testing.B) {
	root := os.Getenv("FIPSGATE_BENCH_ROOT")
	if root == "" {
		b.Skip("FIPSGATE_BENCH_ROOT is not set")
	}
	benchmarkScan(b, root)
}

func benchmarkScan(b *testing.B, root string) {
	var last *Inventory
	b.ReportAllocs()
	for b.Loop() {
		inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto})
		if err != nil {
			b.Fatal(err)
		}
		last = inv
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(last.Stats.Bytes)/secs/1e6, "MB/s")
	b.ReportMetric(float64(last.Stats.Files)/secs, "files/s")
	b.ReportMetric(float64(last.Stats.ReadBytes)/float64(max(1, last.Stats.Bytes))*100, "%read")
}
