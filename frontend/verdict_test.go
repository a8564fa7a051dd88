package frontend

import (
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/probe"
)

func intp(i int) *int { return &i }

func report(kind, mutation string, checks ...probe.Check) *probe.Report {
	return &probe.Report{Version: probe.ReportVersion, Kind: kind, Mutation: mutation, Checks: checks}
}

func passed(name string) probe.Check {
	return probe.Check{Name: name, Title: name, Required: true, Status: probe.Passed}
}

func TestDecide(t *testing.T) {
	static := report(probe.KindStatic, "", passed("openssl-config"), probe.Check{Name: "cmvp-validated", Title: "validated", Status: probe.Warning, Detail: "3.5.9 is not validated"})
	self := report(probe.KindSelfTest, "", passed("sha256-works"), passed("app-runs"))
	negative := report(probe.KindNegative, probe.MutationMACCorrupted, passed("openssl-digest-fails"), passed("app-refuses"))
	stillRuns := report(probe.KindNegative, probe.MutationConfigRemoved, passed("openssl-digest-fails"), probe.Check{
		Name: "app-refuses", Title: "the application refuses to run", Required: true, Status: probe.Failed,
		Detail: "THE IMAGE DOES NOT ENFORCE FIPS", Command: []string{"/app"}, Expect: "non-zero exit", ExitCode: intp(0), Output: "served\nbye",
	})
	nothing := report(probe.KindNegative, probe.MutationModuleCorrupted,
		probe.Check{Name: "openssl-digest-fails", Status: probe.NotRun}, probe.Check{Name: "app-refuses", Status: probe.NotRun})

	for _, tc := range []struct {
		name     string
		in       probe.Reports
		pass     bool
		warnings int
		explain  []string
	}{
		{"all pass", probe.Reports{Platform: "linux/amd64", Static: static, SelfTest: self, Negatives: []*probe.Report{negative}}, true, 1, nil},
		{"app still runs", probe.Reports{Platform: "linux/386", Static: static, SelfTest: self, Negatives: []*probe.Report{negative, stillRuns}}, false, 1,
			[]string{"FAILED for linux/386", "[negative/fipsmodule-cnf-removed] the application refuses to run", "THE IMAGE DOES NOT ENFORCE FIPS", "command: /app", "observed: exit status 0", "| served"}},
		{"no negative test applied", probe.Reports{Platform: "linux/amd64", Static: static, SelfTest: self}, false, 1, []string{"no negative test applied"}},
		{"negative test showed nothing", probe.Reports{Platform: "linux/amd64", Static: static, SelfTest: self, Negatives: []*probe.Report{nothing}}, false, 1, []string{"set FIPSGATE_CHECK"}},
		{"no self-test", probe.Reports{Platform: "linux/amd64", Static: static, Negatives: []*probe.Report{negative}}, false, 1, []string{"no self-test report"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Decide(tc.in)
			if v.Passed != tc.pass || len(v.Warnings) != tc.warnings {
				t.Fatalf("verdict %+v", v)
			}
			msg := Explain([]Verdict{v})
			for _, want := range tc.explain {
				if !strings.Contains(msg, want) {
					t.Errorf("explanation lacks %q:\n%s", want, msg)
				}
			}
			if tc.pass && msg != "" {
				t.Errorf("a pass explains nothing, got %q", msg)
			}
		})
	}
}
