package checkgraph

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/probe"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

func TestReportFile(t *testing.T) {
	if got := ReportFile("linux/arm/v7", probe.KindNegative, probe.MutationMACCorrupted); got != "/linux-arm-v7/negative-module-mac-corrupted.json" {
		t.Errorf("ReportFile = %q", got)
	}
}

// The graph must run one check container per platform, with the image as
// its writable root, named for the platform; give it no network; and never
// hand it secret, ssh or cache mounts.
func TestGraphShape(t *testing.T) {
	image := llb.Image("example.com/app:1")
	probeImg := llb.Image("example.com/fipsgate:1")
	var targets []Target
	for _, id := range []string{"linux/amd64", "linux/386"} {
		targets = append(targets, Target{ID: id, Rootfs: image, Spec: probe.Spec{Platform: id, App: []string{"/app"}}})
	}
	def, err := Checks(targets, Options{Probe: probeImg}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := string(joinDef(def))
	runs := map[string]int{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		e := op.GetExec()
		if e == nil {
			continue
		}
		var spec probe.Spec
		if err := json.Unmarshal([]byte(e.Meta.Args[2]), &spec); err != nil {
			t.Fatal(err)
		}
		runs[spec.Platform]++
		if spec.Root != "/" || spec.ReportDir != reportDir+"/"+targetDir(spec.Platform) {
			t.Errorf("%s: root %q, reports in %q", spec.Platform, spec.Root, spec.ReportDir)
		}
		if e.Network != pb.NetMode_NONE {
			t.Errorf("exec %v has network %v", e.Meta.Args[:2], e.Network)
		}
		for _, m := range e.Mounts {
			if m.Dest == "/" && m.Readonly {
				t.Errorf("%s: the image is a read-only root: the probe cannot break its copy, nor the application write", spec.Platform)
			}
			if m.MountType == pb.MountType_SECRET || m.MountType == pb.MountType_SSH || m.MountType == pb.MountType_CACHE {
				t.Errorf("a check container has a %v mount", m.MountType)
			}
		}
	}
	want := map[string]int{"linux/amd64": 1, "linux/386": 1}
	if !maps.Equal(runs, want) {
		t.Errorf("probe runs %v, want %v", runs, want)
	}
	for _, id := range []string{"linux/amd64", "linux/386"} {
		if !strings.Contains(names, "[fipsgate "+id+"] "+VertexTitle) {
			t.Errorf("no vertex for %s", id)
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
