package frontend

import (
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/probe"
)

// results is what the runs of one platform write for an image whose
// module has a fipsmodule.cnf, every check passing.
func results(m *probe.ModuleFacts) map[string]*probe.Result {
	static := report(probe.KindStatic, "", passed("openssl-config"))
	static.Module = m
	self := report(probe.KindSelfTest, "", passed("sha256-works"))
	self.Module = m
	rs := map[string]*probe.Result{
		probe.RunStatic:  {Run: probe.RunStatic, Reports: []*probe.Report{static}},
		probe.RunOpenSSL: {Run: probe.RunOpenSSL, Reports: []*probe.Report{self}},
	}
	app := report(probe.KindSelfTest, "", passed("app-runs"))
	app.Module = m
	rs[probe.RunApp] = &probe.Result{Run: probe.RunApp, Reports: []*probe.Report{app}}
	for _, n := range probe.Negatives(m) {
		broken := "broke " + n.Mutation
		s := report(probe.KindNegative, n.Mutation, passed("openssl-digest-fails"))
		s.Broken = broken
		rs[probe.RunOpenSSL].Reports = append(rs[probe.RunOpenSSL].Reports, s)
		a := report(probe.KindNegative, n.Mutation, passed("app-refuses"))
		a.Broken, a.Module = broken, m
		rs[n.Mutation] = &probe.Result{Run: n.Mutation, Reports: []*probe.Report{a}}
	}
	return rs
}

func module() *probe.ModuleFacts {
	return &probe.ModuleFacts{Path: "/usr/lib/ossl-modules/fips.so", RealPath: "/usr/lib/ossl-modules/fips.so", Layout: probe.LayoutConfigMAC,
		RealConfig: "/etc/ssl/fipsmodule.cnf", Section: "fips_sect", ConfigContent: "[fips_sect]\nmodule-mac = AB\n"}
}

func TestAssemble(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]*probe.Result)
		fail   string // in the explanation; "" for a pass
	}{
		{"every run as expected", func(map[string]*probe.Result) {}, ""},
		{"a run found another module", func(rs map[string]*probe.Result) {
			m := module()
			m.ConfigContent = "[fips_sect]\nmodule-mac = CD\n"
			rs[probe.MutationModuleCorrupted].Reports[0].Module = m
		}, "the run found the module the static checks judged"},
		{"the application's run found another module", func(rs map[string]*probe.Result) {
			rs[probe.RunApp].Reports[0].Module = nil
		}, "the run found no module"},
		{"a run is missing", func(rs map[string]*probe.Result) { delete(rs, probe.MutationMACCorrupted) }, "no result of the run module-mac-corrupted"},
		{"the OpenSSL run found another module", func(rs map[string]*probe.Result) {
			m := module()
			m.RealPath = "/elsewhere/fips.so"
			rs[probe.RunOpenSSL].Reports[0].Module = m
		}, "the run found /elsewhere/fips.so"},
		{"a run broke something else", func(rs map[string]*probe.Result) {
			rs[probe.MutationConfigRemoved].Reports[0].Broken = "nothing"
		}, `broke "nothing"`},
		{"a run reported another run's report", func(rs map[string]*probe.Result) {
			rs[probe.MutationConfigRemoved].Reports[0].Mutation = probe.MutationModuleCorrupted
		}, "reported a negative report module-corrupted"},
		{"a run ran out of time", func(rs map[string]*probe.Result) {
			rs[probe.RunApp].Reports = append(rs[probe.RunApp].Reports, report(probe.KindStatic, "", probe.Check{Name: "deadline", Title: "the checks finished in time", Required: true, Status: probe.Failed}))
		}, "the checks finished in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := results(module())
			tc.change(rs)
			r := probe.Assemble("linux/amd64", probe.Runs(), rs)
			v := Decide(r)
			msg := Explain([]Verdict{v})
			if v.Passed != (tc.fail == "") || !strings.Contains(msg, tc.fail) {
				t.Errorf("passed %v, explanation:\n%s", v.Passed, msg)
			}
			if tc.fail == "" {
				if len(r.Negatives) != 3 || len(r.SelfTest.Checks) != 2 || len(r.Negatives[0].Checks) != 2 {
					t.Errorf("reports: self-test %+v, negatives %d", r.SelfTest.Checks, len(r.Negatives))
				}
			}
		})
	}
}

// With a module that embeds its MAC, the runs of the tests that do not
// apply must have run nothing.
func TestAssembleNotApplicable(t *testing.T) {
	m := module()
	m.Layout, m.RealConfig, m.ConfigContent = probe.LayoutEmbeddedMAC, "", ""
	for _, status := range []string{probe.NotRun, probe.Passed} {
		rs := results(m)
		rs[probe.MutationConfigRemoved] = &probe.Result{Run: probe.MutationConfigRemoved, Reports: []*probe.Report{
			report(probe.KindNegative, probe.MutationConfigRemoved, probe.Check{Name: "break", Status: status})}}
		rs[probe.MutationMACCorrupted] = &probe.Result{Run: probe.MutationMACCorrupted, Reports: []*probe.Report{
			report(probe.KindNegative, probe.MutationMACCorrupted, probe.Check{Name: "break", Status: probe.NotRun})}}
		r := probe.Assemble("linux/amd64", probe.Runs(), rs)
		if v := Decide(r); v.Passed != (status == probe.NotRun) || len(r.Negatives) != 1 {
			t.Errorf("%s: %+v", status, v)
		}
	}
}
