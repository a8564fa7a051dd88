// Package checkgraph builds the verification graph as LLB: for every
// platform of a build result, one check container whose root is that
// platform's root filesystem, all solved in one request. The probe in it
// runs the static checks, the self-test and the negative tests; each
// container is a vertex named for its platform, with no network and none
// of the build's secrets, ssh agents or cache mounts. The result image is
// never modified: the probe breaks only its container's own copy-on-write
// copy.
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
func probeExec(t Target, name string, o Options) llb.State {
	spec := t.Spec
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
// and one negative report for each of probe.Negatives(static.Module). One
// container per platform (probe.Run says in which order it works); the
// platforms run at once.
func Checks(targets []Target, o Options) llb.State {
	var reports []llb.State
	for _, t := range targets {
		reports = append(reports, probeExec(t, vertexName(t.ID, VertexTitle), o))
	}
	if len(reports) == 1 {
		return reports[0]
	}
	return llb.Merge(reports, llb.WithCustomName("[fipsgate] collect reports"))
}

// VertexTitle names each platform's verification vertex.
const VertexTitle = "static checks, self-test, negative tests"
