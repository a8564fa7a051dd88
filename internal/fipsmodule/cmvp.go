package fipsmodule

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cmvpJSON is the table of CMVP certificates that fipsgate matches modules
// against: one documented data file (docs/cmvp.md), each entry with the
// sources its facts were read from, so that a reviewer can check every
// claim the predicate makes with it.
//
//go:embed cmvp.json
var cmvpJSON []byte

// Standards and statuses a certificate may have.
const (
	FIPS1402 = "FIPS 140-2"
	FIPS1403 = "FIPS 140-3"

	StatusActive     = "active"
	StatusHistorical = "historical"
	StatusRevoked    = "revoked"
)

// Table is the CMVP certificate table.
type Table struct {
	// Reviewed is the date (YYYY-MM-DD) the entries were last checked
	// against their sources: a status or sunset date may have changed
	// since.
	Reviewed     string        `json:"reviewed"`
	Certificates []Certificate `json:"certificates"`
}

// Certificate is one CMVP certificate and the providers it covers.
type Certificate struct {
	Number   int    `json:"number"`
	Standard string `json:"standard"`
	Status   string `json:"status"`
	// SunsetDate is the certificate's sunset date, "" where no source
	// consulted states it.
	SunsetDate string `json:"sunsetDate,omitempty"`
	Vendor     string `json:"vendor"`
	// Module is the module's name as certified.
	Module string `json:"module"`
	// Provider says which modules the certificate covers, by what the
	// provider reports of itself.
	Provider Matcher `json:"provider"`
	// Source is the certificate's page at NIST.
	Source   string     `json:"source"`
	Note     string     `json:"note,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// Matcher is what a provider must report of itself (OSSL_PROV_PARAM_NAME,
// _VERSION, _BUILDINFO) to be the certified module: one of Names and one of
// Versions, and one of Builds when the certificate pins a build.
type Matcher struct {
	Names    []string `json:"names"`
	Versions []string `json:"versions"`
	Builds   []string `json:"builds,omitempty"`
}

// Evidence is one public source of an entry's facts: what kind of source
// it is (the certificate's vendor, the OpenSSL project, or a third party),
// where, and what it says.
type Evidence struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Says string `json:"says"`
}

// Evidence kinds.
var evidenceKinds = []string{"vendor", "project", "third-party", "nist"}

// CMVP is the embedded table. A malformed table is a build defect, caught
// by the package's tests: the program refuses to start with one.
var CMVP = mustTable(cmvpJSON)

func mustTable(dt []byte) *Table {
	t, err := ParseTable(dt)
	if err != nil {
		panic("internal/fipsmodule/cmvp.json: " + err.Error())
	}
	return t
}

// ParseTable reads and checks a CMVP table: unique certificate numbers,
// known standards and statuses, valid dates, a NIST source and public
// evidence for each entry, and a matcher that names the provider and its
// versions. No two entries may cover the same provider name and version.
func ParseTable(dt []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the table")
	}
	if err := validDate(t.Reviewed); err != nil {
		return nil, fmt.Errorf("reviewed: %w", err)
	}
	if len(t.Certificates) == 0 {
		return nil, errors.New("no certificates")
	}
	seen := map[int]bool{}
	covered := map[[2]string]int{}
	for i, c := range t.Certificates {
		where := fmt.Sprintf("certificate %d (#%d)", i, c.Number)
		if c.Number <= 0 {
			return nil, fmt.Errorf("%s: no certificate number", where)
		}
		if seen[c.Number] {
			return nil, fmt.Errorf("%s: listed twice", where)
		}
		seen[c.Number] = true
		if c.Standard != FIPS1402 && c.Standard != FIPS1403 {
			return nil, fmt.Errorf("%s: standard %q is neither %q nor %q", where, c.Standard, FIPS1402, FIPS1403)
		}
		if c.Status != StatusActive && c.Status != StatusHistorical && c.Status != StatusRevoked {
			return nil, fmt.Errorf("%s: status %q is not active, historical or revoked", where, c.Status)
		}
		if c.SunsetDate != "" {
			if err := validDate(c.SunsetDate); err != nil {
				return nil, fmt.Errorf("%s: sunsetDate: %w", where, err)
			}
		}
		if strings.TrimSpace(c.Vendor) == "" || strings.TrimSpace(c.Module) == "" {
			return nil, fmt.Errorf("%s: vendor and module name are required", where)
		}
		want := "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/" + strconv.Itoa(c.Number)
		if c.Source != want {
			return nil, fmt.Errorf("%s: source %q, want the certificate's page %s", where, c.Source, want)
		}
		if len(c.Provider.Names) == 0 || len(c.Provider.Versions) == 0 {
			return nil, fmt.Errorf("%s: the provider matcher needs names and versions", where)
		}
		for _, s := range slices.Concat(c.Provider.Names, c.Provider.Versions, c.Provider.Builds) {
			if strings.TrimSpace(s) != s || s == "" {
				return nil, fmt.Errorf("%s: matcher string %q is empty or has surrounding space", where, s)
			}
		}
		for _, n := range c.Provider.Names {
			for _, v := range c.Provider.Versions {
				if other, ok := covered[[2]string{n, v}]; ok {
					return nil, fmt.Errorf("%s: provider %q version %s is also covered by #%d", where, n, v, other)
				}
				covered[[2]string{n, v}] = c.Number
			}
		}
		if len(c.Evidence) == 0 {
			return nil, fmt.Errorf("%s: no evidence: an entry without a source does not go in", where)
		}
		for _, e := range c.Evidence {
			u, err := url.Parse(e.URL)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return nil, fmt.Errorf("%s: evidence URL %q is not an https URL", where, e.URL)
			}
			if !slices.Contains(evidenceKinds, e.Kind) {
				return nil, fmt.Errorf("%s: evidence kind %q is not one of %v", where, e.Kind, evidenceKinds)
			}
			if strings.TrimSpace(e.Says) == "" {
				return nil, fmt.Errorf("%s: evidence %s says nothing", where, e.URL)
			}
		}
	}
	return &t, nil
}

func validDate(s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return nil
}

// Counts tells whether the certificate counts as a validation: only an
// active FIPS 140-3 certificate does.
func (c *Certificate) Counts() bool { return c.Standard == FIPS1403 && c.Status == StatusActive }

func (c *Certificate) describe() string {
	s := fmt.Sprintf("CMVP certificate #%d (%s, %s", c.Number, c.Standard, c.Status)
	if c.SunsetDate != "" {
		s += ", sunset " + c.SunsetDate
	}
	return s + "; " + c.Module + ", " + c.Vendor + ")"
}

// Identity is what a FIPS provider reports of itself: OSSL_PROV_PARAM_NAME,
// OSSL_PROV_PARAM_VERSION and OSSL_PROV_PARAM_BUILDINFO ("name", "version"
// and "build info" in `openssl list -providers -verbose`).
type Identity struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Build   string `json:"build,omitempty"`
}

func (id Identity) String() string {
	s := fmt.Sprintf("%q version %s", id.Name, id.Version)
	if id.Build != "" && id.Build != id.Version {
		s += " (build " + id.Build + ")"
	}
	return s
}

// Validation is what the table says of one module identity.
type Validation struct {
	Validated bool `json:"validated"`
	// Certificate is the certificate the identity matched, nil for none.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Match says what matched: "name and version", "name, version and
	// build"; "" when no certificate did.
	Match  string `json:"match,omitempty"`
	Reason string `json:"reason"`
}

// Validate looks an identity up in the embedded table.
func Validate(id Identity) Validation { return CMVP.Match(id) }

// Match looks a provider identity up. A certificate matches on the
// provider's name and version, and build where the certificate pins one;
// a version alone never matches, since vendors rebuild upstream releases
// under their own names (and certificates). Only an active FIPS 140-3
// certificate makes the module validated. What a module reports of itself
// is evidence, not proof: whether the binary is the certified build cannot
// be seen in the file.
func (t *Table) Match(id Identity) Validation {
	table := fmt.Sprintf("fipsgate's CMVP table (%d certificates, reviewed %s)", len(t.Certificates), t.Reviewed)
	if id.Version == "" {
		return Validation{Reason: "the module's version could not be read, so no certificate can be matched"}
	}
	var sameName, sameVersion []*Certificate
	for i := range t.Certificates {
		c := &t.Certificates[i]
		name, version := slices.Contains(c.Provider.Names, id.Name), slices.Contains(c.Provider.Versions, id.Version)
		switch {
		case name && version:
			return c.match(id)
		case name:
			sameName = append(sameName, c)
		case version:
			sameVersion = append(sameVersion, c)
		}
	}
	switch {
	case id.Name == "" && len(sameVersion) > 0:
		return Validation{Reason: fmt.Sprintf("the module's provider name could not be read; version %s is that of %s, but a version alone does not identify a module: vendors rebuild the same release under their own names and certificates",
			id.Version, certList(sameVersion, true))}
	case id.Name == "":
		return Validation{Reason: fmt.Sprintf("the module's provider name could not be read, and no certificate in %s covers version %s", table, id.Version)}
	}
	var why []string
	if len(sameName) > 0 {
		why = append(why, fmt.Sprintf("provider %q is the module of %s, but this module reports version %s, which none of them covers: a build of another release, or a maintenance build that is not the certified one, is not validated",
			id.Name, certList(sameName, false), id.Version))
	}
	if len(sameVersion) > 0 {
		why = append(why, fmt.Sprintf("version %s is covered by %s, but this module names itself %q: a rebuild under another name is not that module",
			id.Version, certList(sameVersion, true), id.Name))
	}
	if len(why) > 0 {
		return Validation{Reason: strings.Join(why, "; ")}
	}
	return Validation{Reason: fmt.Sprintf("no certificate in %s covers provider %s", table, id)}
}

func (c *Certificate) match(id Identity) Validation {
	how := "name and version"
	if len(c.Provider.Builds) > 0 {
		if !slices.Contains(c.Provider.Builds, id.Build) {
			return Validation{Reason: fmt.Sprintf("provider %s has the name and version of %s, but the certificate pins build %s and this module reports build %q",
				id, c.describe(), strings.Join(c.Provider.Builds, ", "), id.Build)}
		}
		how = "name, version and build"
	}
	v := Validation{Certificate: c, Match: how}
	if !c.Counts() {
		v.Reason = fmt.Sprintf("provider %s is the module of %s, which does not count as a validation: fipsgate counts only active FIPS 140-3 certificates", id, c.describe())
		if c.Note != "" {
			v.Reason += " (" + c.Note + ")"
		}
		return v
	}
	v.Validated = true
	v.Reason = fmt.Sprintf("provider %s is the module validated under %s, matched on the provider's %s; what a module reports of itself is evidence, not proof: whether this binary was built as the certificate's security policy prescribes cannot be seen in the file", id, c.describe(), how)
	return v
}

// certList names certificates, with the provider names (byName) or the
// versions they cover.
func certList(cs []*Certificate, byName bool) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		what := strings.Join(c.Provider.Versions, ", ")
		if byName {
			what = strings.Join(quoteAll(c.Provider.Names), ", ")
		}
		parts[i] = fmt.Sprintf("#%d (%s)", c.Number, what)
	}
	noun := "certificate "
	if len(cs) > 1 {
		noun = "certificates "
	}
	return noun + strings.Join(parts, ", ")
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}
