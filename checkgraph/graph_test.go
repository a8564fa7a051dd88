package checkgraph

import (
	"context"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/probe"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

func TestCorruptModuleMAC(t *testing.T) {
	in := "[other]\nmodule-mac = AA:BB\n\n[fips_sect]\nactivate = 1\n  module-mac = 0E:91:FF\ninstall-version = 1\n"
	got, err := CorruptModuleMAC(in, "fips_sect")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, "  module-mac = 0E:91:FF", "  module-mac = 1E:91:FF", 1)
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := CorruptModuleMAC("[fips_sect]\nactivate = 1\n", "fips_sect"); err == nil {
		t.Error("no module-mac must be an error")
	}
}

func TestConfigNegatives(t *testing.T) {
	cnf := &probe.ModuleFacts{RealPath: "/usr/lib/ossl-modules/fips.so", RealConfig: "/etc/ssl/fipsmodule.cnf", Layout: probe.LayoutConfigMAC}
	var got []string
	for _, n := range ConfigNegatives(cnf) {
		got = append(got, n.Mutation)
	}
	if strings.Join(got, ",") != "fipsmodule-cnf-removed,module-mac-corrupted" {
		t.Errorf("fipsmodule.cnf layout: %v", got)
	}
	embedded := &probe.ModuleFacts{RealPath: "/usr/lib64/ossl-modules/fips.so", Layout: probe.LayoutEmbeddedMAC}
	if n := ConfigNegatives(embedded); n != nil {
		t.Errorf("embedded layout: %+v", n)
	}
	if n := ConfigNegatives(&probe.ModuleFacts{}); n != nil {
		t.Errorf("no module: %+v", n)
	}
}

func TestReportFile(t *testing.T) {
	if got := ReportFile("linux/arm/v7", probe.KindNegative, probe.MutationMACCorrupted); got != "/linux-arm-v7/negative-module-mac-corrupted.json" {
		t.Errorf("ReportFile = %q", got)
	}
}

// The graph must name its vertices for the platform, give check containers
// no network, give the static checks the image as a read-only root, and
// never hand them secret, ssh or cache mounts.
func TestGraphShape(t *testing.T) {
	image := llb.Image("example.com/app:1")
	probeImg := llb.Image("example.com/fipsgate:1")
	targets := []Target{{ID: "linux/amd64", Rootfs: image, Spec: probe.Spec{App: []string{"/app"}}}}
	o := Options{Probe: probeImg}
	def, err := Static(targets, o).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]*probe.Report{"linux/amd64": {Module: &probe.ModuleFacts{
		RealPath: "/fips.so", RealConfig: "/fipsmodule.cnf", Layout: probe.LayoutConfigMAC, Section: "fips_sect",
		ConfigContent: "[fips_sect]\nmodule-mac = AA\n",
	}}}
	late, ok, err := Late(targets, st, o)
	if err != nil || !ok {
		t.Fatal(err, ok)
	}
	ldef, err := late.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	edef, err := Early(targets, o).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*llb.Definition{def, edef, ldef} {
		if !strings.Contains(string(joinDef(d)), "[fipsgate linux/amd64]") {
			t.Error("vertices are not named for the platform")
		}
		execs := 0
		for _, dt := range d.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			e := op.GetExec()
			if e == nil {
				continue
			}
			execs++
			if e.Network != pb.NetMode_NONE {
				t.Errorf("exec %v has network %v", e.Meta.Args[:2], e.Network)
			}
			for _, m := range e.Mounts {
				if m.Dest == "/" && strings.Contains(e.Meta.Args[2], `"kind":"static"`) && !m.Readonly {
					t.Errorf("the static checks have the image as a writable root")
				}
				if m.MountType == pb.MountType_SECRET || m.MountType == pb.MountType_SSH || m.MountType == pb.MountType_CACHE {
					t.Errorf("a check container has a %v mount", m.MountType)
				}
			}
		}
		if execs == 0 {
			t.Error("no exec in the graph")
		}
	}
	names := string(joinDef(edef)) + string(joinDef(ldef))
	for _, want := range []string{"self-test", "negative: fipsmodule.cnf removed", "negative: module-mac corrupted", "negative: FIPS module corrupted", "break: remove /fipsmodule.cnf", "break: corrupt module-mac in /fipsmodule.cnf"} {
		if !strings.Contains(names, want) {
			t.Errorf("dynamic graph has no %q", want)
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
