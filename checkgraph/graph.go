// Package checkgraph builds the verification graph as LLB: for every
// platform of a build result, the static checks with its root filesystem as
// a read-only container root, the self-test with it as the container root,
// and the negative tests on broken copies of it. The frontend solves Static
// and Early in two concurrent requests, then Late, whose mutations need the
// paths the static checks found. Each step is a named vertex; check
// containers have no network and none of the build's secrets, ssh agents or
// cache mounts. The result image is never modified: every mutation is a new
// state derived from it, or the probe's own copy-on-write root.
package checkgraph

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
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

// ReportFile is where the report of one probe run lies in the merged
// reports state.
func ReportFile(id, kind, mutation string) string {
	name := kind
	if mutation != "" {
		name += "-" + mutation
	}
	return path.Join("/", strings.NewReplacer("/", "-", ":", "-").Replace(id), name+".json")
}

func vertexName(id, what string) string {
	return fmt.Sprintf("[fipsgate %s] %s", id, what)
}

// probeExec runs the probe on root and returns the state of its report
// directory.
func probeExec(root llb.State, spec probe.Spec, name string, o Options, extra ...llb.RunOption) llb.State {
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
	opts = append(opts, extra...)
	return root.Run(opts...).AddMount(reportDir, llb.Scratch())
}

// Static returns a state holding the static report of every target, at
// ReportFile(id, probe.KindStatic, ""). The image is the container's root,
// read-only; the probe, a static binary, is the only thing that runs.
func Static(targets []Target, o Options) llb.State {
	var reports []llb.State
	for _, t := range targets {
		spec := t.Spec
		spec.Kind = probe.KindStatic
		spec.Root = "/"
		spec.Report = path.Join(reportDir, ReportFile(t.ID, probe.KindStatic, ""))
		reports = append(reports, probeExec(t.Rootfs, spec,
			vertexName(t.ID, "static: OpenSSL configuration and FIPS module"), o, llb.ReadonlyRootFS()))
	}
	return merge(reports)
}

// Negative is one negative test of one target.
type Negative struct {
	Mutation string
	Title    string
}

// ModuleNegative breaks the module itself: one byte of fips.so changed.
// Changing a byte in place needs a read-modify-write that LLB file
// operations cannot express, so the probe does it first thing, in its own
// copy-on-write copy of the image; it needs no path from the static checks
// and runs beside them.
var ModuleNegative = Negative{probe.MutationModuleChanged, "negative: FIPS module corrupted (one byte changed)"}

// ConfigNegatives lists the negative tests on the module's configuration
// that apply to what the static checks found: with a fipsmodule.cnf, it
// removed and its module-mac corrupted; none when the MAC is embedded in
// the module or there is no module.
func ConfigNegatives(m *probe.ModuleFacts) []Negative {
	if m == nil || m.RealPath == "" || m.Layout != probe.LayoutConfigMAC || m.RealConfig == "" {
		return nil
	}
	return []Negative{
		{probe.MutationConfigRemoved, "negative: " + path.Base(m.RealConfig) + " removed"},
		{probe.MutationMACCorrupted, "negative: module-mac corrupted"},
	}
}

// Early returns a state with what needs nothing from the static checks, to
// run beside them: every target's self-test and module negative test.
func Early(targets []Target, o Options) llb.State {
	var reports []llb.State
	for _, t := range targets {
		spec := t.Spec
		spec.Root = "/"
		self := spec
		self.Kind = probe.KindSelfTest
		self.Report = path.Join(reportDir, ReportFile(t.ID, probe.KindSelfTest, ""))
		reports = append(reports, probeExec(t.Rootfs, self, vertexName(t.ID, "self-test"), o))
		neg := spec
		neg.Kind = probe.KindNegative
		neg.Mutation = ModuleNegative.Mutation
		neg.Report = path.Join(reportDir, ReportFile(t.ID, probe.KindNegative, neg.Mutation))
		reports = append(reports, probeExec(t.Rootfs, neg, vertexName(t.ID, ModuleNegative.Title), o))
	}
	return merge(reports)
}

// Late returns a state with the configuration negative tests, on copies of
// each target broken by LLB file operations at the paths its static
// report found, or false when none applies.
func Late(targets []Target, statics map[string]*probe.Report, o Options) (llb.State, bool, error) {
	var reports []llb.State
	for _, t := range targets {
		m := statics[t.ID].Module
		spec := t.Spec
		spec.Root = "/"
		if m != nil {
			spec.ModulePath, spec.ModuleConfig, spec.ModuleSection = m.RealPath, m.RealConfig, m.Section
		}
		for _, n := range ConfigNegatives(m) {
			broken, err := breakConfig(t, m, n)
			if err != nil {
				return llb.State{}, false, fmt.Errorf("%s: %w", t.ID, err)
			}
			neg := spec
			neg.Kind = probe.KindNegative
			neg.Mutation = n.Mutation
			neg.Report = path.Join(reportDir, ReportFile(t.ID, probe.KindNegative, n.Mutation))
			reports = append(reports, probeExec(broken, neg, vertexName(t.ID, n.Title), o))
		}
	}
	if len(reports) == 0 {
		return llb.State{}, false, nil
	}
	return merge(reports), true, nil
}

// breakConfig derives, with an LLB file operation, the copy of a target's
// filesystem that one configuration negative test runs on.
func breakConfig(t Target, m *probe.ModuleFacts, n Negative) (llb.State, error) {
	switch n.Mutation {
	case probe.MutationConfigRemoved:
		return t.Rootfs.File(llb.Rm(m.RealConfig), llb.WithCustomName(vertexName(t.ID, "break: remove "+m.RealConfig))), nil
	case probe.MutationMACCorrupted:
		changed, err := CorruptModuleMAC(m.ConfigContent, m.Section)
		if err != nil {
			return llb.State{}, fmt.Errorf("%s: %w", m.RealConfig, err)
		}
		return t.Rootfs.File(llb.Mkfile(m.RealConfig, 0o644, []byte(changed)),
			llb.WithCustomName(vertexName(t.ID, "break: corrupt module-mac in "+m.RealConfig))), nil
	}
	return llb.State{}, fmt.Errorf("unknown mutation %q", n.Mutation)
}

var macLine = regexp.MustCompile(`^(\s*module-mac\s*=\s*)([0-9A-Fa-f])`)

// CorruptModuleMAC changes one hex digit of module-mac in the given
// section of a fipsmodule.cnf text, leaving everything else as it was.
func CorruptModuleMAC(content, section string) (string, error) {
	lines := strings.Split(content, "\n")
	current := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.Contains(t, "]") {
			current = strings.TrimSpace(t[1:strings.Index(t, "]")])
			continue
		}
		if section != "" && current != section {
			continue
		}
		m := macLine.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		digit := line[m[4]]
		repl := byte('0')
		if digit == '0' {
			repl = '1'
		}
		lines[i] = line[:m[4]] + string(repl) + line[m[5]:]
		return strings.Join(lines, "\n"), nil
	}
	return "", fmt.Errorf("no module-mac in section [%s]", section)
}

func merge(states []llb.State) llb.State {
	if len(states) == 1 {
		return states[0]
	}
	return llb.Merge(states, llb.WithCustomName("[fipsgate] collect reports"))
}
