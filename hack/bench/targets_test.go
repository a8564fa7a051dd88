package main

import (
	"bytes"
	"strings"
	"testing"
)

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
	var out bytes.Buffer
	printTargets(&out, got)
	for _, line := range []string{
		"met    helloserver, changed last layer, over the upstream image: +0.44 s (at most +0.5 s)",
		"MISSED two platforms, over the slower single platform: 1.41x (at most 1.2x)",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q in\n%s", line, out.String())
		}
	}
	if n := len((&report{}).targets()); n != 0 {
		t.Errorf("a run without the scenarios judges %d targets", n)
	}
}
