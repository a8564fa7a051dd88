package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/fipsgate/fipsgate/internal/probe"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Which probe checks a platform. The builder resolved the frontend image for
// its own platform: that binary runs natively, and checks the platforms
// whose programs the builder's kernel runs itself (its own, linux/386 beside
// linux/amd64). The programs of any other platform run only through an
// emulator: one the host registered with binfmt_misc (qemu-user with the F
// flag), or BuildKit's own (the buildkit-qemu-* programs of the
// moby/buildkit image, which the docker-container driver runs), which
// BuildKit puts in front of a step declared for a platform its worker does
// not list, and never in front of one declared for the builder's platform.
// So such a platform is checked in containers declared for it, running the
// probe of its own machine, which then runs as that platform's RUN steps
// do, through whichever emulator the builder has: the frontend image's
// manifest for that platform, from the index the builder resolved (the same
// digest). That probe runs emulated itself, which costs: its own reading
// and polling are slower (a linux/arm64 image's checks took 1.3-1.5 times
// as long as with the builder's probe, which runs only where the host has a
// binfmt_misc emulator). Where the frontend image has no probe for such a
// platform (one fipsgate is not published for, a frontend image of one
// platform, a frontend loaded from a named context), the builder's probe
// checks it, and the build warns that it then needs the host's emulator.

// ownProbes gives each target that may run emulated the frontend image's
// probe of its own platform, where there is one, and warns about those it
// cannot.
func ownProbes(ctx context.Context, c client.Client, self llb.State, targets []probe.Target) error {
	var ref, noRef string
	resolved := false
	for i, t := range targets {
		if !probe.MayBeEmulated(t.ID) {
			continue
		}
		if !resolved {
			ref, noRef = frontendImageRef(ctx, self)
			resolved = true
		}
		p, why := (*probe.Probe)(nil), noRef
		if ref != "" {
			p, why = probeFor(ctx, c, ref, t.ID)
		}
		if p == nil {
			msg := fmt.Sprintf("fipsgate: %s is checked with the builder's own probe, since %s: its programs then run only if the builder's host registered an emulator for them with binfmt_misc", t.ID, why)
			if err := warn(ctx, c, msg); err != nil {
				return err
			}
			continue
		}
		targets[i].Probe = p
	}
	return nil
}

// frontendImageRef is the frontend image the builder runs, pinned to the
// digest it resolved ("name@sha256:…"), or "" and why there is none: the
// current frontend must be exactly an image source.
func frontendImageRef(ctx context.Context, self llb.State) (ref, why string) {
	def, err := self.Marshal(ctx)
	if err != nil {
		return "", "its definition: " + err.Error()
	}
	var sources []*pb.SourceOp
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return "", "its definition: " + err.Error()
		}
		switch o := op.Op.(type) {
		case nil: // the definition's terminal vertex
		case *pb.Op_Source:
			sources = append(sources, o.Source)
		default:
			return "", "the frontend is not an image from a registry"
		}
	}
	if len(sources) != 1 {
		return "", "the frontend is not an image from a registry"
	}
	ref, ok := strings.CutPrefix(sources[0].Identifier, "docker-image://")
	if !ok {
		return "", "the frontend is not an image from a registry (" + sources[0].Identifier + ")"
	}
	if !strings.Contains(ref, "@sha256:") {
		return "", "the frontend image " + ref + " is not pinned to a digest"
	}
	return ref, ""
}

// probeFor is the frontend image's probe for platform id: the manifest of
// ref for that platform, when the image has one whose binary that
// platform's machine runs; otherwise nil and why not.
func probeFor(ctx context.Context, c client.Client, ref, id string) (*probe.Probe, string) {
	want, err := platforms.Parse(id)
	if err != nil {
		return nil, err.Error()
	}
	want = platforms.Normalize(want)
	_, _, dt, err := c.ResolveImageConfig(ctx, ref, sourceresolver.Opt{
		LogName: fmt.Sprintf("[%s %s] resolve the probe", probe.Name, id),
		ImageOpt: &sourceresolver.ResolveImageOpt{
			Platform:    &want,
			ResolveMode: llb.ResolveModePreferLocal.String(),
		},
	})
	if err != nil {
		return nil, fmt.Sprintf("the frontend image %s has no probe for it: %v", ref, err)
	}
	var img ocispecs.Image
	if err := json.Unmarshal(dt, &img); err != nil {
		return nil, fmt.Sprintf("the frontend image %s: its config for %s: %v", ref, id, err)
	}
	// A single-platform image answers for any platform: its own must be
	// one the target's machine runs.
	got := platforms.Normalize(img.Platform)
	if !platforms.Only(want).Match(got) {
		return nil, fmt.Sprintf("the frontend image %s has no probe for it (only for %s)", ref, platforms.Format(got))
	}
	// Recorded as BuildKit records the frontend image itself.
	st := llb.Image(ref, llb.Platform(got), frontendRecord{})
	return &probe.Probe{State: st, Platform: got}, ""
}

// frontendRecord records an image as a frontend in BuildKit's disk usage.
type frontendRecord struct{}

func (frontendRecord) SetImageOption(ii *llb.ImageInfo) {
	ii.RecordType = string(bkclient.UsageRecordTypeFrontend)
}
