package probe

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/client"
)

// Reports are the probe reports of one platform.
type Reports struct {
	Platform  string
	Static    *Report
	SelfTest  *Report   // nil when the static checks found no module to test
	Negatives []*Report // one per mutation that applied
}

// ReadReports reads back the results of every run of one target from
// the state Checks returned, and joins them into the platform's reports.
func ReadReports(ctx context.Context, ref client.Reference, t Target) (Reports, error) {
	results := map[string]*Result{}
	runs := t.Spec.Runs()
	for _, run := range runs {
		r, err := readResult(ctx, ref, t.ID, run)
		if err != nil {
			return Reports{}, fmt.Errorf("%s: %s: %w", t.ID, RunTitle(run), err)
		}
		results[run] = r
	}
	return Assemble(t.ID, runs, results), nil
}

// readResult reads the result of one run of one platform. Only a regular
// file of bounded size, of that run and platform, is taken: a missing,
// oversized or malformed result is an error, never a pass.
func readResult(ctx context.Context, ref client.Reference, platform, run string) (*Result, error) {
	file := ResultFile(platform, run)
	st, err := ref.StatFile(ctx, client.StatRequest{Path: file})
	if err != nil {
		return nil, fmt.Errorf("the probe's result %s: %w", file, err)
	}
	if mode := os.FileMode(st.Mode); !mode.IsRegular() {
		return nil, fmt.Errorf("the probe's result %s is not a regular file (%v)", file, mode)
	}
	if st.Size > MaxResultSize {
		return nil, fmt.Errorf("the probe's result %s is %d bytes, over the %d limit", file, st.Size, MaxResultSize)
	}
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: file, Range: &client.FileRange{Length: MaxResultSize + 1}})
	if err != nil {
		return nil, fmt.Errorf("reading the probe's result %s: %w", file, err)
	}
	r, err := DecodeResult(dt, platform, run)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return r, nil
}

// Assemble joins the results of the runs of one platform into its
// reports: the static run's; the OpenSSL run's self-test, with the
// application's run as built added to it, and its negative tests, each
// with the application's run with that breakage added. A run that found
// another module than the static checks judged, or that did something it
// should not have, fails the platform.
func Assemble(platform string, runs []string, results map[string]*Result) Reports {
	r := Reports{Platform: platform}
	if res := results[RunStatic]; res != nil && len(res.Reports) == 1 && res.Reports[0].Kind == KindStatic {
		r.Static = res.Reports[0]
	}
	if r.Static == nil {
		return r
	}
	m := r.Static.Module
	negatives := map[string]*Report{}
	for _, run := range runs {
		if run == RunStatic {
			continue
		}
		res := results[run]
		if res == nil {
			failResults(&r, "results", "every run reported", "no result of the run "+run)
			continue
		}
		for _, rep := range res.Reports {
			switch {
			case rep.Kind == KindStatic:
				// A run that could not do its part (its deadline passed).
				r.Static.Checks = append(r.Static.Checks, rep.Checks...)
			case run == RunOpenSSL && rep.Kind == KindSelfTest && r.SelfTest == nil:
				rep.Checks = append(moduleCheck(rep, m), rep.Checks...)
				rep.Module = nil
				r.SelfTest = rep
			case run == RunOpenSSL && rep.Kind == KindNegative && negatives[rep.Mutation] == nil:
				negatives[rep.Mutation] = rep
			case run == RunApp && rep.Kind == KindSelfTest && r.SelfTest != nil:
				// What the application was seen to load joins the
				// inventory: its checks are the app run's own.
				if r.Static.Inventory != nil {
					r.Static.Inventory.AddObserved(rep.Inventory)
				}
				rep.Inventory = nil
				r.SelfTest.Checks = append(r.SelfTest.Checks, moduleCheck(rep, m)...)
				r.SelfTest.Checks = append(r.SelfTest.Checks, rep.Checks...)
			case IsMutation(run) && rep.Kind == KindNegative && rep.Mutation == run:
				n := negatives[run]
				if n == nil {
					// The test does not apply to this module: the run must
					// have found the same and run nothing.
					for _, c := range rep.Checks {
						if c.Status != NotRun {
							failResults(&r, "results", "every run reported",
								fmt.Sprintf("the run %s ran %s though the negative test does not apply to the module the static checks found", run, c.Name))
						}
					}
					continue
				}
				if rep.Broken != n.Broken {
					failResults(&r, "results", "every run reported",
						fmt.Sprintf("the run %s broke %q, the OpenSSL run %q", run, rep.Broken, n.Broken))
				}
				n.Checks = append(n.Checks, moduleCheck(rep, m)...)
				n.Checks = append(n.Checks, rep.Checks...)
			default:
				failResults(&r, "results", "every run reported", fmt.Sprintf("the run %s reported a %s report %s", run, rep.Kind, rep.Mutation))
			}
		}
	}
	for _, n := range Negatives(m) {
		if rep := negatives[n.Mutation]; rep != nil {
			r.Negatives = append(r.Negatives, rep)
		}
	}
	judgeModuleIdentity(&r)
	return r
}

// fail adds a required, failed check to the static report.
func failResults(r *Reports, name, title, detail string) {
	r.Static.Checks = append(r.Static.Checks, Check{Name: name, Title: title, Required: true, Status: Failed, Detail: detail})
}

// moduleCheck is a failed check when the run found another module or
// module configuration than the static checks judged.
func moduleCheck(rep *Report, want *ModuleFacts) []Check {
	if sameModule(rep.Module, want) {
		return nil
	}
	return []Check{{Name: "same-module", Title: "the run found the module the static checks judged", Required: true, Status: Failed,
		Detail: fmt.Sprintf("the run found %s, the static checks %s", describeModule(rep.Module), describeModule(want))}}
}

func sameModule(a, b *ModuleFacts) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Path == b.Path && a.RealPath == b.RealPath && a.SHA256 == b.SHA256 && a.Size == b.Size && a.Layout == b.Layout &&
		a.RealConfig == b.RealConfig && a.Section == b.Section && a.ConfigContent == b.ConfigContent
}

func describeModule(m *ModuleFacts) string {
	if m == nil || m.RealPath == "" {
		return "no module"
	}
	return fmt.Sprintf("%s (sha256 %s), configured in %q", m.RealPath, m.SHA256, m.RealConfig)
}
