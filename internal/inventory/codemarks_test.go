package inventory

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// staticLibcrypto is OpenSSL's static library, from Debian's libssl-dev.
const staticLibcrypto = "/usr/lib/x86_64-linux-gnu/libcrypto.a"

var (
	hostileOnce sync.Once
	hostileRoot string
	hostileErr  error
)

// hostileFixture builds, once, an image root of binaries that claim one
// thing and do another: OpenSSL linked in and stripped, a C program with a
// Go build information blob, a Go binary whose build tags claim an OpenSSL
// backend, ELF files whose section headers are broken or gone; and the
// honest OpenSSL files that carry OpenSSL's code by design.
func hostileFixture(t testing.TB) string {
	t.Helper()
	hostileOnce.Do(func() { hostileRoot, hostileErr = buildHostileFixture(fixture(t)) })
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return hostileRoot
}

func buildHostileFixture(honest string) (string, error) {
	if _, err := os.Stat(staticLibcrypto); err != nil {
		return "", fmt.Errorf("the inventory tests link OpenSSL statically and need %s: apt-get install libssl-dev (%v)", staticLibcrypto, err)
	}
	root, err := os.MkdirTemp("", "fipsgate-inventory-hostile-")
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
	hostLibDir := filepath.Dir(hostLibcrypto)
	in := func(p string) string { return filepath.Join(root, p) }
	libdir := "usr/lib/x86_64-linux-gnu"
	steps := [][]string{
		{"mkdir", "-p", in("usr/bin"), in(libdir + "/ossl-modules"), in(libdir + "/engines-3"), in("usr/local/bin")},
		{"cp", hostLibcrypto, in(verifiedLibcrypto)},
		{"cp", filepath.Join(hostLibDir, "libssl.so.3"), in(libdir + "/libssl.so.3")},
		{"cp", filepath.Join(hostLibDir, "ossl-modules/legacy.so"), in(libdir + "/ossl-modules/legacy.so")},
		{"cp", filepath.Join(hostLibDir, "engines-3/padlock.so"), in(libdir + "/engines-3/padlock.so")},
		{"gcc", "-s", "-o", in("usr/bin/evp-static"), filepath.Join(src, "evp_static.c"), staticLibcrypto, "-lpthread"},
		{"gcc", "-s", "-o", in("usr/bin/aes-static"), filepath.Join(src, "aes_static.c"), staticLibcrypto},
		{"gcc", "-s", "-o", in("usr/local/bin/node"), filepath.Join(src, "aes_static.c"), staticLibcrypto},
		{"gcc", "-s", "-o", in("usr/bin/c-go-claims"), filepath.Join(src, "gobuildinfo.c"), staticLibcrypto, "-lpthread"},
		{"cp", filepath.Join(honest, "usr/bin/c-digest"), in("usr/bin/no-sections")},
		{"cp", filepath.Join(honest, "usr/bin/c-digest"), in("usr/bin/bad-sections")},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return "", &buildError{s, err, out}
		}
	}
	// The ELF header's section header fields (64-bit): e_shoff at 40,
	// e_shnum at 60, e_shstrndx at 62. The kernel reads none of them.
	if err := patchFile(in("usr/bin/no-sections"), func(b []byte) {
		binary.LittleEndian.PutUint64(b[40:], 0)
		binary.LittleEndian.PutUint16(b[60:], 0)
		binary.LittleEndian.PutUint16(b[62:], 0)
	}); err != nil {
		return "", err
	}
	if err := patchFile(in("usr/bin/bad-sections"), func(b []byte) {
		binary.LittleEndian.PutUint64(b[40:], 1<<40)
	}); err != nil {
		return "", err
	}
	// A shared object cut short, before its program headers end: nothing
	// can load it.
	so, err := os.ReadFile(filepath.Join(honest, "usr/lib/x86_64-linux-gnu/libnettle.so.8"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(in(libdir+"/libtruncated.so.1"), so[:80], 0o644); err != nil {
		return "", err
	}

	work, err := os.MkdirTemp("", "fipsgate-inventory-src-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	dt, err := os.ReadFile(filepath.Join(src, "gocrypto.go.txt"))
	if err != nil {
		return "", err
	}
	for name, content := range map[string]string{"main.go": string(dt), "go.mod": "module example.com/claims\n\ngo 1.24\n"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	// requirefips is what an OpenSSL-backed toolchain's build tag is
	// called; a standard toolchain records it and changes nothing.
	cmd := exec.Command("go", "build", "-tags=requirefips,goexperiment.opensslcrypto", "-ldflags=-s -w", "-o", in("usr/bin/go-claims"), ".")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{cmd.Args, err, out}
	}
	return root, nil
}

func patchFile(name string, patch func([]byte)) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	patch(b)
	return os.WriteFile(name, b, 0o755)
}

// TestScanCodeNotClaims: each file is judged by its code and by what the
// kernel and the dynamic linker read, whatever its names, symbols, build
// information or section headers say.
func TestScanCodeNotClaims(t *testing.T) {
	root := hostileFixture(t)
	inv, err := Scan(imagefs.Root{Dir: root}, Options{VerifiedLibcrypto: verifiedLibcrypto})
	if err != nil {
		t.Fatal(err)
	}
	got := findingsByPath(inv)
	for _, tc := range []struct {
		path, kind, severity, evidence string
	}{
		// Stripped, version function unused: OpenSSL 3's provider tables.
		{"/usr/bin/evp-static", KindStaticOpenSSL, Failure, "OpenSSL 3"},
		// Low-level AES alone: the capability setup of the assembly.
		{"/usr/bin/aes-static", KindStaticOpenSSL, Failure, "OPENSSL_ia32cap"},
		// Named node, but no Node.js: judged as the program it is.
		{"/usr/local/bin/node", KindStaticOpenSSL, Failure, "OPENSSL_ia32cap"},
		// Go build information in a C program does not make it Go.
		{"/usr/bin/c-go-claims", KindStaticOpenSSL, Failure, "OpenSSL"},
		// Build tags are a claim; its code is Go's own crypto.
		{"/usr/bin/go-claims", KindGoNativeCrypto, Failure, "-tags=requirefips,goexperiment.opensslcrypto, which its code does not bear out"},
		{"/usr/bin/no-sections", KindUnreadableELF, Failure, "no section headers"},
		{"/usr/bin/bad-sections", KindUnreadableELF, Failure, "the kernel would load it"},
		{"/usr/lib/x86_64-linux-gnu/libtruncated.so.1", KindUnreadableELF, Warning, "program headers beyond the end of the file"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			fs := got[tc.path]
			if len(fs) != 1 || fs[0].Kind != tc.kind || fs[0].Severity != tc.severity || !strings.Contains(fs[0].Evidence, tc.evidence) {
				t.Errorf("got %+v, want one %s %s mentioning %q", fs, tc.severity, tc.kind, tc.evidence)
			}
		})
	}
	// OpenSSL's own files carry its code by design: libssl, the legacy
	// provider, an engine.
	for _, clean := range []string{
		verifiedLibcrypto,
		"/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so",
		"/usr/lib/x86_64-linux-gnu/engines-3/padlock.so",
	} {
		if fs := got[clean]; len(fs) > 0 {
			t.Errorf("%s must have no finding, got %+v", clean, fs)
		}
	}
}

func TestKernelLoadable(t *testing.T) {
	prog, err := os.ReadFile(filepath.Join(fixture(t), "usr/bin/c-digest"))
	if err != nil {
		t.Fatal(err)
	}
	patched := func(patch func([]byte)) []byte {
		b := append([]byte(nil), prog...)
		patch(b)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
		why  string
	}{
		{"program", prog, true, "EM_X86_64 ET_DYN"},
		{"no section headers", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[60:], 0) }), true, ""},
		{"object file", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[16:], 1) }), false, "ET_REL"},
		{"core file", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[16:], 4) }), false, "ET_CORE"},
		{"no machine", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[18:], 0) }), false, "no machine"},
		{"bad class", patched(func(b []byte) { b[4] = 9 }), false, "no ELF class"},
		{"wrong program header size", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[54:], 32) }), false, "no usable program headers"},
		{"no program headers", patched(func(b []byte) { binary.LittleEndian.PutUint16(b[56:], 0) }), false, "no usable program headers"},
		{"header only", prog[:64], false, "beyond the end"},
		{"short", prog[:20], false, "ELF header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := kernelLoadable(strings.NewReader(string(tc.data)), int64(len(tc.data)))
			if ok != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("kernelLoadable = %v, %q; want %v, %q", ok, why, tc.want, tc.why)
			}
		})
	}
}
