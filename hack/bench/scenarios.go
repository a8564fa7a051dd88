package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// scenario is a Dockerfile and its build-args, measured in several steps.
type scenario struct {
	name  string
	dir   string // a private copy of the context
	args  map[string]string
	steps []step
}

// step is one way of rebuilding: prepare runs before each measured build.
type step struct {
	name    string
	prepare func(sc scenario)
	extra   []string
	// platforms builds for several platforms, compared with one.
	platforms string
	// cold steps are long and need no warm-up: they run coldRuns times.
	cold bool
}

// largeImageTail makes the example's final stage carry a Go toolchain and
// its sources: many files and binaries for the scan and the checks. Its Go
// programs use Go's own crypto, accepted by bench-exceptions.json.
const largeImageTail = `COPY --from=build /usr/lib/go-1.24 /usr/lib/go-1.24
COPY --from=build /usr/share/go-1.24 /usr/share/go-1.24
`

const benchExceptions = `{"exceptions": [
  {"path": "/usr/lib/go-1.24/", "reason": "benchmark payload"},
  {"path": "/usr/share/go-1.24/", "reason": "benchmark payload"}
]}
`

func copyDir(src string) string {
	dst, err := os.MkdirTemp("", "fipsgate-bench-ctx-")
	check(err)
	entries, err := os.ReadDir(src)
	check(err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		dt, err := os.ReadFile(filepath.Join(src, e.Name()))
		check(err)
		check(os.WriteFile(filepath.Join(dst, e.Name()), dt, 0o644))
	}
	return dst
}

func writeNonce(dir string) {
	check(os.WriteFile(filepath.Join(dir, "nonce"), []byte(time.Now().Format(time.RFC3339Nano)), 0o644))
}

// appScenario copies an example, appends tail and a last-stage COPY of a
// nonce file to its Dockerfile, and measures cold, warm and no-change builds.
func appScenario(name, src, tail string, args map[string]string) scenario {
	dir := copyDir(src)
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	check(err)
	df = append(df, []byte("\n"+tail+"COPY nonce /etc/fipsgate-bench-nonce\n")...)
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644))
	check(os.WriteFile(filepath.Join(dir, "bench-exceptions.json"), []byte(benchExceptions), 0o644))
	writeNonce(dir)
	fresh := func(sc scenario) { writeNonce(sc.dir) }
	return scenario{name: name, dir: dir, args: args, steps: []step{
		{name: "cold (--no-cache)", prepare: fresh, extra: []string{"--no-cache"}, cold: true},
		{name: "warm (last stage changed)", prepare: fresh},
		{name: "no change", prepare: func(scenario) {}},
	}}
}

// startupScenario is a build with almost nothing to do: what is left is the
// frontend's own start-up.
func startupScenario() scenario {
	dir, err := os.MkdirTemp("", "fipsgate-bench-startup-")
	check(err)
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /\n"), 0o644))
	check(os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644))
	return scenario{name: "frontend start-up (FROM scratch, cached)", dir: dir,
		args:  map[string]string{"FIPSGATE_MODE": "off"},
		steps: []step{{name: "no change", prepare: func(scenario) {}}}}
}

// platformsScenario compares a two-platform build with its single platforms.
func platformsScenario(src, base string) scenario {
	dir := copyDir(src)
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	check(err)
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), append(df, []byte("COPY nonce /etc/fipsgate-bench-nonce\n")...), 0o644))
	writeNonce(dir)
	fresh := func(sc scenario) { writeNonce(sc.dir) }
	return scenario{name: "base image, warm", dir: dir, args: map[string]string{"BASE": base}, steps: []step{
		{name: "linux/amd64", prepare: fresh, platforms: "linux/amd64"},
		{name: "linux/386", prepare: fresh, platforms: "linux/386"},
		{name: "linux/amd64+linux/386", prepare: fresh, platforms: "linux/amd64,linux/386"},
	}}
}

// measure runs a step for every frontend, alternating, after one unmeasured
// warm-up round.
func measure(sc scenario, st step, fes []frontend) map[string][]buildRun {
	res := map[string][]buildRun{}
	extra := append([]string{}, st.extra...)
	if st.platforms != "" {
		extra = append(extra, "--opt", "platform="+st.platforms)
	}
	first, n := -1, *runs
	if st.cold {
		first, n = 0, *coldRuns
	}
	for i := first; i < n; i++ {
		for _, fe := range fes {
			st.prepare(sc)
			r := build(fe, sc.dir, sc.args, extra...)
			if i >= 0 {
				res[fe.Name] = append(res[fe.Name], r)
			}
		}
	}
	return res
}

// stat is a median with its range.
type stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// row is one scenario step for one frontend.
type row struct {
	Scenario string `json:"scenario"`
	Step     string `json:"step"`
	Frontend string `json:"frontend"`
	Seconds  stat   `json:"seconds"`
	// Ratios of medians: against the upstream frontend image and the
	// built-in frontend.
	VsUpstream float64 `json:"vsUpstreamImage"`
	VsBuiltin  float64 `json:"vsBuiltin"`
	// Seconds to the first vertex of the Dockerfile's own stages.
	FirstStage stat `json:"firstStageSeconds"`
	// Verification vertices that ran (fipsgate only): median seconds each,
	// their sum, and the wall time they spanned.
	Checks    map[string]float64 `json:"checks,omitempty"`
	CheckSum  stat               `json:"checkSumSeconds"`
	CheckWall stat               `json:"checkWallSeconds"`
}

type report struct {
	Machine   string           `json:"machine"`
	Date      string           `json:"date"`
	Runs      int              `json:"runs"`
	Frontends []frontend       `json:"frontends"`
	Images    map[string]int64 `json:"frontendImageCompressedBytes"`
	Rows      []row            `json:"rows"`
	// TwoPlatformRatio is the two-platform fipsgate build over the slower
	// single platform.
	TwoPlatformRatio float64 `json:"twoPlatformVsSlowerSingle"`
	// TwoPlatformRatios is the same for every frontend.
	TwoPlatformRatios map[string]float64 `json:"twoPlatformVsSlowerSingleByFrontend,omitempty"`
	// Scans is the crypto inventory's throughput.
	Scans []scanRow `json:"cryptoInventory"`
	// Targets are the promised figures, met or not.
	Targets []target `json:"targets"`
}

func (r *report) add(sc scenario, st step, res map[string][]buildRun) {
	pick := func(runs []buildRun, f func(buildRun) float64) stat {
		var xs []float64
		for _, b := range runs {
			xs = append(xs, f(b))
		}
		return stats(xs)
	}
	medians := map[string]float64{}
	for _, fe := range r.Frontends {
		medians[fe.Name] = pick(res[fe.Name], func(b buildRun) float64 { return b.Seconds }).Median
	}
	for _, fe := range r.Frontends {
		runs := res[fe.Name]
		rw := row{Scenario: sc.name, Step: st.name, Frontend: fe.Name,
			Seconds:    pick(runs, func(b buildRun) float64 { return b.Seconds }),
			FirstStage: pick(runs, func(b buildRun) float64 { return b.FirstStage }),
			CheckSum:   pick(runs, func(b buildRun) float64 { return b.CheckSum }),
			CheckWall:  pick(runs, func(b buildRun) float64 { return b.CheckWall }),
		}
		rw.VsUpstream = ratio(rw.Seconds.Median, medians["upstream frontend image"])
		rw.VsBuiltin = ratio(rw.Seconds.Median, medians["built-in dockerfile.v0"])
		names := map[string][]float64{}
		for _, b := range runs {
			for n, s := range b.Checks {
				names[n] = append(names[n], s)
			}
		}
		if len(names) > 0 {
			rw.Checks = map[string]float64{}
			for n, xs := range names {
				rw.Checks[n] = stats(xs).Median
			}
		}
		r.Rows = append(r.Rows, rw)
	}
	if sc.name == "base image, warm" && st.platforms == "linux/amd64,linux/386" {
		r.TwoPlatformRatios = map[string]float64{}
		for _, fe := range r.Frontends {
			slower := 0.0
			for _, x := range r.Rows {
				if x.Scenario == sc.name && x.Frontend == fe.Name && x.Step != st.name {
					slower = math.Max(slower, x.Seconds.Median)
				}
			}
			r.TwoPlatformRatios[fe.Name] = ratio(medians[fe.Name], slower)
		}
		r.TwoPlatformRatio = r.TwoPlatformRatios["fipsgate"]
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*100) / 100
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nfipsgate benchmark — %s — %d runs each, alternating, medians (min–max) in seconds\n", r.Machine, r.Runs)
	fmt.Fprintf(w, "frontend images (compressed): fipsgate %.1f MB, upstream %.1f MB\n\n",
		float64(r.Images["fipsgate"])/1e6, float64(r.Images["upstream frontend image"])/1e6)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tSTEP\tFRONTEND\tSECONDS\tvs UPSTREAM IMAGE\tvs BUILT-IN\tTO FIRST STAGE\tCHECKS (sum / wall)")
	for _, x := range r.Rows {
		checks := ""
		if x.CheckSum.Median > 0 {
			checks = fmt.Sprintf("%.2f / %.2f", x.CheckSum.Median, x.CheckWall.Median)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f (%.2f–%.2f)\t%.2fx\t%.2fx\t%.2f\t%s\n", x.Scenario, x.Step, x.Frontend,
			x.Seconds.Median, x.Seconds.Min, x.Seconds.Max, x.VsUpstream, x.VsBuiltin, x.FirstStage.Median, checks)
	}
	tw.Flush()
	if r.TwoPlatformRatio > 0 {
		fmt.Fprintf(w, "\ntwo platforms vs the slower single platform: fipsgate %.2fx (upstream frontend image %.2fx, built-in %.2fx)\n",
			r.TwoPlatformRatio, r.TwoPlatformRatios["upstream frontend image"], r.TwoPlatformRatios["built-in dockerfile.v0"])
	}
	// The verification vertices of the warm helloserver build.
	for _, x := range r.Rows {
		if x.Frontend == "fipsgate" && x.Scenario == "helloserver" && strings.HasPrefix(x.Step, "warm") {
			fmt.Fprintf(w, "\nverification vertices, helloserver warm (median seconds; sum %.2f over %.2f wall):\n", x.CheckSum.Median, x.CheckWall.Median)
			names := make([]string, 0, len(x.Checks))
			for n := range x.Checks {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(w, "  %5.2f  %s\n", x.Checks[n], n)
			}
		}
	}
	if len(r.Scans) > 0 {
		printScans(w, r.Scans)
	}
	printTargets(w, r.Targets)
}
