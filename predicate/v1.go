package predicate

import (
	"encoding/json"
	"fmt"
)

// TypeV1 is the predicate type of fipsgate 1.x (schema 1.x).
const TypeV1 = "https://fipsgate.github.io/predicate/fips-verification/v1"

// Types are the predicate types Decode reads, newest first.
var Types = []string{Type, TypeV1}

// Decode reads a predicate of any type in Types as the current one.
func Decode(predicateType string, dt []byte) (Predicate, error) {
	switch predicateType {
	case Type:
		var p Predicate
		if err := json.Unmarshal(dt, &p); err != nil {
			return Predicate{}, err
		}
		p.Normalize()
		return p, nil
	case TypeV1:
		var v1 v1Predicate
		if err := json.Unmarshal(dt, &v1); err != nil {
			return Predicate{}, err
		}
		p := v1.upgrade()
		p.Normalize()
		return p, nil
	}
	return Predicate{}, fmt.Errorf("predicate type %q is not one fipsgate reads", predicateType)
}

// v1Predicate is what schema 1.x holds where schema 2 differs: the module's
// flat name, version, sha256 and validation, stages named by kind alone,
// warnings as text, and a check's output digest as a hex string.
type v1Predicate struct {
	Predicate
	Module *struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Path        string `json:"path"`
		SHA256      string `json:"sha256"`
		Size        int64  `json:"size"`
		Layout      string `json:"layout"`
		Config      string `json:"config"`
		MACVerified bool   `json:"macVerified"`
		Validated   bool   `json:"validated"`
		Certificate *struct {
			Number   int      `json:"number"`
			Standard string   `json:"standard"`
			Versions []string `json:"versions"`
			Active   bool     `json:"active"`
			Note     string   `json:"note"`
			Source   string   `json:"source"`
		} `json:"certificate"`
		Validation string `json:"validation"`
	} `json:"module"`
	Stages []struct {
		Name     string `json:"name"`
		Mutation string `json:"mutation"`
		Checks   []struct {
			Check
			OutputSHA256 string `json:"outputSha256"`
		} `json:"checks"`
	} `json:"stages"`
	Warnings []string `json:"warnings"`
}

func (v1 v1Predicate) upgrade() Predicate {
	p := v1.Predicate
	p.Module, p.Stages, p.Warnings = nil, nil, nil
	if m := v1.Module; m != nil {
		p.Module = &Module{
			Identity: ModuleIdentity{Name: m.Name, Version: m.Version, How: "schema 1: the module's name and version as read from the file"},
			Path:     m.Path, Digest: DigestSet{"sha256": m.SHA256}, Size: m.Size, Layout: m.Layout, Config: m.Config, MACVerified: m.MACVerified,
			Package: ModulePackage{Reason: "schema 1 does not record the module's package"},
			CMVP:    CMVP{Validated: m.Validated, Reasoning: m.Validation},
		}
		if c := m.Certificate; c != nil {
			status := "historical"
			if c.Active {
				status = "active"
			}
			p.Module.CMVP.Certificate = &CMVPCertificate{Number: c.Number, Standard: c.Standard, Status: status,
				Provider: CMVPProvider{Versions: c.Versions}, Source: c.Source, Note: c.Note}
		}
	}
	for _, s := range v1.Stages {
		st := Stage{ID: StageID(s.Name, s.Mutation), Kind: s.Name, Mutation: s.Mutation}
		for _, c := range s.Checks {
			ck := c.Check
			if c.OutputSHA256 != "" {
				ck.OutputDigest = DigestSet{"sha256": c.OutputSHA256}
			}
			st.Checks = append(st.Checks, ck)
		}
		p.Stages = append(p.Stages, st)
	}
	for _, w := range v1.Warnings {
		p.Warnings = append(p.Warnings, Warning{Detail: w})
	}
	return p
}
