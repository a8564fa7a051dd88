package main

import "testing"

func TestTargets(t *testing.T) {
	mk := func(step, fe string, s float64) row {
		return row{Scenario: "helloserver", Step: step, Frontend: fe, Seconds: stat{Median: s}}
	}
	r := &report{
		Rows: []row{
			mk("warm (last stage changed)", "upstream frontend image", 0.17),
			mk("warm (last stage changed)", "fipsgate", 0.61),
			mk("no change", "upstream frontend image", 0.13),
			mk("no change", "fipsgate", 0.30),
		},
		TwoPlatformRatio: 1.41,
	}
	got := r.targets()
	want := []bool{true, false, false}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, tg := range got {
		if tg.Met != want[i] {
			t.Errorf("%s: measured %.2f, met %v, want %v", tg.Name, tg.Measured, tg.Met, want[i])
		}
	}
	if n := len((&report{}).targets()); n != 0 {
		t.Errorf("a run without the scenarios judges %d targets", n)
	}
}
