package probe

import (
	"fmt"
	"strings"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
)

// judgeObserved judges what the application was seen to load while it ran
// that its static reach does not hold — libraries it dlopened, providers
// OpenSSL loaded for it, programs it started — by the rules the static
// checks apply to the reach (docs/verdict.md). It runs once every process
// of the image is gone. The inventory it returns holds those entries and
// their findings, for the frontend to add to the static checks'.
func judgeObserved(spec Spec, static *Report, observed []inventory.ReachEntry, unobserved []string) (Check, *inventory.Inventory) {
	c := Check{Name: "app-loads", Title: "nothing the application was seen to load bypasses the FIPS module", Required: true, Status: Passed}
	root := imagefs.Root{Dir: spec.Root}
	env := envMap(spec.Image.Env)
	reach := inventory.ResolveReach(root, spec.App, env, spec.Image.WorkingDir)
	known := map[string]bool{}
	for _, e := range reach.Entries {
		known[e.Path] = true
	}
	merged := &inventory.Reach{Entries: append([]inventory.ReachEntry{}, reach.Entries...)}
	seen := &inventory.Reach{Entries: []inventory.ReachEntry{}}
	var extra []string
	for _, e := range observed {
		if known[e.Path] || inMounts(e.Path, spec.Mounts) {
			continue
		}
		known[e.Path] = true
		e.Observed = true
		extra = append(extra, e.Path)
		merged.Entries = append(merged.Entries, e)
		seen.Entries = append(seen.Entries, e)
	}
	// What came with another library (DT_NEEDED) is told from what the
	// application loaded itself.
	var loaded []string
	for _, e := range merged.Entries {
		loaded = append(loaded, e.Path)
	}
	deps := inventory.LoadedDependencies(root, loaded, env, spec.Image.WorkingDir)
	for i := range merged.Entries {
		if e := &merged.Entries[i]; e.Observed {
			e.DependencyOf = deps[e.Path]
		}
	}
	for i := range seen.Entries {
		seen.Entries[i].DependencyOf = deps[seen.Entries[i].Path]
	}
	for _, u := range unobserved {
		seen.Unresolved = append(seen.Unresolved, "not observed: "+u)
	}
	opts := inventoryOptions(spec, static)
	opts.Reach = merged
	inv := inventory.ScanFiles(root, extra, opts)
	inv.Reach = seen
	var fails []string
	for _, f := range inv.Failures() {
		fails = append(fails, fmt.Sprintf("%s: %s (%s)", f.Path, f.Evidence, f.Kind))
	}
	switch {
	case len(fails) > 0:
		c.Status, c.Detail = Failed, strings.Join(fails, "\n")
	case len(extra) == 0:
		c.Detail = fmt.Sprintf("it loaded %d files, all in its static reach", len(observed))
	default:
		c.Detail = fmt.Sprintf("it loaded %d files, %d beyond its static reach, none bypassing the module", len(observed), len(extra))
	}
	if len(unobserved) > 0 {
		c.Detail += fmt.Sprintf("; %d things could not be observed (reach.unresolved says which)", len(unobserved))
	}
	return c, inv
}

// inMounts tells a path of the container's own mounts, not the image's.
func inMounts(p string, mounts []string) bool {
	for _, m := range mounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}
