package fipsmodule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"golang.org/x/sys/unix"
)

// The expected MAC was computed independently (Python's hmac module with the
// default key), so this checks the key and the formatting, not just the code.
func TestInspect(t *testing.T) {
	module := []byte("\x7fELF\x00\x01OpenSSL FIPS Provider\x00\x003.1.2\x00OpenSSL 3.1.2 1 Aug 2023\x00\xff")
	// One byte at a time: strings must be found across Write calls.
	info, err := Inspect(iotest.OneByteReader(bytes.NewReader(module)))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		Size:     int64(len(module)),
		SHA256:   "4a3471cc1672e0a3459f1e9f85a74ce2721c9c19a2f4e5f28469e4daedbdb50d",
		MAC:      "58:F1:00:DF:AF:A1:5F:A8:5E:1D:57:FE:9F:74:D7:40:1B:6F:29:C0:AD:E6:44:36:45:FD:B8:9D:EA:76:64:6F",
		Name:     "OpenSSL FIPS Provider",
		Version:  "3.1.2",
		Build:    "3.1.2",
		Names:    []string{"OpenSSL FIPS Provider"},
		Versions: []string{"3.1.2"},
	}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Inspect = %+v\nwant      %+v", info, want)
	}
}

func TestInspectVersionWithoutVersionText(t *testing.T) {
	info, err := Inspect(strings.NewReader("junk\x00Vendor FIPS Provider for OpenSSL\x003.0.9\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "3.0.9" || info.Name != "Vendor FIPS Provider for OpenSSL" || info.Build != "3.0.9" {
		t.Errorf("info = %+v", info)
	}
}

// The identity read from the strings of the fixture modules in
// testdata/modules: what fips_get_params' literals look like upstream, at
// Debian, Chainguard and Red Hat, and in modules that leave a doubt.
func TestStaticIdentity(t *testing.T) {
	for _, tc := range []struct {
		file     string
		want     Identity
		doubt    string
		versions []string
	}{
		{"upstream-3.1.2.so", Identity{"OpenSSL FIPS Provider", "3.1.2", "3.1.2"}, "", []string{"3.1.2"}},
		{"debian-3.5.9.so", Identity{"OpenSSL FIPS Provider", "3.5.9", "3.5.9"}, "", []string{"3.5.9"}},
		// Two version-like strings and no OPENSSL_VERSION_TEXT: the build
		// is left to what the provider reports.
		{"chainguard-3.4.0.so", Identity{"Chainguard FIPS Provider for OpenSSL", "3.4.0", ""}, "", []string{"3.4.0", "3.4.0-r5"}},
		{"rhel9-certified.so", Identity{"Red Hat Enterprise Linux 9 - OpenSSL FIPS Provider", "3.0.7-395c1a240fbfffd8", ""}, "", []string{"3.0.7-395c1a240fbfffd8", "3.0.7"}},
		{"nameless-3.1.2.so", Identity{"", "3.1.2", "3.1.2"}, "no provider name", []string{"3.1.2"}},
		{"two-names.so", Identity{"OpenSSL FIPS Provider", "3.1.2", ""}, "2 provider names", []string{"3.1.2", "3.4.0"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			info := inspectFixture(t, tc.file)
			id, doubt := info.StaticIdentity()
			if id != tc.want || !reflect.DeepEqual(info.Versions, tc.versions) {
				t.Errorf("identity %+v, versions %q; want %+v, %q", id, info.Versions, tc.want, tc.versions)
			}
			if (tc.doubt == "") != (doubt == "") || !strings.Contains(doubt, tc.doubt) {
				t.Errorf("doubt %q, want %q", doubt, tc.doubt)
			}
		})
	}
}

func inspectFixture(t *testing.T, name string) Info {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "modules", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Inspect(f)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// What a provider reports must be strings its module carries: a name or
// version the file does not hold comes from another module, or from an
// openssl that does not tell the truth.
func TestCarries(t *testing.T) {
	info := inspectFixture(t, "chainguard-3.4.0.so")
	for _, tc := range []struct {
		id      Identity
		missing []string
	}{
		{Identity{"Chainguard FIPS Provider for OpenSSL", "3.4.0", "3.4.0-r5"}, nil},
		{Identity{"Chainguard FIPS Provider for OpenSSL", "3.4.0", ""}, nil},
		{Identity{"OpenSSL FIPS Provider", "3.1.2", "3.1.2"}, []string{`name "OpenSSL FIPS Provider"`, `version "3.1.2"`, `build "3.1.2"`}},
		{Identity{"Chainguard FIPS Provider for OpenSSL", "3.4.0", "3.4.0-r9"}, []string{`build "3.4.0-r9"`}},
	} {
		if got := info.Carries(tc.id); !reflect.DeepEqual(got, tc.missing) {
			t.Errorf("Carries(%+v) = %q, want %q", tc.id, got, tc.missing)
		}
	}
}

// A module that carries thousands of names and versions (to drown the
// real ones) is cut short, and says so.
func TestInspectBoundsIdentityStrings(t *testing.T) {
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "Vendor %d FIPS Provider\x00%d.0.0\x00", i, i)
	}
	info, err := Inspect(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Names) != maxNames || len(info.Versions) != maxVersions || !info.Truncated {
		t.Errorf("kept %d names, %d versions, truncated %v", len(info.Names), len(info.Versions), info.Truncated)
	}
	if _, doubt := info.StaticIdentity(); doubt == "" {
		t.Errorf("a truncated module's identity must be in doubt")
	}
}

func TestNormalizeMAC(t *testing.T) {
	got, err := NormalizeMAC(" 5e:91:0a ")
	if err != nil || got != "5E:91:0A" {
		t.Errorf("NormalizeMAC = %q, %v", got, err)
	}
	if got, err := NormalizeMAC("5E910A"); err != nil || got != "5E:91:0A" {
		t.Errorf("NormalizeMAC without colons = %q, %v", got, err)
	}
	for _, bad := range []string{"", "zz:zz", "5E:9"} {
		if _, err := NormalizeMAC(bad); err == nil {
			t.Errorf("NormalizeMAC(%q) must fail", bad)
		}
	}
}

// bounded runs Inspect and fails the test if it has not returned by the
// deadline: a regression reads /dev/zero forever or hashes gigabytes.
func bounded(t *testing.T, r io.Reader) (Info, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		info Info
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := Inspect(r)
		done <- result{info, err}
	}()
	select {
	case res := <-done:
		return res.info, res.err
	case <-ctx.Done():
		t.Fatalf("Inspect did not return within 20s")
		panic("unreachable")
	}
}

func TestInspectRefusesHostileModules(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "fips.so")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.so")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	root := imagefs.Root{Dir: dir}
	for _, tc := range []struct {
		name string
		open func() (*os.File, error)
		want string
		is   error
	}{
		{"sparse", func() (*os.File, error) { return root.Open("/fips.so") },
			"/fips.so: file too large: 8589934592 bytes, 8321499136 over the 268435456-byte limit; OpenSSL's fips.so is 1-3 MB", imagefs.ErrTooLarge},
		// Opened by the caller as a FIFO: its read end, not blocking.
		{"fifo", func() (*os.File, error) { return os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0) },
			fifo + " is a FIFO (named pipe), not a regular file", imagefs.ErrNotRegular},
		{"device", func() (*os.File, error) { return os.Open("/dev/zero") },
			"/dev/zero is a character device, not a regular file", imagefs.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = bounded(t, f)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
				t.Errorf("Inspect = %v\nwant %q, wrapping %v", err, tc.want, tc.is)
			}
		})
	}
}

// A reader that is not a file has no size to check first: /dev/zero seen
// through a pipe, say. Reading stops just past the limit.
func TestInspectStopsPastTheLimit(t *testing.T) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = bounded(t, struct{ io.Reader }{f})
	if !errors.Is(err, imagefs.ErrTooLarge) || !strings.Contains(err.Error(), "the module: file too large: reading stopped past the 268435456-byte limit") {
		t.Errorf("Inspect = %v", err)
	}
}

func TestInspectReadsAModuleAtTheLimit(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "fips.so"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(MaxSize); err != nil {
		t.Fatal(err)
	}
	info, err := bounded(t, f)
	if err != nil || info.Size != MaxSize {
		t.Errorf("Inspect = %+v, %v", info, err)
	}
}
