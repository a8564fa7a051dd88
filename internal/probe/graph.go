// The verification graph, as LLB: for every
// platform of a build result, one check container for each of its runs
// — the static checks on a read-only root, the image's openssl, the
// application as built, and the application with each breakage — every
// one from the image as built, all solved in one request. Each container is a vertex named for
// its platform and run, with no network and none of the build's secrets,
// ssh agents or cache mounts. The result image is never modified: each
// container writes to its own copy-on-write copy. The graph, the spec
// each container receives, the result it writes and reading the results
// back (results.go) are this package's: both sides of the exchange.

package probe

import (
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Target is one platform of the result to verify.
type Target struct {
	// ID is the platform's key in the result (exptypes.Platform.ID).
	ID     string
	Rootfs llb.State
	// Spec carries what every probe run of this platform shares: the
	// image config, the application command and the options.
	Spec Spec
	// Probe, when set, is this platform's own probe, which its check
	// containers run, declared for its platform; unset, they run the
	// builder's (Options.Probe), declared for the builder's platform.
	Probe *Probe
}

// Probe is the probe of one platform: a state whose /bin/fipsgate is the
// frontend binary of that platform, and the platform. Its check containers
// are declared for that platform, so that BuildKit runs them as it runs the
// platform's own steps: through its own emulator (buildkit-qemu-*) where the
// host registered none. A container declared for the builder's platform
// never gets one, and there the image's programs could not run.
type Probe struct {
	State    llb.State
	Platform ocispecs.Platform
}

// Name names the checks the way a Dockerfile names a stage: every vertex
// of the graph is named "[fipsgate …] …", and the build option
// --no-cache-filter fipsgate (dockerui's IsNoCache(Name)) runs the checks
// again while the image's own stages come from the cache.
const Name = "fipsgate"

// Options applies to every vertex of the graph.
type Options struct {
	// Probe is the frontend image (gateway CurrentFrontend), which the
	// builder resolved for its own platform: its /bin/fipsgate is the
	// probe of every target that has none of its own (Target.Probe).
	Probe llb.State
	// IgnoreCache runs every check container again (--no-cache, or
	// --no-cache-filter naming Name).
	IgnoreCache bool
}

// RunTitle names the vertex of one run.
func RunTitle(run string) string {
	switch run {
	case RunStatic:
		return "static checks and crypto inventory"
	case RunOpenSSL:
		return "OpenSSL self-test and negative tests"
	case RunApp:
		return "the application, as built"
	case MutationConfigRemoved:
		return "the application, fipsmodule.cnf removed"
	case MutationMACCorrupted:
		return "the application, module-mac corrupted"
	case MutationModuleCorrupted:
		return "the application, FIPS module corrupted"
	}
	return run
}

func vertexName(id, what string) string {
	return fmt.Sprintf("[%s %s] %s", Name, id, what)
}

// probeExec runs the probe for one run, with the image as the container's
// root, and returns the state of its output directory, which holds its
// result at ResultFile. The spec is a file in that directory, which
// the probe removes before it starts anything of the image: the command
// line, the mounts and the environment are the same in every run of a
// platform, so nothing there says which run it is.
func probeExec(t Target, run string, o Options) llb.State {
	spec := t.Spec
	spec.Root = "/"
	spec.Run = run
	dt, err := json.Marshal(spec)
	if err != nil {
		// Spec holds only strings, numbers and slices of them.
		panic(err)
	}
	in := llb.Scratch().File(llb.Mkfile(SpecName, 0o600, dt), llb.WithCustomName(vertexName(t.ID, "spec: "+run)))
	// The builder's probe is a native binary of the builder, declared for
	// its platform; the image's own programs, which it starts, run as the
	// kernel allows. A platform's own probe is declared for its platform,
	// and runs as BuildKit runs that platform's steps.
	probeState, probePlatform := o.Probe, platforms.Normalize(platforms.DefaultSpec())
	if t.Probe != nil {
		probeState, probePlatform = t.Probe.State, t.Probe.Platform
	}
	opts := []llb.RunOption{
		llb.Args([]string{path.Join(ProbeDir, "fipsgate"), "probe", path.Join(OutputDir, SpecName)}),
		llb.AddMount(ProbeDir, probeState, llb.SourcePath("/bin"), llb.Readonly),
		llb.Network(llb.NetModeNone),
		llb.User("0:0"),
		llb.Dir("/"),
		llb.Platform(probePlatform),
		llb.WithCustomName(vertexName(t.ID, RunTitle(run))),
	}
	if run == RunStatic {
		// Nothing of the image runs there; nothing may change what it reads.
		opts = append(opts, llb.ReadonlyRootFS())
	}
	if o.IgnoreCache {
		opts = append(opts, llb.IgnoreCache)
	}
	return t.Rootfs.Run(opts...).AddMount(OutputDir, in)
}

// Checks returns a state holding the result of every run of every target,
// at ResultFile(id, run). The containers run at once.
func Checks(targets []Target, o Options) llb.State {
	var outputs []llb.State
	for _, t := range targets {
		for _, run := range t.Spec.Runs() {
			outputs = append(outputs, probeExec(t, run, o))
		}
	}
	return llb.Merge(outputs, llb.WithCustomName("["+Name+"] collect results"))
}

// ChecksDeadline is how long the checks of targets may take at most: the
// longest of their containers' Deadline, scaled for a platform that may
// run emulated (the probe itself decides, and scales its own limits), and
// a margin for BuildKit to start the containers and return their outputs.
func ChecksDeadline(targets []Target) time.Duration {
	var limit time.Duration
	for _, t := range targets {
		scale := 1.0
		if MayBeEmulated(t.ID) {
			scale = EmulationTimeScale
		}
		limit = max(limit, Deadline(t.Spec, scale)+2*time.Minute)
	}
	return limit
}

// MayBeEmulated tells whether the programs of platform id may run emulated
// on this builder. The frontend and the builder's probe run natively: a
// platform they do not run, or could not run along with their own
// (linux/386 on linux/amd64), may only run emulated.
func MayBeEmulated(id string) bool {
	p, err := platforms.Parse(id)
	if err != nil {
		return true
	}
	return !platforms.Only(platforms.DefaultSpec()).Match(p)
}
