// Package predicate defines fipsgate's in-toto predicate: the evidence that
// one platform of an image enforces FIPS cryptography, attached to that
// platform's image manifest only when every required check passed.
//
// The format is documented in docs/predicate.md. Fields are added in
// compatible releases; anything incompatible gets a new Type.
package predicate

import (
	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/probe"
)

// Type is the predicate type of fipsgate's attestations.
const Type = "https://fipsgate.github.io/predicate/fips-verification/v1"

// Version is the predicate's schema version within Type; readers may
// require a minimum.
const Version = "1.0"

// Result values.
const Passed = "PASSED"

// Predicate is the attestation's predicate. It holds no wall-clock time, so
// that an unchanged rebuild yields the same attestation.
type Predicate struct {
	SchemaVersion string      `json:"schemaVersion"`
	Result        string      `json:"result"`
	Platform      string      `json:"platform"`
	Verifier      Verifier    `json:"verifier"`
	Options       any         `json:"options"`
	Module        *Module     `json:"module,omitempty"`
	OpenSSL       *OpenSSL    `json:"openssl,omitempty"`
	Application   Application `json:"application"`
	// Emulation says whether the image's programs ran emulated in the
	// checks, and by how much the time limits were scaled for it.
	Emulation *Emulation `json:"emulation,omitempty"`
	// Inventory is the crypto found in the image besides the module.
	Inventory *inventory.Inventory `json:"inventory,omitempty"`
	Stages    []Stage              `json:"stages"`
	Warnings  []string             `json:"warnings,omitempty"`
}

// Verifier names what produced the predicate.
type Verifier struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Module is the FIPS provider module that was verified.
type Module struct {
	Name          string                  `json:"name,omitempty"`
	Version       string                  `json:"version,omitempty"`
	Path          string                  `json:"path"`
	SHA256        string                  `json:"sha256"`
	Size          int64                   `json:"size"`
	Layout        string                  `json:"layout"`
	Config        string                  `json:"config,omitempty"`
	MACVerified   bool                    `json:"macVerified"`
	Validated     bool                    `json:"validated"`
	Certificate   *fipsmodule.Certificate `json:"certificate,omitempty"`
	ValidationMsg string                  `json:"validation"`
}

// OpenSSL summarises the configuration in force.
type OpenSSL struct {
	Libcrypto         string   `json:"libcrypto,omitempty"`
	ConfigFile        string   `json:"configFile,omitempty"`
	ConfigSource      string   `json:"configSource,omitempty"`
	Files             []string `json:"files,omitempty"`
	ConfigDiagnostics bool     `json:"configDiagnostics"`
	ActiveProviders   []string `json:"activeProviders"`
	DefaultProperties string   `json:"defaultProperties"`
}

// Application says which application check ran, if any.
type Application struct {
	Checked bool     `json:"checked"`
	Command []string `json:"command,omitempty"`
	Source  string   `json:"source,omitempty"`
}

// Emulation is how the platform's programs ran in the checks: natively, or
// through an emulator with every time limit multiplied by TimeScale.
type Emulation struct {
	Emulated  bool    `json:"emulated"`
	Machine   string  `json:"machine,omitempty"`
	Host      string  `json:"host"`
	TimeScale float64 `json:"timeScale"`
	How       string  `json:"how"`
}

// Stage is one probe run: the static checks, the self-test, or one
// negative test with the mutation it applied.
type Stage struct {
	Name     string        `json:"name"`
	Mutation string        `json:"mutation,omitempty"`
	Checks   []probe.Check `json:"checks"`
}

// Input is what a predicate is made from.
type Input struct {
	Platform        string
	VerifierVersion string
	Options         any
	Static          *probe.Report
	Dynamic         []*probe.Report // self-test, then negative tests
	Warnings        []string
}

// New builds the predicate of a platform that passed.
func New(in Input) Predicate {
	p := Predicate{
		SchemaVersion: Version,
		Result:        Passed,
		Platform:      in.Platform,
		Verifier:      Verifier{Name: "fipsgate", Version: in.VerifierVersion},
		Options:       in.Options,
		Warnings:      in.Warnings,
	}
	if m := in.Static.Module; m != nil && m.Path != "" {
		p.Module = &Module{
			Name: m.Name, Version: m.Version, Path: m.Path, SHA256: m.SHA256, Size: m.Size,
			Layout: m.Layout, Config: m.Config, MACVerified: m.MACVerified,
			Validated: m.Validation.Validated, Certificate: m.Validation.Certificate, ValidationMsg: m.Validation.Reason,
		}
	}
	if o := in.Static.OpenSSL; o != nil {
		p.OpenSSL = &OpenSSL{
			Libcrypto: o.Libcrypto, ConfigFile: o.ConfigFile, ConfigSource: o.ConfigSource, Files: o.Files,
			ConfigDiagnostics: o.Summary.ConfigDiagnostics, ActiveProviders: nonNil(o.Summary.Active()),
			DefaultProperties: o.Summary.DefaultProperties,
		}
	}
	p.Inventory = in.Static.Inventory
	p.Application = Application{Checked: len(in.Static.App) > 0, Command: in.Static.App, Source: in.Static.AppSource}
	if e := in.Static.Emulation; e != nil {
		p.Emulation = &Emulation{Emulated: e.Emulated, Machine: e.Machine, Host: e.Host, TimeScale: e.TimeScale, How: e.How}
	}
	p.Stages = append(p.Stages, Stage{Name: in.Static.Kind, Checks: in.Static.Checks})
	for _, r := range in.Dynamic {
		p.Stages = append(p.Stages, Stage{Name: r.Kind, Mutation: r.Mutation, Checks: r.Checks})
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
