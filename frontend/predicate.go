package frontend

import (
	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/fipsgate/fipsgate/predicate"
)

// predicateInput is what a platform's predicate is made from.
type predicateInput struct {
	Platform        string
	VerifierVersion string
	Options         Options
	Static          *probe.Report
	Dynamic         []*probe.Report // self-test, then negative tests
	Warnings        []predicate.Warning
}

// newPredicate builds the predicate of a platform that passed, from the
// probe's reports: the predicate owns its wire types, so that what the
// probe and the inventory hold can change without changing it.
func newPredicate(in predicateInput) predicate.Predicate {
	o := in.Options
	p := predicate.Predicate{
		SchemaVersion: predicate.Version,
		Result:        predicate.Passed,
		Platform:      in.Platform,
		Verifier:      predicate.Verifier{Name: "fipsgate", Version: in.VerifierVersion},
		Options: predicate.Options{Mode: o.Mode, Check: o.Check, ReadySeconds: o.ReadySeconds, TimeoutSeconds: o.TimeoutSeconds,
			ExpectFailure: o.ExpectFailure, ProbeRequest: o.ProbeRequest, RequireValidated: o.RequireValidated, Strict: o.Strict, Exceptions: o.Exceptions},
		Warnings: in.Warnings,
	}
	if m := in.Static.Module; m != nil && m.Path != "" {
		p.Module = predicateModule(m)
	}
	if o := in.Static.OpenSSL; o != nil {
		p.OpenSSL = &predicate.OpenSSL{
			Libcrypto: o.Libcrypto, ConfigFile: o.ConfigFile, ConfigSource: o.ConfigSource, Files: o.Files,
			ConfigDiagnostics: o.Summary.ConfigDiagnostics, ActiveProviders: o.Summary.Active(),
			DefaultProperties: o.Summary.DefaultProperties,
		}
	}
	p.Inventory = predicateInventory(in.Static.Inventory)
	p.Application = predicate.Application{Checked: len(in.Static.App) > 0, Command: in.Static.App, Source: in.Static.AppSource}
	if e := in.Static.Emulation; e != nil {
		p.Emulation = &predicate.Emulation{Emulated: e.Emulated, Machine: e.Machine, Host: e.Host, TimeScale: e.TimeScale, How: e.How}
	}
	for _, r := range append([]*probe.Report{in.Static}, in.Dynamic...) {
		p.Stages = append(p.Stages, predicate.Stage{ID: probe.StageName(r.Kind, r.Mutation), Kind: r.Kind, Mutation: r.Mutation, Checks: predicateChecks(r.Checks)})
		if r.Kind == probe.KindSelfTest {
			p.SelfTests, p.Algorithms = predicateSelfTests(r.SelfTests), predicateAlgorithms(r.Algorithms)
		}
	}
	p.Normalize()
	return p
}

// predicateModule is the module as the predicate shows it, with why it is
// or is not taken for validated.
func predicateModule(m *probe.ModuleFacts) *predicate.Module {
	v := m.Validation
	out := &predicate.Module{
		Identity: predicate.ModuleIdentity{Name: m.Name, Version: m.Version, How: "read from the module"},
		Path:     m.Path, Digest: sha256Set(m.SHA256), Size: m.Size, Layout: m.Layout, Config: m.Config, MACVerified: m.MACVerified,
		Package: predicate.ModulePackage{Reason: "the package database was not read"},
		CMVP:    predicate.CMVP{Validated: v.Validated, Match: v.Match, TableReviewed: fipsmodule.CMVP.Reviewed, Reasoning: m.Reasoning()},
	}
	if id := m.Identity; id != nil {
		out.Identity = predicate.ModuleIdentity{Name: id.Name, Version: id.Version, Build: id.Build, Confirmed: id.Confirmed, How: id.How}
	}
	if pk := m.Package; pk != nil {
		out.Package = predicate.ModulePackage{Found: pk.Found, Manager: pk.Manager, Name: pk.Name, Version: pk.Version, Architecture: pk.Architecture,
			PURL: pk.PURL, Distro: pk.Distro, Databases: pk.Databases, Reason: pk.Reason}
	}
	if c := v.Certificate; c != nil {
		cert := &predicate.CMVPCertificate{Number: c.Number, Standard: c.Standard, Status: c.Status, SunsetDate: c.SunsetDate, Vendor: c.Vendor, Module: c.Module,
			Provider: predicate.CMVPProvider{Names: c.Provider.Names, Versions: c.Provider.Versions, Builds: c.Provider.Builds}, Source: c.Source, Note: c.Note}
		for _, e := range c.Evidence {
			cert.Evidence = append(cert.Evidence, predicate.CMVPEvidence{Kind: e.Kind, URL: e.URL, Says: e.Says})
		}
		out.CMVP.Certificate = cert
	}
	return out
}

// predicateSelfTests is the self-tests' evidence, nil when they did not run.
func predicateSelfTests(st *probe.SelfTests) *predicate.SelfTests {
	if st == nil {
		return nil
	}
	out := &predicate.SelfTests{Check: probe.CheckSelfTests, Tests: make([]predicate.SelfTest, len(st.Tests))}
	for i, t := range st.Tests {
		out.Tests[i] = predicate.SelfTest{Description: t.Description, Type: t.Type, Result: t.Result}
	}
	return out
}

// predicateAlgorithms is the algorithm matrix, nil when it was not listed.
func predicateAlgorithms(a *probe.Algorithms) *predicate.Algorithms {
	if a == nil {
		return nil
	}
	out := &predicate.Algorithms{Check: probe.CheckAlgorithms, Served: make([]predicate.Algorithm, len(a.Served)), NonApproved: make([]predicate.NonApproved, len(a.NonApproved))}
	for i, s := range a.Served {
		out.Served[i] = predicate.Algorithm{Category: s.Category, Names: s.Names, Provider: s.Provider, Approved: s.Approved}
	}
	for i, n := range a.NonApproved {
		out.NonApproved[i] = predicate.NonApproved{Category: n.Category, Name: n.Name, Refused: n.Refused}
	}
	return out
}

func predicateChecks(checks []probe.Check) []predicate.Check {
	if checks == nil {
		return nil
	}
	out := make([]predicate.Check, len(checks))
	for i, c := range checks {
		out[i] = predicate.Check{Name: c.Name, Title: c.Title, Required: c.Required, Status: c.Status, Detail: c.Detail,
			Command: c.Command, Expect: c.Expect, ExitCode: c.ExitCode, Signal: c.Signal, TimedOut: c.TimedOut,
			Listening: c.Listening, Contact: c.Contact, Answered: c.Answered, DiedOnContact: c.DiedOnContact,
			StillRunning: c.StillRunning, OutputDigest: sha256Set(c.OutputSHA256), Output: c.Output}
	}
	return out
}

func predicateInventory(inv *inventory.Inventory) *predicate.Inventory {
	if inv == nil {
		return nil
	}
	out := &predicate.Inventory{Summary: inv.Summary, Strict: inv.Strict,
		Stats: predicate.Stats{Files: inv.Stats.Files, ELFFiles: inv.Stats.ELFFiles, GoFiles: inv.Stats.GoFiles, Bytes: inv.Stats.Bytes, ReadBytes: inv.Stats.ReadBytes}}
	if inv.Findings != nil {
		out.Findings = make([]predicate.Finding, len(inv.Findings))
		for i, f := range inv.Findings {
			out.Findings[i] = predicate.Finding{Path: f.Path, Kind: f.Kind, Severity: f.Severity, Evidence: f.Evidence, Remedy: f.Remedy, Reach: f.Reach, Accepted: f.Accepted}
		}
	}
	for _, e := range inv.Exceptions {
		out.Exceptions = append(out.Exceptions, predicate.Exception{Path: e.Path, Kind: e.Kind, Reason: e.Reason})
	}
	if r := inv.Reach; r != nil {
		out.Reach = &predicate.Reach{Entries: make([]predicate.ReachEntry, len(r.Entries)), Unresolved: r.Unresolved, Incomplete: r.Incomplete}
		for i, e := range r.Entries {
			out.Reach.Entries[i] = predicate.ReachEntry{Path: e.Path, Via: e.Via, Observed: e.Observed, DependencyOf: e.DependencyOf}
		}
	}
	return out
}

// sha256Set is the DigestSet of a hex SHA-256, nil for none.
func sha256Set(hex string) predicate.DigestSet {
	if hex == "" {
		return nil
	}
	return predicate.DigestSet{"sha256": hex}
}
