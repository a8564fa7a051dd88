package main

import (
	"fmt"
	"io"
)

// target is one of the figures fipsgate promises, as measured.
type target struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"` // "s" over the upstream image, or "x" a ratio
	Limit    float64 `json:"limit"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

// targets judges the run against the promised figures: over the upstream
// frontend image, at most +0.5 s on a changed app layer and +0.1 s on a
// no-change rebuild of the small FIPS server; a two-platform build at most
// 1.2x the slower single platform. A figure whose scenario did not run is
// left out.
func (r *report) targets() []target {
	delta := func(scenario, step string) (float64, bool) {
		var fg, up float64
		var okF, okU bool
		for _, x := range r.Rows {
			if x.Scenario != scenario || x.Step != step {
				continue
			}
			switch x.Frontend {
			case "fipsgate":
				fg, okF = x.Seconds.Median, true
			case "upstream frontend image":
				up, okU = x.Seconds.Median, true
			}
		}
		return fg - up, okF && okU
	}
	var ts []target
	if d, ok := delta("helloserver", "warm (last stage changed)"); ok {
		ts = append(ts, target{"helloserver, changed last layer, over the upstream image", "s", 0.5, d, d <= 0.5})
	}
	if d, ok := delta("helloserver", "no change"); ok {
		ts = append(ts, target{"helloserver, no change, over the upstream image", "s", 0.1, d, d <= 0.1})
	}
	if r.TwoPlatformRatio > 0 {
		ts = append(ts, target{"two platforms, over the slower single platform", "x", 1.2, r.TwoPlatformRatio, r.TwoPlatformRatio <= 1.2})
	}
	return ts
}

func printTargets(w io.Writer, ts []target) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range ts {
		verdict := "MISSED"
		if t.Met {
			verdict = "met"
		}
		if t.Unit == "x" {
			fmt.Fprintf(w, "  %-6s %s: %.2fx (at most %.1fx)\n", verdict, t.Name, t.Measured, t.Limit)
		} else {
			fmt.Fprintf(w, "  %-6s %s: %+.2f s (at most +%.1f s)\n", verdict, t.Name, t.Measured, t.Limit)
		}
	}
}
