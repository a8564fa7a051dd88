// Package checkgraph builds the verification graph as LLB: for every
// platform of a build result, two containers on its root filesystem, solved
// together in one request. One runs the static checks and then, in its own
// copy-on-write copy of the image, the negative tests one after the other;
// the other runs the self-test on the image as it was built. Each is a
// named vertex; check containers have no network and none of the build's
// secrets, ssh agents or cache mounts. The result image is never modified:
// the probe breaks only its container's own copy.
package checkgraph

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/containerd/platforms"
	"github.com/fipsgate/fipsgate/probe"
	"github.com/moby/buildkit/client/llb"
)

const (
	probeDir  = "/.fipsgate-probe"
	reportDir = "/.fipsgate-report"
)

// Target is one platform of the result to verify.
type Target struct {
	// ID is the platform's key in the result (exptypes.Platform.ID).
	ID     string
	Rootfs llb.State
	// Spec carries what every probe run of this platform shares: the
	// image config, the application command and the options.
	Spec probe.Spec
}

// Options applies to every vertex of the graph.
type Options struct {
	// Probe is the frontend image (gateway CurrentFrontend): its
	// /bin/fipsgate is the probe.
	Probe       llb.State
	IgnoreCache bool
}

// ReportFile is where the report of one step of one target lies in the
// reports state.
func ReportFile(id, kind, mutation string) string {
	return path.Join("/", targetDir(id), probe.ReportName(kind, mutation))
}

func targetDir(id string) string {
	return strings.NewReplacer("/", "-", ":", "-").Replace(id)
}

func vertexName(id, what string) string {
	return fmt.Sprintf("[fipsgate %s] %s", id, what)
}

// probeExec runs the probe, with the image as the container's root, and
// returns the state of its report directory.
func probeExec(t Target, steps []string, name string, o Options) llb.State {
	spec := t.Spec
	spec.Steps = steps
	spec.Root = "/"
	spec.ReportDir = path.Join(reportDir, targetDir(t.ID))
	dt, err := json.Marshal(spec)
	if err != nil {
		// Spec holds only strings, numbers and slices of them.
		panic(err)
	}
	opts := []llb.RunOption{
		llb.Args([]string{path.Join(probeDir, "fipsgate"), "probe", string(dt)}),
		llb.AddMount(probeDir, o.Probe, llb.SourcePath("/bin"), llb.Readonly),
		llb.Network(llb.NetModeNone),
		llb.User("0:0"),
		llb.Dir("/"),
		// The probe is a native binary of the builder; the image's own
		// programs, which it starts, run as the kernel allows.
		llb.Platform(platforms.Normalize(platforms.DefaultSpec())),
		llb.WithCustomName(name),
	}
	if o.IgnoreCache {
		opts = append(opts, llb.IgnoreCache)
	}
	return t.Rootfs.Run(opts...).AddMount(reportDir, llb.Scratch())
}

// Checks returns a state holding every report of every target, at
// ReportFile(id, kind, mutation): the static report, the self-test report,
// and one negative report for each of probe.Negatives(static.Module).
//
// The static checks come first in their container, before anything of the
// image has run in it; the negative tests break that same copy of the
// image, one thing at a time, and put it back. The self-test runs beside
// them on its own copy, never broken. Two containers per platform keep the
// CPU cost low (every process that loads the FIPS provider runs its
// known-answer tests) while the two halves overlap.
func Checks(targets []Target, o Options) llb.State {
	var reports []llb.State
	for _, t := range targets {
		reports = append(reports,
			probeExec(t, []string{probe.KindStatic, probe.KindNegative}, vertexName(t.ID, "static checks, then negative tests on a broken FIPS module"), o),
			probeExec(t, []string{probe.KindSelfTest}, vertexName(t.ID, "self-test"), o),
		)
	}
	return llb.Merge(reports, llb.WithCustomName("[fipsgate] collect reports"))
}
