package inventory

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// reachRoot builds an image root of real ELF files for the reach: an
// application under /app with its own libraries, found through DT_RPATH
// (inherited by its libraries' lookups) or DT_RUNPATH (not inherited), a
// symlink to it in PATH, scripts that start it, and programs that do
// crypto outside the module.
func reachRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	in := func(p string) string { return filepath.Join(root, p) }
	src := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "bar.c"), "int bar(void) { return 1; }\n", 0o644)
	write(filepath.Join(src, "foo.c"), "int bar(void); int foo(void) { return bar(); }\n", 0o644)
	write(filepath.Join(src, "app.c"), "int foo(void); int main(void) { return foo(); }\n", 0o644)
	write(filepath.Join(src, "md5.c"), `#include <openssl/md5.h>
int main(void) { MD5_CTX c; unsigned char d[16]; MD5_Init(&c); MD5_Update(&c, "x", 1); MD5_Final(d, &c); return d[0]; }
`, 0o644)
	write(filepath.Join(src, "evp.c"), `#include <openssl/evp.h>
int main(void) { unsigned char d[32]; unsigned int n; return !EVP_Digest("x", 1, d, &n, EVP_sha256(), NULL); }
`, 0o644)
	write(filepath.Join(src, "usenettle.c"), "void nettle_sha256_init(void *); int main(void) { char c[256]; nettle_sha256_init(c); return 0; }\n", 0o644)
	write(filepath.Join(src, "ownsha.c"), `#include <stdio.h>
static const unsigned int K[8] = {0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5};
int main(int argc, char **argv) { (void)argv; printf("%u\n", K[argc & 7]); return 0; }
`, 0o644)
	write(filepath.Join(src, "provider.c"), `#include <openssl/provider.h>
#include <openssl/evp.h>
int main(void) { OSSL_PROVIDER_load(NULL, "default"); EVP_MD *md = EVP_MD_fetch(NULL, "MD5", "provider=default"); return md == NULL; }
`, 0o644)
	write(filepath.Join(src, "nettle.c"), "void nettle_sha256_init(void *ctx) { (void)ctx; }\n", 0o644)
	write(filepath.Join(src, "localhash.c"), `#include <openssl/md5.h>
int localhash(void) { MD5_CTX c; MD5_Init(&c); return 0; }
`, 0o644)
	write(filepath.Join(src, "uselocal.c"), "int localhash(void); int main(void) { return localhash(); }\n", 0o644)
	write(filepath.Join(src, "query.c"), `#include <openssl/evp.h>
int main(void) { EVP_MD *md = EVP_MD_fetch(NULL, "MD5", "FIPS = no"); return md == NULL; }
`, 0o644)
	lib := in("usr/lib/x86_64-linux-gnu")
	hostLibcrypto, err := filepath.EvalSymlinks(verifiedLibcrypto)
	if err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"mkdir", "-p", in("app/lib"), in("app/bin"), in("app/runpath"), in("usr/local/bin"), in("usr/bin"), in("bin"), lib},
		{"cp", hostLibcrypto, in(verifiedLibcrypto)},
		{"gcc", "-shared", "-fPIC", "-o", in("app/lib/libbar.so"), filepath.Join(src, "bar.c")},
		{"gcc", "-shared", "-fPIC", "-o", in("app/lib/libfoo.so"), filepath.Join(src, "foo.c"), "-L" + in("app/lib"), "-lbar"},
		{"gcc", "-o", in("app/bin/app"), filepath.Join(src, "app.c"), "-L" + in("app/lib"), "-lfoo", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib", "-Wl,--allow-shlib-undefined"},
		{"gcc", "-o", in("app/runpath/app"), filepath.Join(src, "app.c"), "-L" + in("app/lib"), "-lfoo", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib", "-Wl,--allow-shlib-undefined"},
		{"gcc", "-Wno-deprecated-declarations", "-o", in("usr/bin/md5-app"), filepath.Join(src, "md5.c"), "-l:libcrypto.so.3"},
		{"gcc", "-o", in("usr/bin/evp-app"), filepath.Join(src, "evp.c"), "-l:libcrypto.so.3"},
		{"gcc", "-o", in("usr/bin/provider-app"), filepath.Join(src, "provider.c"), "-l:libcrypto.so.3"},
		{"gcc", "-O0", "-o", in("usr/bin/own-sha"), filepath.Join(src, "ownsha.c")},
		{"gcc", "-shared", "-fPIC", "-Wl,-soname,libnettle.so.8", "-o", filepath.Join(lib, "libnettle.so.8"), filepath.Join(src, "nettle.c")},
		{"gcc", "-o", in("usr/bin/nettle-app"), filepath.Join(src, "usenettle.c"), filepath.Join(lib, "libnettle.so.8")},
		{"ln", "-s", "../../../app/bin/app", in("usr/local/bin/app-link")},
		{"mkdir", "-p", in("usr/local/lib")},
		{"gcc", "-shared", "-fPIC", "-Wno-deprecated-declarations", "-Wl,-soname,liblocalhash.so", "-o", in("usr/local/lib/liblocalhash.so"), filepath.Join(src, "localhash.c"), "-l:libcrypto.so.3"},
		{"gcc", "-o", in("usr/bin/local-app"), filepath.Join(src, "uselocal.c"), "-L" + in("usr/local/lib"), "-llocalhash", "-Wl,--allow-shlib-undefined"},
		{"gcc", "-o", in("usr/bin/query-app"), filepath.Join(src, "query.c"), "-l:libcrypto.so.3"},
		{"cp", in("usr/bin/own-sha"), in("bin/busybox")},
		{"ln", "-s", "/bin/busybox", in("usr/bin/md5sum")},
		{"ln", "-s", "/bin/busybox", in("bin/ash")},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	write(in("bin/sh"), "not a real shell\n", 0o755)
	write(in("usr/bin/env"), "not a real env\n", 0o755)
	write(in("usr/local/bin/start"), "#!/bin/sh\nset -e\n# comment: /usr/bin/md5-app is not run\necho starting\nFOO=1 exec /app/bin/app \"$@\"\n", 0o755)
	write(in("usr/local/bin/start-env"), "#!/usr/bin/env -S sh -e\nif evp-app; then md5-app | cut -c1; fi\n", 0o755)
	write(in("usr/local/bin/indirect"), "#!/bin/sh\n$PROG\n", 0o755)
	write(in("app/entrypoint.sh"), "#!/bin/sh\nset -e\nexec \"$@\"\n", 0o755)
	write(in("app/lib.sh"), "hashit() { md5-app; }\n", 0o644)
	write(in("app/sources.sh"), "#!/bin/sh\n. /app/lib.sh\nhashit\n", 0o755)
	write(in("app/plain.sh"), "own-sha\n", 0o644)
	write(in("usr/local/bin/twice"), "#!/bin/sh\nenv evp-app\nenv md5-app\ncat <<EOF\nown-sha\nEOF\n", 0o755)
	return root
}

func reachPaths(r *Reach) map[string]string {
	m := map[string]string{}
	for _, e := range r.Entries {
		m[e.Path] = e.Via
	}
	return m
}

func TestResolveReach(t *testing.T) {
	root := reachRoot(t)
	fs := imagefs.Root{Dir: root}
	for _, tc := range []struct {
		name       string
		argv       []string
		env        map[string]string
		want       []string
		notWant    []string
		unresolved string
	}{
		{name: "symlink in PATH, DT_RPATH with $ORIGIN inherited", argv: []string{"app-link"},
			want: []string{"/app/bin/app", "/app/lib/libfoo.so", "/app/lib/libbar.so"}},
		{name: "DT_RUNPATH counts for the object's own dependencies only", argv: []string{"/app/runpath/app"},
			want: []string{"/app/runpath/app", "/app/lib/libfoo.so"}, notWant: []string{"/app/lib/libbar.so"},
			unresolved: "/app/lib/libfoo.so needs libbar.so"},
		{name: "LD_LIBRARY_PATH finds what DT_RUNPATH does not", argv: []string{"/app/runpath/app"}, env: map[string]string{"LD_LIBRARY_PATH": "/app/lib"},
			want: []string{"/app/lib/libbar.so"}},
		{name: "#! script and what it execs", argv: []string{"start"},
			want: []string{"/usr/local/bin/start", "/bin/sh", "/app/bin/app", "/app/lib/libbar.so"}, notWant: []string{"/usr/bin/md5-app"}},
		{name: "#!/usr/bin/env -S and the commands of an if and a pipe", argv: []string{"start-env"},
			want: []string{"/usr/bin/env", "/bin/sh", "/usr/bin/evp-app", "/usr/bin/md5-app", verifiedLibcrypto}},
		{name: "sh -c", argv: []string{"sh", "-c", "md5-app && exec app-link"},
			want: []string{"/bin/sh", "/usr/bin/md5-app", "/app/bin/app"}},
		{name: "wrapper", argv: []string{"env", "A=1", "own-sha"}, want: []string{"/usr/bin/env", "/usr/bin/own-sha"}},
		{name: "LD_PRELOAD", argv: []string{"evp-app"}, env: map[string]string{"LD_PRELOAD": "libnettle.so.8"},
			want: []string{"/usr/lib/x86_64-linux-gnu/libnettle.so.8"}},
		{name: "a command built at run time", argv: []string{"indirect"}, want: []string{"/usr/local/bin/indirect"},
			unresolved: "a command built at run time ($PROG)"},
		{name: "a wrapper run twice is followed twice; a here-document is text", argv: []string{"twice"},
			want: []string{"/usr/bin/evp-app", "/usr/bin/md5-app"}, notWant: []string{"/usr/bin/own-sha"}},
		{name: "an option cluster with c", argv: []string{"sh", "-ec", "md5-app"}, want: []string{"/usr/bin/md5-app"}},
		{name: "a script given to a shell", argv: []string{"sh", "app/plain.sh"}, want: []string{"/usr/bin/own-sha"}},
		{name: `exec "$@" with the image's CMD`, argv: []string{"/app/entrypoint.sh", "md5-app", "-x"},
			want: []string{"/app/entrypoint.sh", "/usr/bin/md5-app"}},
		{name: "a sourced file", argv: []string{"/app/sources.sh"}, want: []string{"/usr/bin/md5-app"}},
		{name: "missing program", argv: []string{"nope"}, unresolved: `"nope" is not an executable file in the image`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == nil {
				env = map[string]string{}
			}
			r := ResolveReach(fs, tc.argv, env, "/")
			got := reachPaths(r)
			for _, w := range tc.want {
				if _, ok := got[w]; !ok {
					t.Errorf("%s not in the reach: %v", w, got)
				}
			}
			for _, w := range tc.notWant {
				if _, ok := got[w]; ok {
					t.Errorf("%s in the reach (%s)", w, got[w])
				}
			}
			if tc.unresolved != "" && !slices.ContainsFunc(r.Unresolved, func(u string) bool { return strings.Contains(u, tc.unresolved) }) {
				t.Errorf("unresolved %q, want one with %q", r.Unresolved, tc.unresolved)
			}
		})
	}
}

func TestShellCommands(t *testing.T) {
	got := shellCommands("#!/bin/sh\nA=1 B=2 exec foo -x 'a b' # c\nif bar; then baz | qux; fi\necho $(quux arg) `corge`\n")
	var firsts []string
	for _, c := range got {
		firsts = append(firsts, c[0])
	}
	want := []string{"foo", "bar", "baz", "qux", "fi", "echo", "quux", "corge"}
	if !slices.Equal(firsts, want) {
		t.Errorf("commands %q, want %q", firsts, want)
	}
	if !slices.Equal(got[0], []string{"foo", "-x", "a b"}) {
		t.Errorf("first command %q", got[0])
	}
}

// TestReachPolicy: crypto that bypasses the module fails in the
// application's reach, and is not even looked for elsewhere.
func TestReachPolicy(t *testing.T) {
	root := reachRoot(t)
	fs := imagefs.Root{Dir: root}
	for _, tc := range []struct {
		argv []string
		path string
		kind string
	}{
		{[]string{"md5-app"}, "/usr/bin/md5-app", KindOpenSSLLowLevel},
		{[]string{"nettle-app"}, "/usr/bin/nettle-app", KindImportsCryptoLibrary},
		{[]string{"own-sha"}, "/usr/bin/own-sha", KindOwnCrypto},
		{[]string{"provider-app"}, "/usr/bin/provider-app", KindNonFIPSFetch},
		{[]string{"start-env"}, "/usr/bin/md5-app", KindOpenSSLLowLevel},
		// A library under /usr/local is the application's, not the
		// distribution's.
		{[]string{"local-app"}, "/usr/local/lib/liblocalhash.so", KindOpenSSLLowLevel},
		// A property query as OpenSSL parses it: any case, blanks.
		{[]string{"query-app"}, "/usr/bin/query-app", KindNonFIPSFetch},
		// BusyBox is judged by the applets run: its md5sum.
		{[]string{"ash", "-c", "md5sum /etc/passwd"}, "/bin/busybox", KindOwnCrypto},
	} {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			env := map[string]string{}
			reach := ResolveReach(fs, tc.argv, env, "/")
			inv, err := Scan(fs, Options{Env: env, VerifiedLibcrypto: verifiedLibcrypto, Reach: reach, AppArgs: tc.argv})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range inv.Failures() {
				if f.Path == tc.path && f.Kind == tc.kind {
					found = true
					if f.Reach == "" {
						t.Errorf("%s: no reach recorded", f.Path)
					}
				}
			}
			if !found {
				t.Errorf("no %s failure on %s: %+v", tc.kind, tc.path, inv.Findings)
			}
			// Outside the reach, the same file is no failure of that kind.
			inv, err = Scan(fs, Options{Env: env, VerifiedLibcrypto: verifiedLibcrypto})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range inv.Findings {
				if f.Path == tc.path && f.Kind == tc.kind {
					t.Errorf("without the reach: %+v", f)
				}
			}
		})
	}
	// A BusyBox shell that runs no hashing applet is no hash.
	reach := ResolveReach(fs, []string{"ash", "-c", "echo hi; exec evp-app"}, map[string]string{}, "/")
	inv, err := Scan(fs, Options{VerifiedLibcrypto: verifiedLibcrypto, Reach: reach})
	if err != nil {
		t.Fatal(err)
	}
	if f := inv.Failures(); len(f) > 0 {
		t.Errorf("failures for a BusyBox shell: %+v", f)
	}
	// A program the package database lists is the distribution's: what
	// its constants say is a hint, a warning.
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/info/own.list"), []byte("/usr\n/usr/bin\n/usr/bin/own-sha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reach = ResolveReach(fs, []string{"own-sha"}, map[string]string{}, "/")
	inv, err = Scan(fs, Options{VerifiedLibcrypto: verifiedLibcrypto, Reach: reach})
	if err != nil {
		t.Fatal(err)
	}
	if f := inv.Failures(); len(f) > 0 {
		t.Errorf("failures for a packaged program's constants: %+v", f)
	}
	os.RemoveAll(filepath.Join(root, "var"))
	// An honest application on EVP has nothing against it.
	reach = ResolveReach(fs, []string{"evp-app"}, map[string]string{}, "/")
	inv, err = Scan(fs, Options{VerifiedLibcrypto: verifiedLibcrypto, Reach: reach})
	if err != nil {
		t.Fatal(err)
	}
	if f := inv.Failures(); len(f) > 0 {
		t.Errorf("failures for an honest application: %+v", f)
	}
}

func TestShellCommandsRedirectionsAndHeredocs(t *testing.T) {
	got := shellCommands("cat <<EOF >/tmp/x 2>&1\nldconfig is run at start\nEOF\nfoo 2>/dev/null arg\ncat <<-'END'\n\tsha256sum x\n\tEND\nbar >&2\n")
	var firsts []string
	for _, c := range got {
		firsts = append(firsts, strings.Join(c, " "))
	}
	want := []string{"cat", "foo arg", "cat", "bar"}
	if !slices.Equal(firsts, want) {
		t.Errorf("commands %q, want %q", firsts, want)
	}
}

// TestReachBudget: a script of a million bytes of unknown commands ends
// the reach with a note that it is incomplete, and a bounded list.
func TestReachBudget(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for i := 0; b.Len() < maxScript-64; i++ {
		fmt.Fprintf(&b, "cmd%d\n", i)
	}
	for name, text := range map[string]string{"bin/sh": "x", "start": b.String()} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := ResolveReach(imagefs.Root{Dir: root}, []string{"/start"}, map[string]string{}, "/")
	if r.Incomplete == "" {
		t.Errorf("no incomplete note after %d unknown commands", strings.Count(b.String(), "\n"))
	}
	if len(r.Unresolved) > maxUnresolved+1 {
		t.Errorf("%d unresolved entries, over %d", len(r.Unresolved), maxUnresolved+1)
	}
	inv, err := Scan(imagefs.Root{Dir: root}, Options{Reach: r})
	if err != nil {
		t.Fatal(err)
	}
	if f := inv.Failures(); len(f) != 1 || f[0].Kind != KindReachIncomplete {
		t.Errorf("failures %+v, want one %s", f, KindReachIncomplete)
	}
}
