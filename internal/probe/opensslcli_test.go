package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// Only an ELF program on the verified libcrypto, with nothing preloaded,
// is taken as the image's openssl.
func TestOpenSSLCommandCheck(t *testing.T) {
	hostOpenSSL, err := os.ReadFile("/usr/bin/openssl")
	if err != nil {
		t.Fatalf("the test needs the host's openssl program (Debian package openssl): %v", err)
	}
	hostTrue, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		program []byte
		env     []string
		extra   map[string]string
		want    string // "" for trusted
	}{
		{"OpenSSL's program", hostOpenSSL, nil, nil, ""},
		{"a script", []byte("#!/bin/sh\necho 'status: active'\n"), nil, nil, "is not an ELF program"},
		{"a program without libcrypto", hostTrue, nil, nil, "does not load libcrypto"},
		{"a preloaded library", hostOpenSSL, []string{"LD_PRELOAD=/lib/hook.so"}, nil, "LD_PRELOAD"},
		{"ld.so.preload", hostOpenSSL, nil, map[string]string{"etc/ld.so.preload": "/lib/hook.so\n"}, "ld.so.preload"},
		{"another libcrypto first", hostOpenSSL, []string{"LD_LIBRARY_PATH=/opt/other"}, map[string]string{"opt/other/libcrypto.so.3": "x"}, "not the verified"},
		{"none", nil, nil, nil, "no openssl command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeImage(t, goodConfig, goodModuleCnf)
			if tc.program != nil {
				p := filepath.Join(root, "usr/bin/openssl")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tc.program, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range tc.extra {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			static := &Report{OpenSSL: &OpenSSLFacts{Libcrypto: "/lib/x86_64-linux-gnu/libcrypto.so.3"}}
			c, p := opensslCommandCheck(imagefs.Root{Dir: root}, envMap(append([]string{"PATH=/usr/bin"}, tc.env...)), static)
			if (tc.want == "") != (p != "") || !strings.Contains(c.Detail, tc.want) {
				t.Errorf("%s %q: %s", c.Status, p, c.Detail)
			}
		})
	}
}
