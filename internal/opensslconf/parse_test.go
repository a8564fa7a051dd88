package opensslconf

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

func parseTestdata(t *testing.T, root, name string, env map[string]string) *Config {
	t.Helper()
	c, err := Parse(imagefs.Root{Dir: "testdata/" + root}, name, env, "/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFIPSConfiguration(t *testing.T) {
	// Reached the way OpenSSL does on Debian: OPENSSLDIR/openssl.cnf, a
	// symlink to /etc/ssl/openssl.cnf.
	c := parseTestdata(t, "fips", "/usr/lib/ssl/openssl.cnf", nil)
	if len(c.Errors) > 0 {
		t.Fatalf("unexpected errors: %v", c.Errors)
	}
	s := Summarize(c)
	if !s.ConfigDiagnostics || !s.FIPSDefault || s.DefaultProperties != "fips=yes" {
		t.Errorf("summary = %+v", s)
	}
	// In the providers section's order, as OpenSSL activates them.
	want := []Provider{
		{Name: "fips", Section: "fips_sect", Activate: true},
		{Name: "base", Section: "base_sect", Activate: true},
	}
	if !reflect.DeepEqual(s.Providers, want) {
		t.Errorf("providers = %+v, want %+v", s.Providers, want)
	}
	if s.FIPSSectionFile != "/etc/ssl/fipsmodule.cnf" || !strings.HasPrefix(s.FIPSSection["module-mac"], "5E:91") {
		t.Errorf("FIPS section from %q: %v", s.FIPSSectionFile, s.FIPSSection)
	}
	if got := s.Active(); !reflect.DeepEqual(got, []string{"fips", "base"}) {
		t.Errorf("active = %v", got)
	}
}

func TestIncludesStayInsideTheRoot(t *testing.T) {
	c := parseTestdata(t, "escape", "/etc/ssl/openssl.cnf", nil)
	if c.Sections["from_other"]["seen"] != "yes" {
		t.Errorf("a relative include climbing above / must resolve inside the root; sections: %v", c.Sections)
	}
	// Resolved inside the root, the symlink points at a file that does not
	// exist there: OpenSSL would skip the include, and so does Parse.
	if len(c.Errors) != 0 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "/etc/ssl/link.cnf") {
		t.Errorf("a symlink pointing out of the root must not be followed out of it; errors: %q, warnings %q", c.Errors, c.Warnings)
	}
	s := Summarize(c)
	if _, ok := s.FIPS(); ok || s.FIPSDefault || !reflect.DeepEqual(s.Active(), []string{"default"}) {
		t.Errorf("only the default provider is configured, summary says %+v", s)
	}
}

func TestDirectoryIncludeVariablesAndQuoting(t *testing.T) {
	c := parseTestdata(t, "dir", "/etc/ssl/openssl.cnf", map[string]string{"HOME": "/home/app"})
	if got, want := c.Files, []string{"/etc/ssl/openssl.cnf", "/etc/ssl/conf.d/00-first.conf", "/etc/ssl/conf.d/10-fips.cnf"}; !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if len(c.Errors) != 0 {
		t.Fatalf("errors = %q", c.Errors)
	}
	props := c.Sections["vars"]
	if props["greeting"] != "hello, world   continued" {
		t.Errorf("continuation and escapes: greeting = %q", props["greeting"])
	}
	if props["home"] != "/home/app" {
		t.Errorf("$ENV::HOME = %q", props["home"])
	}
	s := Summarize(c)
	want := []Provider{
		{Name: "fips", Section: "fips_sect", Activate: true, Module: "/usr/lib/ossl-modules/fips.so"},
		{Name: "base", Section: "base_sect", Activate: true},
		{Name: "legacy", Section: "legacy_sect", Activate: false},
	}
	if !reflect.DeepEqual(s.Providers, want) {
		t.Errorf("providers = %+v, want %+v", s.Providers, want)
	}
	if !s.FIPSDefault || s.FIPSSectionFile != "/etc/ssl/conf.d/10-fips.cnf" {
		t.Errorf("summary = %+v", s)
	}
}

func TestHasProperty(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"fips=yes", true},
		{" fips = yes ", true},
		{"provider=fips,fips=yes", true},
		{"fips", true},
		{"?fips=yes", false},
		{"fips=no", false},
		{"-fips", false},
		{"", false},
	} {
		if got := hasProperty(tc.query, "fips", "yes"); got != tc.want {
			t.Errorf("hasProperty(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestParseMissingMainFile(t *testing.T) {
	if _, err := Parse(imagefs.Root{Dir: "testdata/fips"}, "/etc/ssl/nope.cnf", nil, "/"); err == nil {
		t.Fatal("want an error for a missing main configuration file")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("openssl_conf = a\n[a]\nproviders = p\n[p]\nfips = s\n[s]\nactivate = 1\n"))
	f.Add([]byte("x = $a::b ${c} $(d) \"q\\\"\" 'r' \\\n#c\n.include = /x\n.pragma dollarid:on\n"))
	for i := range 50 {
		dt, _ := newGen(uint64(i)).config("")
		f.Add(dt)
	}
	// The differential fuzz target's seeds, one for each construct.
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzOracle/*")
	for _, name := range seeds {
		dt, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(dt), "\n")
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lit), "[]byte("), ")"))
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, dt []byte) {
		start := time.Now()
		c, err := Parse(memFS{"/c.cnf": dt, "/x": dt}, "/c.cnf", map[string]string{}, "/")
		if err != nil {
			t.Fatal(err)
		}
		Summarize(c)
		// Bounded time whatever the input (generous: fuzzing shares the CPU).
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Parse took %v", d)
		}
	})
}

// memFS is a flat in-memory FS for the fuzzer.
type memFS map[string][]byte

func (m memFS) ReadFile(name string) ([]byte, error) {
	if dt, ok := m[name]; ok {
		return dt, nil
	}
	return nil, fsNotExist(name)
}
func (m memFS) ReadDir(string) ([]string, error) { return nil, nil }
func (m memFS) IsDir(string) bool                { return false }

func fsNotExist(name string) error { return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist} }
