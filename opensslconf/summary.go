package opensslconf

import (
	"path"
	"sort"
	"strings"
)

// Provider is one entry of the configuration's providers section.
type Provider struct {
	Name     string `json:"name"`    // the key in the providers section: fips, base, default, …
	Section  string `json:"section"` // the section that configures it
	Activate bool   `json:"activate"`
	Module   string `json:"module,omitempty"` // `module = …`, when set
}

// IsFIPS tells whether the entry configures the FIPS provider.
func (p Provider) IsFIPS() bool {
	return p.Name == "fips" || strings.HasPrefix(path.Base(p.Module), "fips.")
}

// Summary is what a configuration means for FIPS.
type Summary struct {
	// ConfigDiagnostics is config_diagnostics = 1 in the default section:
	// without it OpenSSL silently ignores a configuration that fails to
	// load (a missing fipsmodule.cnf, say) and runs without FIPS.
	ConfigDiagnostics bool       `json:"configDiagnostics"`
	InitSection       string     `json:"initSection,omitempty"` // openssl_conf
	Providers         []Provider `json:"providers"`
	// DefaultProperties is default_properties of the alg_section.
	DefaultProperties string `json:"defaultProperties,omitempty"`
	// FIPSDefault is fips=yes among the default properties: every
	// algorithm fetch without explicit properties gets a FIPS one.
	FIPSDefault bool `json:"fipsDefault"`
	// FIPSSection is the FIPS provider's section, and FIPSSectionFile the
	// file it comes from (fipsmodule.cnf in the usual layout).
	FIPSSection     map[string]string `json:"fipsSection,omitempty"`
	FIPSSectionFile string            `json:"fipsSectionFile,omitempty"`
}

// FIPS returns the FIPS provider's entry, if the configuration has one.
func (s Summary) FIPS() (Provider, bool) {
	for _, p := range s.Providers {
		if p.IsFIPS() {
			return p, true
		}
	}
	return Provider{}, false
}

// Active lists the names of the activated providers.
func (s Summary) Active() []string {
	var out []string
	for _, p := range s.Providers {
		if p.Activate {
			out = append(out, p.Name)
		}
	}
	return out
}

// Summarize reads the FIPS-relevant settings out of a parsed configuration,
// following the same chain OpenSSL does: openssl_conf → providers → each
// provider's section, and alg_section → default_properties.
func Summarize(c *Config) Summary {
	var s Summary
	s.ConfigDiagnostics = truthy(c.Sections[DefaultSection]["config_diagnostics"])
	init, ok := c.Sections[DefaultSection]["openssl_conf"]
	if !ok {
		return s
	}
	s.InitSection = init
	initSect := c.Sections[init]
	if provSectName, ok := initSect["providers"]; ok {
		provSect := c.Sections[provSectName]
		names := make([]string, 0, len(provSect))
		for name := range provSect {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			sectName := provSect[name]
			sect := c.Sections[sectName]
			p := Provider{Name: name, Section: sectName, Module: sect["module"]}
			if v, ok := sect["identity"]; ok && v != "" {
				p.Name = v
			}
			// OpenSSL 3.0 and 3.1 activate on the key's mere presence; later
			// releases read a boolean. A false value is reported as given.
			if v, ok := sect["activate"]; ok {
				p.Activate = truthy(v)
			}
			s.Providers = append(s.Providers, p)
			if p.IsFIPS() {
				s.FIPSSection = sect
				s.FIPSSectionFile = c.Origin[sectName]
			}
		}
	}
	if algSect, ok := initSect["alg_section"]; ok {
		s.DefaultProperties = c.Sections[algSect]["default_properties"]
		s.FIPSDefault = hasProperty(s.DefaultProperties, "fips", "yes")
	}
	return s
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// hasProperty reports whether a property query requires name=value: a
// mandatory clause, not an optional "?name=value" one.
func hasProperty(query, name, value string) bool {
	for _, clause := range strings.Split(query, ",") {
		clause = strings.ReplaceAll(strings.TrimSpace(clause), " ", "")
		if strings.EqualFold(clause, name+"="+value) || (value == "yes" && strings.EqualFold(clause, name)) {
			return true
		}
	}
	return false
}
