// Package frontend holds fipsgate's gateway BuildFunc: it builds the
// Dockerfile with the upstream Dockerfile builder, unchanged, then verifies
// every platform of the result (the probe's check graph) and attaches an in-toto
// attestation to each platform's image manifest only when it passed.
package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/fipsgate/fipsgate/predicate"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/solver/result"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Version is the verifier version written into predicates.
var Version = "dev"

// Build is the gateway BuildFunc. Subrequests (--print, --call, --check)
// and FIPSGATE_MODE=off are answered by the upstream builder alone.
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	if c.BuildOpts().Opts["requestid"] != "" {
		return dockerfile.Build(ctx, c)
	}
	// One view of the build options (build-args, contexts, no-cache) for
	// everything fipsgate reads besides the upstream builder.
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	var opts Options
	var res *client.Result
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		opts, err = loadOptions(egctx, bc)
		return err
	})
	eg.Go(func() error {
		var err error
		res, err = dockerfile.Build(egctx, c)
		return err
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if opts.Mode == ModeOff || res == nil || (res.Ref == nil && len(res.Refs) == 0) {
		return res, nil
	}
	return verify(ctx, c, bc, res, opts)
}

// loadOptions reads FIPSGATE_* from build-args and the Dockerfile's global
// ARG defaults (the ARGs before the first FROM). An error about a value the
// Dockerfile set points at its ARG line, as upstream's errors point at
// theirs; one about a build-arg names the build-arg.
func loadOptions(ctx context.Context, bc *dockerui.Client) (Options, error) {
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return Options{}, err
	}
	return readOptions(src.SourceMap, bc.BuildArgs)
}

// readOptions is loadOptions once the Dockerfile is read.
func readOptions(dockerfile *llb.SourceMap, buildArgs map[string]string) (Options, error) {
	defaults := map[string]string{}
	where := map[string][]parser.Range{}
	// A Dockerfile the upstream builder rejects gets its error from there.
	if ast, err := parser.Parse(bytes.NewReader(dockerfile.Data)); err == nil {
		if _, metaArgs, err := instructions.Parse(ast.AST, nil); err == nil {
			for _, a := range metaArgs {
				for _, kv := range a.Args {
					if kv.Value != nil {
						defaults[kv.Key] = *kv.Value
						where[kv.Key] = a.Location()
					}
				}
			}
		}
	}
	opts, err := ParseOptions(buildArgs, defaults)
	var oe *OptionError
	if errors.As(err, &oe) && oe.FromDockerfile {
		err = withSource(parser.WithLocation(err, where[oe.Name]), dockerfile)
	}
	return opts, err
}

// withSource attaches the Dockerfile's lines an error's locations name,
// which clients print with the error, as the upstream builder does for its
// own errors.
func withSource(err error, sm *llb.SourceMap) error {
	var le *parser.LocationError
	if sm == nil || !errors.As(err, &le) {
		return err
	}
	for _, loc := range le.Locations {
		s := &errdefs.Source{Info: &pb.SourceInfo{Data: sm.Data, Filename: sm.Filename, Language: sm.Language}}
		if sm.Definition != nil {
			s.Info.Definition = sm.Definition.ToPB()
		}
		for _, r := range loc {
			s.Ranges = append(s.Ranges, &pb.Range{
				Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
				End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
			})
		}
		err = errdefs.WithSource(err, s)
	}
	return err
}

// probeImage is the image the probe comes from: the frontend's own, whose
// one binary is also the probe.
func probeImage(c client.Client) (llb.State, error) {
	cf, ok := c.(interface{ CurrentFrontend() (*llb.State, error) })
	if !ok {
		return llb.State{}, fmt.Errorf("fipsgate: the gateway client cannot name the current frontend")
	}
	st, err := cf.CurrentFrontend()
	if err != nil {
		return llb.State{}, err
	}
	if st == nil {
		return llb.State{}, fmt.Errorf("fipsgate must run as a frontend image (# syntax=…): no frontend image to take the probe from")
	}
	return *st, nil
}

func verify(ctx context.Context, c client.Client, bc *dockerui.Client, res *client.Result, opts Options) (*client.Result, error) {
	exceptions, err := loadExceptions(ctx, c, bc, opts.Exceptions)
	if err != nil {
		return nil, err
	}
	targets, err := targetsOf(res, opts, exceptions)
	if err != nil {
		return nil, err
	}
	platforms, err := runChecks(ctx, c, targets, opts, checksNoCache(bc))
	if err != nil {
		err = fmt.Errorf("fipsgate: verification could not complete, so nothing is attested: %w", err)
		if opts.Mode == ModeWarn {
			return res, warn(ctx, c, err.Error())
		}
		return nil, err
	}
	failed := false
	var verdicts []Verdict
	for _, p := range platforms {
		verdicts = append(verdicts, p.verdict)
		failed = failed || !p.verdict.Passed
	}
	if failed {
		msg := Explain(verdicts)
		if opts.Mode == ModeWarn {
			return res, warn(ctx, c, msg+"\nfipsgate: FIPSGATE_MODE=warn: the image is exported without an attestation")
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if err := attest(ctx, c, res, platforms, opts); err != nil {
		return nil, fmt.Errorf("fipsgate: attaching the attestation: %w", err)
	}
	return res, nil
}

// checksNoCache tells whether the checks run again rather than come from
// the cache: with --no-cache, and with --no-cache-filter naming
// probe.Name as if it were a stage (the image's stages, unless named
// too, still come from the cache).
func checksNoCache(bc *dockerui.Client) bool {
	return bc.IsNoCache(probe.Name)
}

func warn(ctx context.Context, c client.Client, msg string) error {
	return c.Warn(ctx, "", msg, client.WarnOpts{})
}

// targetsOf lists the platforms of the result with their image configs.
func targetsOf(res *client.Result, opts Options, exceptions []inventory.Exception) ([]probe.Target, error) {
	// The platforms as BuildKit's exporters read them: the platforms key,
	// or for a single-platform result its image config.
	ps, err := exptypes.ParsePlatforms(res.Metadata)
	if err != nil {
		return nil, fmt.Errorf("fipsgate: reading the result's platforms: %w", err)
	}
	var targets []probe.Target
	for _, p := range ps.Platforms {
		ref, ok := res.FindRef(p.ID)
		if !ok || ref == nil {
			return nil, fmt.Errorf("fipsgate: no result for platform %s", p.ID)
		}
		cfgKey := exptypes.ExporterImageConfigKey + "/" + p.ID
		if _, ok := res.Metadata[cfgKey]; !ok {
			cfgKey = exptypes.ExporterImageConfigKey
		}
		var img dockerspec.DockerOCIImage
		if dt, ok := res.Metadata[cfgKey]; ok {
			if err := json.Unmarshal(dt, &img); err != nil {
				return nil, fmt.Errorf("fipsgate: reading the image config of %s: %w", p.ID, err)
			}
		}
		st, err := ref.ToState()
		if err != nil {
			return nil, err
		}
		app, source := AppCommand(opts, img.Config.Entrypoint, img.Config.Cmd)
		targets = append(targets, probe.Target{
			ID:     p.ID,
			Rootfs: st,
			Spec: probe.Spec{
				Platform:         p.ID,
				Image:            probe.Image{Env: img.Config.Env, User: img.Config.User, WorkingDir: img.Config.WorkingDir},
				App:              app,
				AppSource:        source,
				ReadySeconds:     opts.ReadySeconds,
				TimeoutSeconds:   opts.TimeoutSeconds,
				ExpectFailure:    opts.ExpectFailure,
				ProbeRequest:     opts.ProbeRequest,
				RequireValidated: opts.RequireValidated,
				Strict:           opts.Strict,
				Exceptions:       exceptions,
			},
		})
	}
	return targets, nil
}

// checked is one platform once its checks ran: its reports and the verdict
// on them, from there to the predicate.
type checked struct {
	target  probe.Target
	reports probe.Reports
	verdict Verdict
}

// runChecks solves the checks of every platform in one request, so that
// they all run at once, reads their results and decides.
func runChecks(ctx context.Context, c client.Client, targets []probe.Target, opts Options, noCache bool) ([]checked, error) {
	probeState, err := probeImage(c)
	if err != nil {
		return nil, err
	}
	if err := ownProbes(ctx, c, probeState, targets); err != nil {
		return nil, err
	}
	o := probe.Options{Probe: probeState, IgnoreCache: noCache}
	// The probe bounds its own work and says what it was waiting on; this
	// bounds the rest (starting containers, reading results), so that
	// nothing can hang the build.
	limit := probe.ChecksDeadline(targets)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	ref, err := solve(ctx, c, probe.Checks(targets, o))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("the check containers of %s did not finish within %s: %w", platformList(targets), limit, err)
		}
		return nil, fmt.Errorf("checks: %w", err)
	}
	var platforms []checked
	for _, t := range targets {
		reports, err := probe.ReadReports(ctx, ref, t)
		if err != nil {
			return nil, err
		}
		platforms = append(platforms, checked{target: t, reports: reports, verdict: Decide(reports)})
	}
	return platforms, nil
}

func platformList(targets []probe.Target) string {
	var ids []string
	for _, t := range targets {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ", ")
}

func solve(ctx context.Context, c client.Client, st llb.State) (client.Reference, error) {
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), Evaluate: true})
	if err != nil {
		return nil, err
	}
	return r.SingleRef()
}

// attest attaches two in-toto attestations per platform: fipsgate's
// predicate, and the SLSA verification summary (VSA) of it, all written by
// one file operation and solved once. Both are derived from the reports
// alone, with no time in them, so that an unchanged rebuild attaches the
// same bytes.
func attest(ctx context.Context, c client.Client, res *client.Result, platforms []checked, opts Options) error {
	type statements struct{ predicate, summary string }
	st := llb.Scratch()
	files := map[string]statements{}
	for _, pl := range platforms {
		t := pl.target
		var warnings []predicate.Warning
		for _, w := range pl.verdict.Warnings {
			warnings = append(warnings, predicate.Warning{Stage: w.Stage, Check: w.Check.Name, Title: w.Check.Title, Detail: w.Check.Detail})
		}
		p := newPredicate(predicateInput{
			Platform:        t.ID,
			VerifierVersion: Version,
			Options:         opts,
			Static:          pl.reports.Static,
			Dynamic:         append([]*probe.Report{pl.reports.SelfTest}, pl.reports.Negatives...),
			Warnings:        warnings,
		})
		dt, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		vsa, err := json.MarshalIndent(predicate.Summarize(p, opts.ResourceURI), "", "  ")
		if err != nil {
			return err
		}
		base := "/" + strings.NewReplacer("/", "-", ":", "-").Replace(t.ID)
		f := statements{predicate: base + ".fipsgate.json", summary: base + ".vsa.json"}
		files[t.ID] = f
		st = st.File(llb.Mkfile(f.predicate, 0o644, dt).Mkfile(f.summary, 0o644, vsa), llb.WithCustomName(fmt.Sprintf("[%s %s] attestation", probe.Name, t.ID)))
	}
	ref, err := solve(ctx, c, st)
	if err != nil {
		return err
	}
	for _, pl := range platforms {
		t := pl.target
		res.AddAttestation(t.ID, client.Attestation{
			Kind:   gatewaypb.AttestationKind_InToto,
			Ref:    ref,
			Path:   files[t.ID].predicate,
			InToto: result.InTotoAttestation{PredicateType: predicate.Type},
		})
		res.AddAttestation(t.ID, client.Attestation{
			Kind:   gatewaypb.AttestationKind_InToto,
			Ref:    ref,
			Path:   files[t.ID].summary,
			InToto: result.InTotoAttestation{PredicateType: predicate.VSAType},
		})
	}
	return nil
}
