package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestResultFile(t *testing.T) {
	if got := ResultFile("linux/arm/v7", MutationMACCorrupted); got != "/linux-arm-v7/module-mac-corrupted.json" {
		t.Errorf("ResultFile = %q", got)
	}
}

// The graph must run one check container per platform and run, with the
// image as its writable root, named for the platform and the run; the same
// command line in each, the spec in a file; give it no network; and never
// hand it secret, ssh or cache mounts.
func TestGraphShape(t *testing.T) {
	image := llb.Image("example.com/app:1")
	probeImg := llb.Image("example.com/fipsgate:1")
	var targets []Target
	for _, id := range []string{"linux/amd64", "linux/386"} {
		targets = append(targets, Target{ID: id, Rootfs: image, Spec: Spec{Platform: id, App: []string{"/app"}}})
	}
	def, err := Checks(targets, Options{Probe: probeImg}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := string(joinDef(def))
	runs := map[string]int{}
	specs := map[string]Spec{}
	readonlyRoots := 0
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if f := op.GetFile(); f != nil {
			var spec Spec
			if err := json.Unmarshal(f.Actions[0].GetMkfile().Data, &spec); err != nil {
				t.Fatal(err)
			}
			specs[spec.Platform+" "+spec.Run] = spec
		}
	}
	for key, spec := range specs {
		if spec.Root != "/" {
			t.Errorf("%s: root %q", key, spec.Root)
		}
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		e := op.GetExec()
		if e == nil {
			continue
		}
		if got := strings.Join(e.Meta.Args, " "); got != "/.fipsgate-probe/fipsgate probe /.fipsgate-out/spec.json" {
			t.Errorf("command line %q", got)
		}
		runs[fmt.Sprint(len(e.Mounts))]++
		if e.Network != pb.NetMode_NONE {
			t.Errorf("exec %v has network %v", e.Meta.Args[:2], e.Network)
		}
		for _, m := range e.Mounts {
			if m.Dest == "/" && m.Readonly {
				readonlyRoots++
			}
			if m.MountType == pb.MountType_SECRET || m.MountType == pb.MountType_SSH || m.MountType == pb.MountType_CACHE {
				t.Errorf("a check container has a %v mount", m.MountType)
			}
		}
	}
	// The static run's alone: elsewhere the probe breaks its copy of the
	// image, and the application writes.
	if readonlyRoots != 2 {
		t.Errorf("%d containers have the image as a read-only root, want the static run of each platform", readonlyRoots)
	}
	// The root, the probe and the output directory.
	if want := map[string]int{"3": 2 * len(Runs())}; !maps.Equal(runs, want) {
		t.Errorf("probe containers by mount count %v, want %v", runs, want)
	}
	if len(specs) != 2*len(Runs()) {
		t.Errorf("%d specs, want one for each run of each platform", len(specs))
	}
	for _, id := range []string{"linux/amd64", "linux/386"} {
		for _, run := range Runs() {
			if !strings.Contains(names, "[fipsgate "+id+"] "+RunTitle(run)+"\n") {
				t.Errorf("no vertex for %s %s", id, run)
			}
			if _, ok := specs[id+" "+run]; !ok {
				t.Errorf("no spec for %s %s", id, run)
			}
		}
	}
}

func joinDef(d *llb.Definition) []byte {
	var b []byte
	for _, m := range d.Metadata {
		if m.Description != nil {
			b = append(b, []byte(m.Description["llb.customname"]+"\n")...)
		}
	}
	return b
}

// With no application to check, the static run is the only container.
func TestGraphWithoutApplication(t *testing.T) {
	target := Target{ID: "linux/amd64", Rootfs: llb.Image("example.com/app:1"), Spec: Spec{Platform: "linux/amd64"}}
	def, err := Checks([]Target{target}, Options{Probe: llb.Image("example.com/fipsgate:1")}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := string(joinDef(def))
	if !strings.Contains(names, RunTitle(RunStatic)) || strings.Contains(names, RunTitle(RunApp)) {
		t.Errorf("vertices:\n%s", names)
	}
}

// IgnoreCache (--no-cache, --no-cache-filter fipsgate) runs every check
// container again, and only those: what the image is built from keeps its
// cache.
func TestIgnoreCache(t *testing.T) {
	target := Target{ID: "linux/amd64", Rootfs: llb.Image("example.com/app:1"), Spec: Spec{Platform: "linux/amd64", App: []string{"/app"}}}
	for _, ignore := range []bool{false, true} {
		def, err := Checks([]Target{target}, Options{Probe: llb.Image("example.com/fipsgate:1"), IgnoreCache: ignore}).Marshal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		execs := 0
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			md := def.Metadata[digest.FromBytes(dt)]
			if op.GetExec() != nil {
				execs++
				if md.IgnoreCache != ignore {
					t.Errorf("IgnoreCache %v: the check %q has IgnoreCache %v", ignore, md.Description["llb.customname"], md.IgnoreCache)
				}
			} else if md.IgnoreCache {
				t.Errorf("IgnoreCache %v: %q, not a check container, ignores the cache", ignore, md.Description["llb.customname"])
			}
		}
		if execs != len(Runs()) {
			t.Errorf("%d check containers, want %d", execs, len(Runs()))
		}
	}
}

func TestVertexNamesBeginWithName(t *testing.T) {
	target := Target{ID: "linux/amd64", Rootfs: llb.Image("example.com/app:1"), Spec: Spec{Platform: "linux/amd64", App: []string{"/app"}}}
	def, err := Checks([]Target{target}, Options{Probe: llb.Image("example.com/fipsgate:1")}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(strings.TrimSpace(string(joinDef(def))), "\n") {
		if name != "" && !strings.HasPrefix(name, "["+Name+" ") && !strings.HasPrefix(name, "["+Name+"]") {
			t.Errorf("vertex %q is not named for the checks (%q)", name, Name)
		}
	}
}

// A target with a probe of its own runs it, in containers declared for the
// probe's platform; the others run the builder's probe, declared for the
// builder's platform.
func TestGraphProbeOfItsOwn(t *testing.T) {
	arm64 := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	own := &Probe{State: llb.Image("example.com/fipsgate@sha256:"+strings.Repeat("a", 64), llb.Platform(arm64)), Platform: arm64}
	targets := []Target{
		{ID: "linux/amd64", Rootfs: llb.Image("example.com/app:1"), Spec: Spec{Platform: "linux/amd64", App: []string{"/app"}}},
		{ID: "linux/arm64", Rootfs: llb.Image("example.com/app:1"), Spec: Spec{Platform: "linux/arm64", App: []string{"/app"}}, Probe: own},
	}
	def, err := Checks(targets, Options{Probe: llb.Image("example.com/fipsgate:builder")}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ops := map[digest.Digest]*pb.Op{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		ops[digest.FromBytes(dt)] = &op
	}
	builder := platforms.Normalize(platforms.DefaultSpec())
	want := map[string]struct {
		probe    string
		platform ocispecs.Platform
	}{
		"linux/amd64": {"docker-image://example.com/fipsgate:builder", builder},
		"linux/arm64": {"docker-image://example.com/fipsgate@sha256:" + strings.Repeat("a", 64), arm64},
	}
	seen := map[string]int{}
	for _, op := range ops {
		e := op.GetExec()
		if e == nil {
			continue
		}
		var spec Spec
		var probeSrc string
		for _, m := range e.Mounts {
			in := ops[digest.Digest(op.Inputs[m.Input].Digest)]
			switch m.Dest {
			case OutputDir:
				_ = json.Unmarshal(in.GetFile().Actions[0].GetMkfile().GetData(), &spec)
			case ProbeDir:
				probeSrc = in.GetSource().GetIdentifier()
			}
		}
		w := want[spec.Platform]
		seen[spec.Platform]++
		got := ocispecs.Platform{OS: op.Platform.OS, Architecture: op.Platform.Architecture, Variant: op.Platform.Variant}
		if probeSrc != w.probe || platforms.Format(got) != platforms.Format(w.platform) {
			t.Errorf("%s %s: the probe is %q on %s, want %q on %s", spec.Platform, spec.Run, probeSrc, platforms.Format(got), w.probe, platforms.Format(w.platform))
		}
	}
	if seen["linux/amd64"] != len(Runs()) || seen["linux/arm64"] != len(Runs()) {
		t.Errorf("check containers by platform: %v", seen)
	}
}
