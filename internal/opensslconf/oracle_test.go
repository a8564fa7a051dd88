//go:build e2e

// The differential test: configurations read by this package and by a real
// OpenSSL 3.5, that of the Debian trixie root filesystem hack/base-images.sh
// caches, through a small C program (testdata/oracle.c) run with that root
// filesystem's own dynamic loader and libraries. It runs in `make e2e` (and
// so `make test`), after the base images are built; it fails, never skips,
// when the root filesystem or a C compiler is missing.
//
//	go test -tags e2e -run 'Oracle' ./opensslconf/
//	go test -tags e2e -run '^$' -fuzz FuzzOracle ./opensslconf/

package opensslconf

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

type oracle struct {
	root    string // the extracted part of the Debian root filesystem
	bin     string // testdata/oracle.c, compiled
	dir     string // the fixture directory configurations are written to
	fipsCnf map[string]string
	env     map[string]string
	legacy  bool
}

var (
	oracleOnce sync.Once
	theOracle  *oracle
	oracleErr  error
	oracleTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if oracleTmp != "" {
		os.RemoveAll(oracleTmp)
	}
	os.Exit(code)
}

func getOracle(t testing.TB) *oracle {
	t.Helper()
	oracleOnce.Do(func() { theOracle, oracleErr = newOracle() })
	if oracleErr != nil {
		t.Fatal(oracleErr)
	}
	return theOracle
}

func rootfsTar() (string, error) {
	cache := os.Getenv("FIPSGATE_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "fipsgate")
	}
	m, _ := filepath.Glob(filepath.Join(cache, "rootfs", "debian-fips-amd64-*.tar"))
	if len(m) == 0 {
		return "", fmt.Errorf("no Debian trixie root filesystem (debian-fips-amd64-*.tar) under %s/rootfs: hack/base-images.sh builds it (make e2e runs it first)", cache)
	}
	return m[0], nil
}

// wanted selects what the oracle needs of the root filesystem: the loader,
// libc, libcrypto and what it links, the provider modules, openssl.
func wanted(name string) bool {
	name = strings.TrimPrefix(name, "./")
	if name == "usr/bin/openssl" || strings.HasPrefix(name, "usr/lib/x86_64-linux-gnu/ossl-modules/") {
		return true
	}
	dir, base := filepath.Split(name)
	if dir != "usr/lib/x86_64-linux-gnu/" {
		return false
	}
	for _, p := range []string{"ld-linux-x86-64.so", "libc.so", "libcrypto.so", "libssl.so", "libz.so", "libzstd.so", "libdl.so", "libpthread.so"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	return false
}

func extract(tarPath, dst string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", tarPath, err)
		}
		if !wanted(h.Name) {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(h.Name, "./")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			target := h.Linkname
			if filepath.IsAbs(target) {
				target = filepath.Join(dst, target)
			}
			if err := os.Symlink(target, p); err != nil {
				return err
			}
		case tar.TypeReg:
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

func newOracle() (*oracle, error) {
	tarPath, err := rootfsTar()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "opensslconf-oracle-")
	if err != nil {
		return nil, err
	}
	o := &oracle{root: filepath.Join(tmp, "root"), bin: filepath.Join(tmp, "oracle"), dir: filepath.Join(tmp, "conf")}
	oracleTmp = tmp // for TestMain to remove, whatever fails below
	if err := extract(tarPath, o.root); err != nil {
		return nil, err
	}
	if out, err := exec.Command("gcc", "-O1", "-o", o.bin, "testdata/oracle.c", "-ldl").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling the oracle: %v\n%s", err, out)
	}
	modules := filepath.Join(o.root, "usr/lib/x86_64-linux-gnu/ossl-modules")
	_, err = os.Stat(filepath.Join(modules, "legacy.so"))
	o.legacy = err == nil
	o.env = map[string]string{"OPENSSL_MODULES": modules, "FOO": "foo-from-env", "EMPTY": ""}
	if err := o.fixtures(); err != nil {
		return nil, err
	}
	// The FIPS provider's configuration, as the base image's Dockerfile
	// makes it: only a valid module-mac lets it activate.
	fipsCnf := filepath.Join(o.dir, "fipsmodule.cnf")
	cmd := o.command(filepath.Join(o.root, "usr/bin/openssl"), "fipsinstall", "-module", filepath.Join(modules, "fips.so"), "-out", fipsCnf)
	cmd.Env = append(cmd.Env, "OPENSSL_CONF=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("openssl fipsinstall: %v\n%s", err, out)
	}
	c, err := Parse(imagefs.Root{Dir: "/"}, fipsCnf, nil, o.dir)
	if err != nil || len(c.Errors) > 0 {
		return nil, fmt.Errorf("reading %s: %v %v", fipsCnf, err, c.Errors)
	}
	o.fipsCnf = c.Sections["fips_sect"]
	if o.fipsCnf["module-mac"] == "" {
		return nil, fmt.Errorf("%s has no [fips_sect] module-mac: %v", fipsCnf, c.Sections)
	}
	return o, nil
}

// fixtures are the files the generated configurations include.
func (o *oracle) fixtures() error {
	for name, content := range map[string]string{
		"inc/a.cnf":          "[inc_a]\nx = from a\n",
		"inc/nosect.cnf":     "y = in whatever section is current\n",
		"inc/sect.cnf":       "[left_open]\nz = 1\n",
		"inc/nul.cnf":        "[nul]\nk = v\x00ignored\nnext = 1\n",
		"inc/noeol.cnf":      "[noeol]\nlast = no newline \\",
		"inc/bad.cnf":        "[bad\n",
		"inc/dirincl.cnf":    ".include dir\n[after_dirincl]\nq = 1\n",
		"dir/10-a.cnf":       "[dir_a]\nk = 1\n",
		"dir/20-b.conf":      "[dir_b]\nk = 2\n",
		"dir/README":         "not = read\n",
		"dir/.cnf":           "not = read\n",
		"dir/sub.cnf/x.cnf":  "[never]\nx = 1\n",
		"odir/a.cnf":         "[o]\nk = a\n",
		"odir/b.cnf":         "[o]\nk = b\n",
		"pdir/p.cnf":         "[pdir]\nv = $FOO_DEF\n",
		"sdir/only.cnf":      ".include ../inc/a.cnf\n[sdir]\nafter = include\n",
		"ndir/n.cnf":         ".include dir\n[ndir]\nk = 1\n",
		"emptydir/README.md": "",
	} {
		p := filepath.Join(o.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (o *oracle) command(bin string, args ...string) *exec.Cmd {
	lib := filepath.Join(o.root, "usr/lib/x86_64-linux-gnu")
	cmd := exec.Command(filepath.Join(lib, "ld-linux-x86-64.so.2"), append([]string{"--library-path", lib, bin}, args...)...)
	cmd.Dir = o.dir
	for k, v := range o.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

type oracleResult struct {
	init        int
	providers   []string
	fipsEnabled bool
	loaded      bool
	eline       int
	errText     string
	sections    map[string][][2]string
	raw         string
}

func unhex(s string) string {
	if s == "-" {
		return ""
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (o *oracle) run(t testing.TB, name string, env map[string]string) oracleResult {
	t.Helper()
	cmd := o.command(o.bin)
	cmd.Env = append(cmd.Env, "OPENSSL_CONF="+name)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.Bytes())
	}
	r := oracleResult{sections: map[string][][2]string{}, raw: string(out)}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch f[0] {
		case "init":
			r.init, _ = strconv.Atoi(f[1])
		case "provider":
			r.providers = append(r.providers, unhex(f[1]))
		case "fips_enabled":
			r.fipsEnabled = f[1] == "1"
		case "load":
			r.loaded = f[1] == "ok"
			if !r.loaded {
				r.eline, _ = strconv.Atoi(f[2])
			}
		case "error":
			r.errText = unhex(f[1])
		case "section":
			n, _ := strconv.Atoi(f[2])
			r.sections[unhex(f[1])] = make([][2]string, n)
		case "value":
			i, _ := strconv.Atoi(f[2])
			r.sections[unhex(f[1])][i] = [2]string{unhex(f[3]), unhex(f[4])}
		}
	}
	return r
}

// check compares what OpenSSL and Parse make of the main configuration.
func (o *oracle) check(t testing.TB, main []byte, env map[string]string) {
	t.Helper()
	allEnv := maps.Clone(o.env)
	maps.Copy(allEnv, env)
	// Both read the same file, in the directory the fixtures are in (an
	// include of that directory lists it too).
	name := filepath.Join(o.dir, "main.cnf")
	if err := os.WriteFile(name, main, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(name)
	c, err := Parse(imagefs.Root{Dir: "/"}, name, allEnv, o.dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	s := Summarize(c)
	r := o.run(t, name, env)
	report := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s\nconfiguration: %q\nenv: %v\nParse errors: %q\nwarnings: %q\nsummary: %+v\nOpenSSL:\n%s", fmt.Sprintf(format, args...), main, env, c.Errors, c.Warnings, s, r.raw)
	}
	if c.refused {
		// fipsgate's own limits, or what it does not model (a provider
		// configured twice): refusing is failing closed.
		if !c.dropped && s.ModuleError == "" {
			report("refused but neither dropped nor failed")
		}
		return
	}
	if c.orderDependent {
		// Parse refuses it; what OpenSSL reads depends on readdir order.
		return
	}
	if r.loaded == c.dropped {
		report("OpenSSL loaded: %v (%s, line %d); Parse dropped the configuration: %v", r.loaded, r.errText, r.eline, c.dropped)
		return
	}
	if !r.loaded && r.eline != c.errLine {
		report("OpenSSL fails at its line %d, Parse at %d", r.eline, c.errLine)
	}
	if r.loaded {
		ours := map[string][][2]string{}
		for sect, names := range c.Order {
			ours[sect] = make([][2]string, 0, len(names))
			for _, n := range names {
				ours[sect] = append(ours[sect], [2]string{n, c.Sections[sect][n]})
			}
		}
		if !equalSections(ours, r.sections) {
			report("sections differ:\nParse:   %q\nOpenSSL: %q", ours, r.sections)
		}
	}
	if s.unmodelled {
		return
	}
	if got := r.init == 1; got == s.initFails {
		report("OPENSSL_init_crypto returned %d; Parse predicts failure: %v", r.init, s.initFails)
	}
	want := o.expectActive(s)
	sort.Strings(r.providers)
	if !slices.Equal(want, r.providers) {
		report("active providers: OpenSSL %q, predicted %q", r.providers, want)
	}
	if r.fipsEnabled != s.FIPSDefault {
		report("fips enabled by default: OpenSSL %v, Summary %v", r.fipsEnabled, s.FIPSDefault)
	}
}

func equalSections(a, b map[string][][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// expectActive predicts which of the providers the Summary activates
// actually load: the built-in ones always, a module only when it exists,
// the FIPS one only with the parameters fipsinstall wrote.
func (o *oracle) expectActive(s Summary) []string {
	var out []string
	for _, p := range s.Providers {
		if !p.Activate || slices.Contains(out, p.Name) {
			continue
		}
		ok := false
		switch p.Name {
		case "default", "base", "null":
			ok = true
		case "legacy":
			ok = o.legacy && p.Module == ""
		case "fips":
			ok = p.Module == ""
			for k, v := range o.fipsCnf {
				// The module reads its own parameters, not these.
				if k == "activate" || k == "soft_load" {
					continue
				}
				if s.FIPSSection[k] != v {
					ok = false
				}
			}
		}
		if ok {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestOracleGenerated(t *testing.T) {
	o := getOracle(t)
	for i := range 2000 {
		g := newGen(uint64(i))
		main, env := g.config(o.dir)
		t.Run(strconv.Itoa(i), func(t *testing.T) { o.check(t, main, env) })
	}
}

func FuzzOracle(f *testing.F) {
	o := getOracle(f)
	for i := range 20 {
		main, _ := newGen(uint64(1000 + i)).config(o.dir)
		f.Add(main)
	}
	f.Fuzz(func(t *testing.T, main []byte) {
		if len(main) > 1<<16 {
			return
		}
		o.check(t, main, nil)
	})
}
