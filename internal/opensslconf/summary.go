package opensslconf

import (
	"fmt"
	"path"
	"strings"
)

// Provider is one entry of the configuration's providers section, as
// OpenSSL's provider module (crypto/provider_conf.c) reads it.
type Provider struct {
	// Name is the provider's name: the key in the providers section after
	// its first dot, or the section's identity.
	Name    string `json:"name"`
	Section string `json:"section"` // the section that configures it
	// Activate is activation requested (and attempted): whether it
	// succeeds depends on the module loading and passing its self-tests.
	Activate bool   `json:"activate"`
	Module   string `json:"module,omitempty"` // `module = …`, when set
	// Fallback marks the default provider OpenSSL loads by itself when the
	// configuration attempts no activation (or is not used at all).
	Fallback bool `json:"fallback,omitempty"`
}

// builtinProviders are compiled into libcrypto: OpenSSL finds a name
// among them before it looks at `module =`, which then goes unused.
var builtinProviders = []string{"default", "base", "null"}

// IsFIPS tells whether the entry configures the FIPS provider.
func (p Provider) IsFIPS() bool {
	for _, b := range builtinProviders {
		if p.Name == b {
			return false
		}
	}
	return p.Name == "fips" || strings.HasPrefix(path.Base(p.Module), "fips.")
}

// RequiresFIPS tells whether the default properties make every fetch
// without properties of its own take a FIPS implementation: a mandatory
// fips=yes. (OpenSSL's own answer, FIPSDefault, is also true for
// fips!=maybe, which implementations without the property match.)
func (s Summary) RequiresFIPS() bool {
	return hasProperty(s.DefaultProperties, "fips", "yes")
}

// Summary is what a configuration means for FIPS: what OpenSSL uses once an
// application has loaded it the default way.
type Summary struct {
	// ConfigDiagnostics is config_diagnostics in the default section
	// (a non-zero number): without it OpenSSL silently ignores a module that
	// fails (a missing fipsmodule.cnf, say) and runs without FIPS.
	ConfigDiagnostics bool   `json:"configDiagnostics"`
	InitSection       string `json:"initSection,omitempty"` // openssl_conf
	// Providers are the entries the provider module reads, in its order,
	// and the default provider when OpenSSL falls back to it.
	Providers []Provider `json:"providers"`
	// DefaultProperties are the default properties alg_section sets.
	DefaultProperties string `json:"defaultProperties,omitempty"`
	// FIPSDefault is what EVP_default_properties_is_fips_enabled answers:
	// every algorithm fetch without explicit properties gets a FIPS one.
	FIPSDefault bool `json:"fipsDefault"`
	// FIPSSection is the parameters OpenSSL passes the FIPS provider
	// (module-mac and friends), and FIPSSectionFile the file its section
	// comes from (fipsmodule.cnf in the usual layout).
	FIPSSection     map[string]string `json:"fipsSection,omitempty"`
	FIPSSectionFile string            `json:"fipsSectionFile,omitempty"`
	// Dropped is set when OpenSSL refuses the configuration as a whole: it
	// then runs as if there were none.
	Dropped bool `json:"dropped,omitempty"`
	// ModuleError is the module that fails: the ones after it never run,
	// and with config_diagnostics the application's initialisation fails.
	ModuleError string `json:"moduleError,omitempty"`

	initFails bool
	// unmodelled: a module fipsgate does not model ran.
	unmodelled bool
}

// FIPS returns the FIPS provider's entry, if the configuration has one: the
// first one activated, else the first one.
func (s Summary) FIPS() (Provider, bool) {
	var first *Provider
	for i, p := range s.Providers {
		if p.IsFIPS() {
			if p.Activate {
				return p, true
			}
			if first == nil {
				first = &s.Providers[i]
			}
		}
	}
	if first != nil {
		return *first, true
	}
	return Provider{}, false
}

// Active lists the names of the providers OpenSSL activates (or attempts
// to), each once.
func (s Summary) Active() []string {
	var out []string
	for _, p := range s.Providers {
		if p.Activate && indexOf(out, p.Name) < 0 {
			out = append(out, p.Name)
		}
	}
	return out
}

// Summarize returns what the configuration means for FIPS, as Parse
// established it by running OpenSSL's configuration modules.
func Summarize(c *Config) Summary {
	return c.summary
}

// Built-in configuration modules, in the order OpenSSL registers them
// (OPENSSL_load_builtin_modules): module_find takes the first whose name
// starts with the key's part before its last dot.
var builtinModules = []string{"oid_section", "stbl_section", "engines", "alg_section", "ssl_conf", "providers", "random"}

func moduleFind(name string) string {
	n := len(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		n = i
	}
	for _, m := range builtinModules {
		if n <= len(m) && m[:n] == name[:n] {
			return m
		}
	}
	return ""
}

type modules struct {
	c         *Config
	s         Summary
	attempted bool
	activated []string
	props     []property
	work      int
	// fipsChosenActive: FIPSSection is an activated entry's.
	fipsChosenActive bool
}

// runModules is CONF_modules_load_file_ex as OPENSSL_init_crypto calls it
// (DEFAULT_CONF_MFLAGS): the modules of the openssl_conf section in order,
// up to the first that fails.
func runModules(c *Config) (Summary, []string) {
	m := &modules{c: c}
	errs := append([]string(nil), c.Errors...)
	if c.refused {
		// OpenSSL would load it, but fipsgate did not read it all: it
		// cannot say what is in force.
		return m.s, errs
	}
	if c.dropped {
		m.s.Dropped = true
		m.fallback()
		return m.s, errs
	}
	diag := numberValue(c.Sections[DefaultSection]["config_diagnostics"]) != 0
	m.s.ConfigDiagnostics = diag
	init, ok := c.Sections[DefaultSection]["openssl_conf"]
	if ok {
		m.s.InitSection = init
		if err, refused := m.run(init); err != "" {
			m.s.ModuleError = err
			what := "OpenSSL silently skips the modules after it (config_diagnostics is not set)"
			switch {
			case refused:
				what = "fipsgate refuses the configuration"
			case diag:
				m.s.initFails = true
				what = "OpenSSL initialisation fails (config_diagnostics = 1)"
			}
			errs = append(errs, fmt.Sprintf("%s: %s", err, what))
		}
	}
	m.fallback()
	return m.s, errs
}

func (m *modules) fallback() {
	if !m.attempted {
		m.s.Providers = append(m.s.Providers, Provider{Name: "default", Activate: true, Fallback: true})
	}
}

// numberValue is _CONF_get_number: the value's leading decimal digits, 0
// when there are none or they overflow a long.
func numberValue(v string) int64 {
	var n int64
	for i := 0; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := int64(v[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0
		}
		n = n*10 + d
	}
	return n
}

func (m *modules) where(section string) string {
	if f := m.c.Origin[section]; f != "" {
		return f + ": "
	}
	return ""
}

// run runs the modules of section init; it returns what failed, and
// whether it is fipsgate that refuses what it does not judge.
func (m *modules) run(init string) (string, bool) {
	c := m.c
	if _, ok := c.Sections[init]; !ok {
		return fmt.Sprintf("openssl_conf = %s names no section", init), false
	}
	critical := 0
	for _, name := range c.Order[init] {
		if mod := moduleFind(name); mod == "providers" || mod == "alg_section" {
			critical++
		}
	}
	for _, name := range c.Order[init] {
		value := c.Sections[init][name]
		mod := moduleFind(name)
		fail := func(format string, args ...any) string {
			return fmt.Sprintf("%s[%s] %s = %s: module %s: %s", m.where(init), init, name, value, mod, fmt.Sprintf(format, args...))
		}
		var err string
		switch mod {
		case "":
			// OpenSSL then loads lib<name>.so: an error when there is none,
			// and code fipsgate does not judge when there is.
			return fmt.Sprintf("%s[%s] %s = %s: no module is named %q: OpenSSL tries to load it as a shared object (lib%s.so)", m.where(init), init, name, value, name, name), false
		case "providers":
			critical--
			err = m.providers(value)
		case "alg_section":
			critical--
			err = m.algSection(value)
		case "ssl_conf":
			err = m.sslConf(value)
		case "engines":
			m.s.unmodelled = true
			return fail("ENGINEs replace algorithms outside any provider, so the FIPS provider no longer covers them"), true
		default:
			if _, ok := c.Sections[value]; !ok {
				err = fmt.Sprintf("section %s not found", value)
				break
			}
			m.s.unmodelled = true
			if critical > 0 {
				// Were it to fail, the provider or algorithm modules after it
				// would not run.
				return fail("fipsgate does not model this module and cannot tell whether the modules after it run; list it after providers and alg_section"), true
			}
			m.c.Warnings = append(m.c.Warnings, fail("not modelled by fipsgate; were it to fail, only the application's initialisation (with config_diagnostics) would"))
		}
		if err != "" {
			return fail("%s", err), false
		}
	}
	return "", false
}

func skipDot(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// parseBool is provider_conf_parse_bool_setting.
func parseBool(v string) (bool, bool) {
	switch v {
	case "1", "yes", "YES", "true", "TRUE", "on", "ON":
		return true, true
	case "0", "no", "NO", "false", "FALSE", "off", "OFF":
		return false, true
	}
	return false, false
}

// providers is provider_conf_init.
func (m *modules) providers(section string) string {
	c := m.c
	if _, ok := c.Sections[section]; !ok {
		return fmt.Sprintf("section %s not found", section)
	}
	entries := map[string]string{}
	for _, key := range c.Order[section] {
		value := c.Sections[section][key]
		p := Provider{Name: skipDot(key), Section: value}
		sect, ok := c.Sections[value]
		if !ok {
			return fmt.Sprintf("[%s] %s: section %s not found", section, key, value)
		}
		for _, k := range c.Order[value] {
			v := sect[k]
			switch skipDot(k) {
			case "identity":
				p.Name = v
			case "soft_load":
				if _, ok := parseBool(v); !ok {
					return fmt.Sprintf("[%s] %s = %q: not a boolean", value, k, v)
				}
			case "module":
				p.Module = v
			case "activate":
				on, ok := parseBool(v)
				if !ok {
					return fmt.Sprintf("[%s] %s = %q: not a boolean", value, k, v)
				}
				p.Activate = on
			}
		}
		// OpenSSL keeps an entry that is not activated, and hands its module
		// path and settings to a later activation of the same name, under
		// that entry's own: refuse what would take modelling that store.
		if first, ok := entries[p.Name]; ok {
			m.c.refused = true
			return fmt.Sprintf("[%s] %s: provider %s is configured again (first by %s): OpenSSL merges the entries' modules and settings; fipsgate refuses to judge that", section, key, p.Name, first)
		}
		entries[p.Name] = key
		if p.Activate && indexOf(m.activated, p.Name) >= 0 {
			// prov_already_activated: the entry is skipped.
			m.c.Warnings = append(m.c.Warnings, fmt.Sprintf("[%s] %s: provider %s is already activated: OpenSSL ignores this entry", section, key, p.Name))
			continue
		}
		if p.Activate {
			m.attempted = true
		}
		params, err := m.params(section, key, value)
		if err != "" {
			return fmt.Sprintf("[%s] %s: %s", section, key, err)
		}
		if p.Activate {
			m.activated = append(m.activated, p.Name)
		}
		m.s.Providers = append(m.s.Providers, p)
		if p.IsFIPS() && (m.s.FIPSSection == nil || (p.Activate && !m.fipsChosenActive)) {
			m.s.FIPSSection = params
			m.s.FIPSSectionFile = c.Origin[value]
			m.fipsChosenActive = p.Activate
		}
	}
	return ""
}

// maxParamWork bounds the parameter walk: sections naming sections can make
// OpenSSL's walk exponential.
const maxParamWork = 1 << 16

type confValue struct{ section, name string }

// params is provider_conf_params: the parameters OpenSSL passes the
// provider. A value that names a section is a subsection whose entries
// become "name.entry" parameters.
func (m *modules) params(fromSection, fromKey, section string) (map[string]string, string) {
	out := map[string]string{}
	var walk func(name *string, value string, from confValue, visited []confValue) string
	walk = func(name *string, value string, from confValue, visited []confValue) string {
		m.work++
		if m.work > maxParamWork {
			return "provider parameters nest too deeply for fipsgate to judge"
		}
		sect, ok := m.c.Sections[value]
		if !ok {
			out[*name] = value
			return ""
		}
		for _, v := range visited {
			if v == from {
				return fmt.Sprintf("recursive section reference to %s", value)
			}
		}
		visited = append(visited, from)
		prefix := ""
		if name != nil {
			prefix = *name + "."
		}
		for _, k := range m.c.Order[value] {
			if len(prefix)+len(k) >= 512 {
				return fmt.Sprintf("parameter name %s%s is 512 bytes or longer", prefix, k)
			}
			n := prefix + k
			if err := walk(&n, sect[k], confValue{value, k}, visited); err != "" {
				return err
			}
		}
		return ""
	}
	err := walk(nil, section, confValue{fromSection, fromKey}, nil)
	return out, err
}

// algSection is alg_module_init.
func (m *modules) algSection(section string) string {
	c := m.c
	if _, ok := c.Sections[section]; !ok {
		return fmt.Sprintf("section %s not found", section)
	}
	for _, k := range c.Order[section] {
		v := c.Sections[section][k]
		switch k {
		case "fips_mode":
			var q string
			switch v {
			case "TRUE", "true", "Y", "y", "YES", "yes":
				q = "fips=yes"
			case "FALSE", "false", "N", "n", "NO", "no":
				q = "-fips"
			default:
				return fmt.Sprintf("fips_mode = %q: not a boolean", v)
			}
			pl, _ := parseQuery(q)
			if m.props == nil {
				m.props = pl
			} else {
				m.props = mergeProperties(pl, m.props)
			}
		case "default_properties":
			pl, err := parseQuery(v)
			if err != nil {
				return fmt.Sprintf("default_properties = %q: %v", v, err)
			}
			m.props = pl
		default:
			return fmt.Sprintf("unknown option %s = %s", k, v)
		}
		m.s.DefaultProperties = formatProperties(m.props)
		m.s.FIPSDefault = fipsEnabled(m.props)
	}
	return ""
}

// sslConf is ssl_module_init: a non-empty section of non-empty sections.
func (m *modules) sslConf(section string) string {
	c := m.c
	if _, ok := c.Sections[section]; !ok {
		return fmt.Sprintf("section %s not found", section)
	}
	if len(c.Order[section]) == 0 {
		return fmt.Sprintf("section %s is empty", section)
	}
	for _, k := range c.Order[section] {
		v := c.Sections[section][k]
		if _, ok := c.Sections[v]; !ok {
			return fmt.Sprintf("[%s] %s: section %s not found", section, k, v)
		}
		if len(c.Order[v]) == 0 {
			return fmt.Sprintf("[%s] %s: section %s is empty", section, k, v)
		}
	}
	return ""
}

// hasProperty reports whether a property query requires name=value: a
// mandatory clause, not an optional "?name=value" one.
func hasProperty(query, name, value string) bool {
	pl, err := parseQuery(query)
	if err != nil {
		return false
	}
	for _, p := range pl {
		if p.name == name && !p.optional && p.oper == operEQ && p.typ == propString && p.str == value {
			return true
		}
	}
	return false
}
