package probe

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
)

// opensslCommandCheck judges whether what the image's openssl command
// prints can be evidence: it is the image's own program, which could print
// anything. It is taken only when it is an ELF program of the kind OpenSSL
// builds — dynamically linked, loading the very libcrypto the static checks
// verified, with nothing preloaded and no crypto of its own in the
// inventory. Even then a purpose-built program could lie; what it prints is
// cross-checked with the static facts (providerCheck), and the verdict does
// not rest on it alone.
//
// An image without openssl is judged without the self-test. An image whose
// openssl is something else — a script answering as OpenSSL would, a
// program on another libcrypto — fails: the self-test is the only evidence
// that the provider loads and serves, and a stand-in would take its place.
func opensslCommandCheck(root imagefs.Root, env map[string]string, static *Report) (Check, string) {
	c := Check{Name: "openssl-command", Title: "the image's openssl command is an OpenSSL program on the verified libcrypto", Required: true}
	p := inventory.LookPath(root, "openssl", env, "/")
	problem := func(why string) (Check, string) {
		c.Status = Failed
		c.Detail = why + ": what it prints cannot be evidence, so the OpenSSL self-test does not run"
		return c, ""
	}
	if p == "" {
		c.Status, c.Required, c.Detail = NotRun, false, "the image has no openssl command in its PATH"
		return c, ""
	}
	libcrypto := ""
	if static.OpenSSL != nil {
		libcrypto = static.OpenSSL.Libcrypto
	}
	if libcrypto == "" {
		return problem(p + ": no verified libcrypto to load")
	}
	for _, k := range []string{"LD_PRELOAD", "LD_AUDIT"} {
		if env[k] != "" {
			return problem(fmt.Sprintf("the image's environment sets %s=%s, which runs other code inside openssl", k, env[k]))
		}
	}
	if st, err := root.Stat("/etc/ld.so.preload"); err == nil && st.Size() > 0 {
		return problem("/etc/ld.so.preload loads other code into every program")
	}
	f, err := root.Open(p)
	if err != nil {
		return problem(fmt.Sprintf("%s: %v", p, err))
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, io.LimitReader(f, 256<<20)); err != nil {
		return problem(fmt.Sprintf("%s: %v", p, err))
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	ef, err := elf.NewFile(f)
	if err != nil {
		return problem(fmt.Sprintf("%s is not an ELF program (%v)", p, err))
	}
	defer ef.Close()
	if !slices.ContainsFunc(ef.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return problem(p + " is statically linked: it does not use the image's libcrypto")
	}
	needed, _ := ef.DynString(elf.DT_NEEDED)
	if !slices.ContainsFunc(needed, func(n string) bool { return strings.HasPrefix(n, "libcrypto.so") }) {
		return problem(p + " does not load libcrypto")
	}
	var runpaths []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		v, _ := ef.DynString(tag)
		for _, s := range v {
			runpaths = append(runpaths, strings.Split(s, ":")...)
		}
	}
	real, _ := root.Real(p)
	wantReal, _ := root.Real(libcrypto)
	dirs := inventory.LibraryDirs(root, env)
	for _, n := range needed {
		if !strings.HasPrefix(n, "libcrypto.so") {
			continue
		}
		got := inventory.FindLibrary(root, n, runpaths, path.Dir(real), dirs)
		gotReal, _ := root.Real(got)
		if got == "" || gotReal != wantReal {
			return problem(fmt.Sprintf("%s loads %s from %q, not the verified %s", p, n, got, libcrypto))
		}
	}
	if static.Inventory != nil {
		for _, fd := range static.Inventory.Findings {
			if (fd.Path == p || fd.Path == real) && fd.Severity == inventory.Failure {
				return problem(fmt.Sprintf("%s: %s (%s)", p, fd.Evidence, fd.Kind))
			}
		}
	}
	c.Status = Passed
	c.Detail = fmt.Sprintf("%s: ELF on %s, sha256 %s", p, libcrypto, digest)
	return c, p
}

// listedProvider is one provider in the providers' section of `openssl list`.
type listedProvider struct {
	key, name, version, status, build string
}

// listedProviders parses the providers' section of `openssl list
// -providers` (with or without -verbose): each provider
// at an indent of two, its fields at four; deeper lines describe its
// parameters ("name: pointer to a UTF8 encoded string") and are not its
// fields.
func listedProviders(out string) []listedProvider {
	var ps []listedProvider
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 2 && trimmed != "" {
			ps = append(ps, listedProvider{key: trimmed})
			continue
		}
		if len(ps) == 0 || indent != 4 {
			continue
		}
		p := &ps[len(ps)-1]
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "name":
			p.name = v
		case "version":
			p.version = v
		case "status":
			p.status = v
		case "build info":
			p.build = v
		}
	}
	return ps
}

// activeFIPS is the first active provider whose key or name says FIPS,
// nil for none.
func activeFIPS(ps []listedProvider) *listedProvider {
	for i, p := range ps {
		if p.status == "active" && strings.Contains(strings.ToLower(p.key+" "+p.name), "fips") {
			return &ps[i]
		}
	}
	return nil
}

// providerCheck judges the providers' section of `openssl list`: the FIPS
// provider is active; the active providers are exactly those the static
// checks found activated (else OpenSSL read another configuration than
// they did). It returns what the active FIPS provider reports of itself,
// which the frontend holds against the module the static checks read
// (judgeModuleIdentity).
func providerCheck(c Check, out string, static *Report) (Check, *fipsmodule.Identity) {
	ps := listedProviders(out)
	var active []string
	for _, p := range ps {
		if p.status == "active" {
			active = append(active, p.key)
		}
	}
	fips := activeFIPS(ps)
	if fips == nil {
		c.Status, c.Detail = Failed, "the FIPS provider is not listed with status: active"
		return c, nil
	}
	c.Status, c.Detail = Passed, "active: "+fips.name
	var want []string
	if static.OpenSSL != nil {
		want = static.OpenSSL.Summary.Active()
	}
	sort.Strings(active)
	sort.Strings(want)
	if !slices.Equal(active, want) {
		c.Status = Failed
		c.Detail = fmt.Sprintf("openssl lists the active providers %v, the configuration the static checks read activates %v: OpenSSL does not use the configuration they judged", active, want)
	}
	return c, &fipsmodule.Identity{Name: fips.name, Version: fips.version, Build: fips.build}
}
