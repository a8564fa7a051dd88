package probe

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"strings"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/opensslconf"
)

// envMap turns KEY=VALUE pairs into a map; later entries win.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// processEnv is the environment every process of the image starts with
// in the check containers: the image's Env, and HOME, as under docker run,
// from the image user's /etc/passwd entry when the image sets none. The
// static checks read the OpenSSL configuration under it too: OpenSSL
// expands $ENV::NAME from the environment of the process that loads it.
// Run puts it in the spec once for every step.
func processEnv(spec Spec) []string {
	env := spec.Image.Env
	if _, ok := envMap(env)["HOME"]; ok {
		return env
	}
	id, err := resolveUser(imagefs.Root{Dir: spec.Root}, spec.Image.User)
	if err != nil {
		return env
	}
	return append(append([]string{}, env...), "HOME="+id.Home)
}

// pseudoDirs hold files whose content depends on the process that reads
// them (/proc/self/environ, /dev/stdin): a configuration read from there
// says nothing of what the image's processes read.
var pseudoDirs = []string{"/proc", "/sys", "/dev"}

// configFS is the image root as the configuration reader sees it: files
// that resolve into the kernel's pseudo filesystems are refused.
type configFS struct{ imagefs.Root }

func (c configFS) check(name string) error {
	real, err := c.Real(name)
	if err != nil {
		return nil // the read itself says what is wrong
	}
	for _, d := range pseudoDirs {
		if real == d || strings.HasPrefix(real, d+"/") {
			return fmt.Errorf("%s is in %s, whose files depend on the process that reads them", name, d)
		}
	}
	return nil
}

func (c configFS) ReadFile(name string) ([]byte, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.Root.ReadFile(name)
}

func (c configFS) ReadFileLimit(name string, limit int64) ([]byte, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.Root.ReadFileLimit(name, limit)
}

func (c configFS) ReadDir(name string) ([]string, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.Root.ReadDir(name)
}

// envDependence tells, for a configuration that expands environment
// variables, whether what it configures changes with them: read again with
// them unset, and with a value nobody would give them, its providers,
// properties and FIPS section must stay the same. "" when they do.
func envDependence(root imagefs.Root, file string, env map[string]string, workDir string, cfg *opensslconf.Config) string {
	if len(cfg.EnvNames) == 0 {
		return ""
	}
	want := opensslconf.Summarize(cfg)
	for _, set := range []func(e map[string]string, name string){
		func(e map[string]string, name string) { delete(e, name) },
		func(e map[string]string, name string) { e[name] = "fipsgate-unexpected-value" },
	} {
		e := maps.Clone(env)
		for _, n := range cfg.EnvNames {
			set(e, n)
		}
		other, err := opensslconf.Parse(configFS{root}, file, e, workDir)
		if err != nil || len(other.Errors) != len(cfg.Errors) || !reflect.DeepEqual(opensslconf.Summarize(other), want) {
			return fmt.Sprintf("what the configuration activates depends on the environment of the process that loads it (%s): a process started with other values — by docker run -e, a shell, the application itself — reads another configuration than the one judged here",
				strings.Join(cfg.EnvNames, ", "))
		}
	}
	return ""
}

// findLibcrypto returns the libcrypto.so.3 the dynamic linker would load.
func findLibcrypto(root imagefs.Root, env map[string]string) string {
	return inventory.FindLibrary(root, "libcrypto.so.3", nil, "/", inventory.LibraryDirs(root, env))
}

// compiledDirs reads OPENSSLDIR and MODULESDIR as libcrypto reports them
// (OpenSSL_version(OPENSSL_DIR), crypto/cversion.c) from its strings.
func compiledDirs(root imagefs.Root, lib string) (opensslDir, modulesDir string, err error) {
	dt, err := libcryptoStrings(root, lib)
	if err != nil {
		return "", "", err
	}
	for _, m := range []struct {
		prefix string
		dst    *string
	}{{"OPENSSLDIR: \"", &opensslDir}, {"MODULESDIR: \"", &modulesDir}} {
		if i := bytes.Index(dt, []byte(m.prefix)); i >= 0 {
			*m.dst, _ = quotedAfter(dt[i:min(len(dt), i+4096)], m.prefix)
		}
	}
	return opensslDir, modulesDir, nil
}

// libcryptoStrings returns the read-only data of libcrypto, where its
// compiled-in strings are; the whole file when it has no such section.
func libcryptoStrings(root imagefs.Root, lib string) ([]byte, error) {
	f, err := root.Open(lib)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if ef, err := elf.NewFile(f); err == nil {
		if sec := ef.Section(".rodata"); sec != nil && sec.Type != elf.SHT_NOBITS && sec.Size < 64<<20 {
			return sec.Data()
		}
	}
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

func quotedAfter(b []byte, prefix string) (string, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return "", false
	}
	v, _, ok := bytes.Cut(rest, []byte(`"`))
	return string(v), ok && len(v) > 0
}

// addInventory adds the crypto inventory's checks to a static report.
func addInventory(r *Report, spec Spec) {
	root := imagefs.Root{Dir: spec.Root}
	opts := inventoryOptions(spec, r)
	opts.Skip = spec.Mounts
	opts.Reach = inventory.ResolveReach(root, spec.App, opts.Env, spec.Image.WorkingDir)
	r.Checks = append(r.Checks, inventoryChecks(r, root, opts)...)
}

// inventoryOptions are the crypto inventory's options for a spec whose
// static checks found what static says.
func inventoryOptions(spec Spec, static *Report) inventory.Options {
	opts := inventory.Options{Env: envMap(spec.Image.Env), Strict: spec.Strict, Exceptions: spec.Exceptions, AppArgs: spec.App}
	if static.OpenSSL != nil {
		opts.VerifiedLibcrypto = static.OpenSSL.Libcrypto
		// Node.js reads the nodejs_conf section: one that is openssl_conf's
		// own makes it follow the FIPS configuration.
		if n := static.OpenSSL.NodeSection; n != "" && n == static.OpenSSL.Summary.InitSection {
			opts.NodeSharedConfig = "the configuration's nodejs_conf names its openssl_conf section (" + n + ")"
		}
	}
	if static.Module != nil {
		opts.VerifiedModule = static.Module.RealPath
	}
	return opts
}

// inspectOpenSSL finds the OpenSSL configuration in force and the FIPS
// module, and checks them; the self-test and the negative tests use what
// it finds.
func inspectOpenSSL(spec Spec) *Report {
	root := imagefs.Root{Dir: spec.Root}
	env := envMap(spec.Image.Env)
	r := &Report{Kind: KindStatic}
	facts := &OpenSSLFacts{}
	r.OpenSSL = facts

	locateConfig(root, env, facts)
	configCheck, envCheck := readConfig(root, env, spec.Image.WorkingDir, facts)
	r.Checks = append(r.Checks, configCheck)
	if envCheck.Name != "" {
		r.Checks = append(r.Checks, envCheck)
	}
	s := facts.Summary
	fips, hasFIPS := s.FIPS()
	r.Checks = append(r.Checks, providerChecks(s)...)
	r.Checks = append(r.Checks, enforcementCheck(s.FIPSSection))
	r.Module = inspectModule(root, env, facts, fips, hasFIPS, s)
	r.Checks = append(r.Checks, moduleChecks(r.Module, spec.RequireValidated)...)
	return r
}

// locateConfig finds the libcrypto the dynamic linker would load, its
// compiled-in directories, and the configuration file it reads.
func locateConfig(root imagefs.Root, env map[string]string, facts *OpenSSLFacts) {
	facts.Libcrypto = findLibcrypto(root, env)
	if facts.Libcrypto != "" {
		var err error
		facts.OpenSSLDir, facts.ModulesDir, err = compiledDirs(root, facts.Libcrypto)
		if err != nil {
			facts.Errors = append(facts.Errors, fmt.Sprintf("reading %s: %v", facts.Libcrypto, err))
		}
	}
	if v := env["OPENSSL_CONF"]; v != "" {
		facts.ConfigFile, facts.ConfigSource = v, "OPENSSL_CONF"
	} else if facts.OpenSSLDir != "" {
		facts.ConfigFile, facts.ConfigSource = path.Join(facts.OpenSSLDir, "openssl.cnf"), "OPENSSLDIR of "+facts.Libcrypto
	}
}

// readConfig reads the configuration as OpenSSL would, into facts, and
// judges that it loads and that what it activates does not depend on the
// loading process's environment (the second check has no name when the
// configuration could not be read).
func readConfig(root imagefs.Root, env map[string]string, workDir string, facts *OpenSSLFacts) (configCheck, envCheck Check) {
	configCheck = Check{Name: "openssl-config", Title: "the OpenSSL configuration loads", Required: true}
	var cfg *opensslconf.Config
	switch {
	case facts.ConfigFile == "" && facts.Libcrypto == "":
		configCheck.Status = Failed
		configCheck.Detail = "no libcrypto.so.3 in the library path and no OPENSSL_CONF: the image has no OpenSSL 3 for a FIPS provider to serve"
	case facts.ConfigFile == "":
		configCheck.Status = Failed
		configCheck.Detail = "cannot tell where " + facts.Libcrypto + " looks for its configuration (no OPENSSLDIR string) and OPENSSL_CONF is not set"
	case !path.IsAbs(facts.ConfigFile):
		configCheck.Status = Failed
		configCheck.Detail = "OPENSSL_CONF=" + facts.ConfigFile + " is not an absolute path"
	default:
		var err error
		cfg, err = opensslconf.Parse(configFS{root}, facts.ConfigFile, env, workDir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			configCheck.Status = Failed
			configCheck.Detail = fmt.Sprintf("%s (from %s) does not exist: OpenSSL runs with its built-in defaults, without FIPS", facts.ConfigFile, facts.ConfigSource)
		case err != nil:
			configCheck.Status = Failed
			configCheck.Detail = fmt.Sprintf("reading %s: %v", facts.ConfigFile, err)
			facts.Unreadable = configCheck.Detail
		default:
			if cfg.Refused() {
				facts.Unreadable = strings.Join(cfg.Errors, "; ")
			}
			envCheck = Check{Name: "config-environment", Title: "what the configuration activates does not depend on the loading process's environment", Required: true, Status: Passed, Detail: "no environment variable changes it"}
			if why := envDependence(root, facts.ConfigFile, env, workDir, cfg); why != "" {
				envCheck.Status, envCheck.Detail = Failed, why
			} else if len(cfg.EnvNames) > 0 {
				envCheck.Detail = "it expands " + strings.Join(cfg.EnvNames, ", ") + ", which change nothing it activates"
			}
			facts.Files = cfg.Files
			facts.NodeSection = cfg.Sections[opensslconf.DefaultSection]["nodejs_conf"]
			facts.Errors = append(facts.Errors, cfg.Errors...)
			facts.Summary = opensslconf.Summarize(cfg)
			if len(cfg.Errors) > 0 {
				configCheck.Status = Failed
				configCheck.Detail = "the configuration does not load: " + strings.Join(cfg.Errors, "; ")
			} else {
				configCheck.Status = Passed
				configCheck.Detail = fmt.Sprintf("%s (from %s), %d file(s)", facts.ConfigFile, facts.ConfigSource, len(cfg.Files))
			}
		}
	}
	return configCheck, envCheck
}

// providerChecks judges what the configuration activates: the FIPS
// provider, base, no other provider, FIPS default properties and
// config_diagnostics.
func providerChecks(s opensslconf.Summary) []Check {
	fips, hasFIPS := s.FIPS()
	var checks []Check
	checks = append(checks, Check{
		Name: "fips-provider-activated", Title: "the FIPS provider is configured and activated", Required: true,
		Status: passIf(hasFIPS && fips.Activate),
		Detail: describeProvider(fips, hasFIPS, s),
	})
	base, fipsActive := false, false
	var others []string
	for _, p := range s.Providers {
		switch {
		case p.IsFIPS() && p.Activate && fipsActive:
			// Only one module is verified and broken by the negative tests.
			others = append(others, p.Name+" (a second FIPS provider)")
		case p.IsFIPS():
			fipsActive = fipsActive || p.Activate
		case p.Name == "base":
			base = p.Activate
		case p.Activate:
			others = append(others, p.Name)
		}
	}
	checks = append(checks, Check{
		Name: "base-provider-activated", Title: "the base provider is activated (encoders, decoders)", Required: false,
		Status: warnUnless(base),
		Detail: map[bool]string{true: "base is activated", false: "base is not activated: key and certificate encoding and decoding will fail"}[base],
	})
	checks = append(checks, Check{
		Name: "no-other-provider", Title: "no provider other than fips and base is activated", Required: true,
		Status: passIf(len(others) == 0),
		Detail: map[bool]string{
			true:  "only fips and base are activated",
			false: "also activated: " + strings.Join(others, ", ") + "; their non-approved algorithms stay reachable to any caller that asks for them by property",
		}[len(others) == 0],
	})
	checks = append(checks, Check{
		Name: "fips-default-properties", Title: "default_properties require fips=yes", Required: true,
		Status: passIf(s.RequiresFIPS()),
		Detail: fmt.Sprintf("default_properties = %q", s.DefaultProperties),
	})
	checks = append(checks, Check{
		Name: "config-diagnostics", Title: "config_diagnostics = 1 (a broken configuration is an error, not silently ignored)", Required: false,
		Status: warnUnless(s.ConfigDiagnostics),
		Detail: map[bool]string{
			true:  "config_diagnostics = 1",
			false: "config_diagnostics is not set: if the configuration fails to load (a missing fipsmodule.cnf), OpenSSL silently runs without FIPS",
		}[s.ConfigDiagnostics],
	})
	return checks
}

// unreadable says why the image's programs are not worth running: a file
// OpenSSL reads at start (the configuration, the module) could not be read
// as OpenSSL would, so the verdict fails whatever they do, and they could
// wait on it (a FIFO) until their timeout. "" when nothing stands in the
// way.
func unreadable(static *Report) string {
	switch {
	case static.OpenSSL != nil && static.OpenSSL.Unreadable != "":
		return "the OpenSSL configuration cannot be read as OpenSSL would read it: " + static.OpenSSL.Unreadable
	case static.Module != nil && static.Module.Unreadable != "":
		return "the FIPS module cannot be read: " + static.Module.Unreadable
	}
	return ""
}

// enforcedByDefault are the FIPS provider's options that openssl
// fipsinstall turns on: with one of them off, the provider serves what its
// security policy forbids (keys and parameters it would otherwise refuse),
// or carries on after a failed conditional self-test. The provider takes
// "1" or "0" and refuses to load with anything else.
var enforcedByDefault = []string{"security-checks", "conditional-errors", "pbkdf2-lower-bound-check"}

// enforcementCheck fails a FIPS section that turns off what the provider
// enforces by default.
func enforcementCheck(section map[string]string) Check {
	c := Check{Name: "fips-enforcement", Title: "the FIPS provider's enforcement is not turned off (" + strings.Join(enforcedByDefault, ", ") + ")", Required: true, Status: Passed,
		Detail: "none is set to 0"}
	var off []string
	for _, k := range enforcedByDefault {
		if section[k] == "0" {
			off = append(off, k+" = 0")
		}
	}
	if len(off) > 0 {
		c.Status = Failed
		c.Detail = "turned off in the FIPS section: " + strings.Join(off, ", ") + "; the provider then serves what its security policy forbids (openssl fipsinstall writes 1)"
	}
	return c
}

// inventoryChecks scans the whole image for crypto that bypasses the
// verified module (package inventory) and turns its findings into checks.
func inventoryChecks(r *Report, root imagefs.Root, opts inventory.Options) []Check {
	inv, err := inventory.Scan(root, opts)
	if err != nil {
		return []Check{{Name: "crypto-inventory", Title: "no crypto bypasses the FIPS module", Required: true, Status: Failed,
			Detail: "the image could not be scanned: " + err.Error()}}
	}
	r.Inventory = inv
	failures := Check{Name: "crypto-inventory", Title: "no crypto bypasses the FIPS module", Required: true, Status: Passed,
		Detail: fmt.Sprintf("%d files scanned, %d ELF, %d Go binaries; %d findings", inv.Stats.Files, inv.Stats.ELFFiles, inv.Stats.GoFiles, len(inv.Findings))}
	warnings := Check{Name: "crypto-inventory-warnings", Title: "no other crypto is present", Required: false, Status: Passed, Detail: "none"}
	var fails, warns []string
	for _, f := range inv.Findings {
		line := fmt.Sprintf("%s: %s (%s)", f.Path, f.Evidence, f.Kind)
		switch {
		case f.Accepted != "":
		case f.Severity == inventory.Failure:
			fails = append(fails, line)
		case f.Severity == inventory.Warning:
			warns = append(warns, line)
		}
	}
	if len(fails) > 0 {
		failures.Status = Failed
		failures.Detail = strings.Join(fails, "\n")
	}
	if len(warns) > 0 {
		warnings.Status = Warning
		warnings.Detail = strings.Join(warns, "\n")
	}
	return []Check{failures, warnings}
}

func describeProvider(p opensslconf.Provider, ok bool, s opensslconf.Summary) string {
	switch {
	case s.InitSection == "":
		return "no openssl_conf section: the configuration configures no provider"
	case !ok:
		return fmt.Sprintf("no fips provider among the configured providers %v", s.Active())
	case !p.Activate:
		return "the fips provider is configured in [" + p.Section + "] but not activated (activate = 1 is missing)"
	}
	return "fips is activated in [" + p.Section + "]"
}

func passIf(ok bool) string {
	if ok {
		return Passed
	}
	return Failed
}

func warnUnless(ok bool) string {
	if ok {
		return Passed
	}
	return Warning
}

// modulePath is where OpenSSL loads the FIPS provider from: `module =` in
// its section (relative to the modules directory), else fips.so there; the
// modules directory is OPENSSL_MODULES or libcrypto's MODULESDIR.
func modulePath(env map[string]string, facts *OpenSSLFacts, p opensslconf.Provider) string {
	dir := env["OPENSSL_MODULES"]
	if dir == "" {
		dir = facts.ModulesDir
	}
	m := p.Module
	if m == "" {
		m = "fips.so"
	}
	if path.IsAbs(m) {
		return path.Clean(m)
	}
	if dir == "" {
		return ""
	}
	return path.Join(dir, m)
}

func inspectModule(root imagefs.Root, env map[string]string, facts *OpenSSLFacts, p opensslconf.Provider, hasFIPS bool, s opensslconf.Summary) *ModuleFacts {
	m := &ModuleFacts{Path: modulePath(env, facts, p)}
	if m.Path == "" {
		return m
	}
	f, err := root.Open(m.Path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.Unreadable = err.Error()
		}
		m.Path = ""
		return m
	}
	defer f.Close()
	info, err := fipsmodule.Inspect(f)
	if err != nil {
		m.Unreadable = err.Error()
		return m
	}
	m.Info = info
	m.Validation = staticValidation(info)
	m.RealPath, _ = root.Real(m.Path)
	if !hasFIPS {
		return m
	}
	m.Section = p.Section
	m.Config = s.FIPSSectionFile
	m.ConfiguredMAC = s.FIPSSection["module-mac"]
	if m.ConfiguredMAC == "" {
		m.Layout = LayoutEmbeddedMAC
		m.Config = ""
	} else {
		m.Layout = LayoutConfigMAC
		m.RealConfig, _ = root.Real(m.Config)
		if dt, err := root.ReadFile(m.RealConfig); err == nil {
			m.ConfigContent = string(dt)
		}
		if want, err := fipsmodule.NormalizeMAC(m.ConfiguredMAC); err == nil {
			m.MACVerified = want == info.MAC
		}
	}
	return m
}

func moduleChecks(m *ModuleFacts, requireValidated bool) []Check {
	present := Check{Name: "fips-module-present", Title: "the FIPS provider module exists", Required: true}
	if m.Path == "" || m.Size == 0 {
		present.Status = Failed
		present.Detail = "no FIPS provider module (fips.so) where OpenSSL would load it from"
		if m.Unreadable != "" {
			present.Detail = "the FIPS provider module cannot be read: " + m.Unreadable
		}
		return []Check{present}
	}
	present.Status = Passed
	present.Detail = fmt.Sprintf("%s: %s %s, %d bytes, sha256 %s", m.Path, m.Name, m.Version, m.Size, m.SHA256)
	mac := Check{Name: "module-mac", Title: "module-mac matches the module (HMAC-SHA256, OpenSSL's default key)", Required: true}
	switch m.Layout {
	case "":
		mac.Status, mac.Required = NotRun, false
		mac.Detail = "no FIPS provider is configured, so no module-mac to check"
	case LayoutEmbeddedMAC:
		mac.Status = NotRun
		mac.Required = false
		mac.Detail = "no module-mac is configured: this layout must embed the MAC in the module (vendor builds do); the provider's own self-test checks it at load time"
	default:
		mac.Status = passIf(m.MACVerified)
		mac.Detail = fmt.Sprintf("configured in %s: %s; computed: %s", m.Config, m.ConfiguredMAC, m.MAC)
		if !m.MACVerified {
			mac.Detail = "MISMATCH — " + mac.Detail + "; the provider will refuse to load (run openssl fipsinstall again after changing fips.so)"
		}
	}
	return []Check{present, mac, cmvpCheck(m.Validation, requireValidated)}
}

// cmvpCheckName names the check of the module's CMVP status.
const cmvpCheckName = "cmvp-validated"

// cmvpCheck judges the module's CMVP status: required with
// FIPSGATE_REQUIRE_VALIDATED, a warning otherwise.
func cmvpCheck(v fipsmodule.Validation, required bool) Check {
	c := Check{Name: cmvpCheckName, Title: "the module is a CMVP-validated release", Required: required, Detail: v.Reason}
	switch {
	case v.Validated:
		c.Status = Passed
	case required:
		c.Status = Failed
	default:
		c.Status = Warning
	}
	return c
}
