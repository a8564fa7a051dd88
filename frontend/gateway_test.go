package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/platforms"
	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/fipsgate/fipsgate/predicate"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// The gateway side of the frontend, against a fake gateway client: the
// upstream Dockerfile builder runs unchanged on it, the build context is a
// map of files, and a fake probe answers each check container of the
// verification graph with what the test has it write. BuildKit itself, the
// check containers and the probe are covered end to end (e2e/).

// file is a file of a fake reference.
type file struct {
	data []byte
	mode os.FileMode // 0: a regular file
	size int64       // what StatFile says, if not 0; len(data) otherwise
}

// ref is a solved reference: the state it was solved from, and its files.
type ref struct {
	c     *fakeClient
	def   *pb.Definition
	files map[string]file
}

func (r *ref) ToState() (llb.State, error) {
	op, err := llb.NewDefinitionOp(r.def)
	if err != nil {
		return llb.State{}, err
	}
	return llb.NewState(op), nil
}

func (r *ref) Evaluate(context.Context) error { return nil }

func (r *ref) lookup(name string) (file, error) {
	name = path.Clean("/" + name)
	r.c.record("read " + name)
	f, ok := r.files[name]
	if !ok {
		return file{}, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

func (r *ref) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	f, err := r.lookup(req.Filename)
	if err != nil {
		return nil, err
	}
	if f.mode.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", req.Filename)
	}
	dt := f.data
	if rg := req.Range; rg != nil {
		dt = dt[min(rg.Offset, len(dt)):]
		dt = dt[:min(rg.Length, len(dt))]
	}
	return dt, nil
}

func (r *ref) StatFile(_ context.Context, req client.StatRequest) (*fstypes.Stat, error) {
	f, err := r.lookup(req.Path)
	if err != nil {
		return nil, err
	}
	st := &fstypes.Stat{Path: path.Base(req.Path), Mode: uint32(f.mode | 0o644), Size: int64(len(f.data))}
	if f.size != 0 {
		st.Size = f.size
	}
	return st, nil
}

func (r *ref) ReadDir(context.Context, client.ReadDirRequest) ([]*fstypes.Stat, error) {
	return nil, errors.New("fake gateway: ReadDir is not used")
}

// fakeClient is the gateway client. Solve tells the requests apart by
// their operations: a local source alone is the build context, a merge of
// probe containers the checks, files made at *.fipsgate.json and
// *.vsa.json the attestations; anything else is the upstream builder's image.
type fakeClient struct {
	opts    map[string]string
	context map[string]file
	// probe is what the check container of spec writes at its result's
	// path; ok false: nothing.
	probe func(spec probe.Spec) (f file, ok bool)
	// checksErr fails the solve of the checks.
	checksErr error
	// frontend is the frontend image CurrentFrontend names (default
	// fipsgate.invalid/fipsgate:test); frontendConfigs its image config
	// by the platform asked for, as ResolveImageConfig answers.
	frontend        string
	frontendConfigs map[string]ocispecs.Image

	mu          sync.Mutex
	log         []string          // solves and reads, in order
	specs       []probe.Spec      // what the check containers were given
	roots       map[string]string // by platform and run: what each one's root is
	probes      map[string]string // by platform and run: its probe's source, and its platform
	attestation map[string][]byte // the attestation files made
	warnings    []string
}

func (c *fakeClient) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func (c *fakeClient) logged(prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.log {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (c *fakeClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{
		Opts:    c.opts,
		Product: "fipsgate-test",
		LLBCaps: pb.Caps.CapSet(pb.Caps.All()),
		Caps:    gatewaypb.Caps.CapSet(gatewaypb.Caps.All()),
	}
}

func (c *fakeClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.Definition == nil || len(req.Definition.Def) == 0 {
		return &client.Result{}, nil
	}
	var (
		locals, others int
		merge          bool
		specs          []probe.Spec
		made           = map[string][]byte{}
		ops            = map[digest.Digest]*pb.Op{}
		execs          []*pb.Op
	)
	for _, dt := range req.Definition.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		ops[digest.FromBytes(dt)] = &op
		switch o := op.Op.(type) {
		case nil: // the definition's terminal vertex
		case *pb.Op_Source:
			if strings.HasPrefix(o.Source.Identifier, "local://") {
				locals++
			} else {
				others++
			}
		case *pb.Op_Merge:
			merge = true
		case *pb.Op_Exec:
			others++
			execs = append(execs, &op)
		case *pb.Op_File:
			others++
			for _, a := range o.File.Actions {
				mk := a.GetMkfile()
				switch {
				case mk == nil:
				case mk.Path == "/"+probe.SpecName:
					var spec probe.Spec
					if err := json.Unmarshal(mk.Data, &spec); err != nil {
						return nil, fmt.Errorf("fake gateway: a probe spec: %w", err)
					}
					specs = append(specs, spec)
				case strings.HasSuffix(mk.Path, ".fipsgate.json"), strings.HasSuffix(mk.Path, ".vsa.json"):
					made[mk.Path] = mk.Data
				}
			}
		default:
			others++
		}
	}
	r := &ref{c: c, def: req.Definition, files: map[string]file{}}
	switch {
	case merge && len(specs) > 0:
		c.record("solve checks")
		c.mu.Lock()
		c.specs = append(c.specs, specs...)
		c.mu.Unlock()
		c.recordRoots(ops, execs)
		if c.checksErr != nil {
			return nil, c.checksErr
		}
		for _, spec := range specs {
			if f, ok := c.probe(spec); ok {
				r.files[probe.ResultFile(spec.Platform, spec.Run)] = f
			}
		}
	case len(made) > 0:
		c.record("solve attestation")
		c.mu.Lock()
		if c.attestation == nil {
			c.attestation = map[string][]byte{}
		}
		for name, dt := range made {
			c.attestation[name] = dt
			r.files[name] = file{data: dt}
		}
		c.mu.Unlock()
	case locals > 0 && others == 0:
		c.record("solve context")
		r.files = c.context
	default:
		c.record("solve image")
	}
	res := client.NewResult()
	res.SetRef(r)
	return res, nil
}

// recordRoots records, for each check container, what its root is: the
// directory the file operation its root filesystem ends with makes (the
// Dockerfile's WORKDIR, one for each platform), by its spec's platform and
// run.
func (c *fakeClient) recordRoots(ops map[digest.Digest]*pb.Op, execs []*pb.Op) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots == nil {
		c.roots = map[string]string{}
		c.probes = map[string]string{}
	}
	for _, e := range execs {
		var spec probe.Spec
		root := "no root"
		probeSource := "no probe"
		for _, m := range e.GetExec().Mounts {
			if m.Input < 0 || int(m.Input) >= len(e.Inputs) {
				continue
			}
			in := ops[digest.Digest(e.Inputs[m.Input].Digest)]
			if m.Dest == probe.ProbeDir && in.GetSource() != nil {
				probeSource = in.GetSource().Identifier
			}
			if in == nil || in.GetFile() == nil || len(in.GetFile().Actions) == 0 {
				continue
			}
			a := in.GetFile().Actions[0]
			switch m.Dest {
			case probe.OutputDir:
				_ = json.Unmarshal(a.GetMkfile().GetData(), &spec)
			case "/":
				root = "mkdir " + a.GetMkdir().GetPath()
			}
		}
		c.roots[spec.Platform+" "+spec.Run] = root
		p := e.Platform
		c.probes[spec.Platform+" "+spec.Run] = probeSource + " on " + platforms.Format(ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	}
}

// ResolveImageConfig knows the frontend image alone: as a registry
// does, an index answers for the platforms it has, a single manifest for
// any.
func (c *fakeClient) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := platforms.Format(*opt.ImageOpt.Platform)
	c.record("resolve " + ref + " for " + p)
	if ref != c.frontend || !strings.Contains(ref, "@") {
		return "", "", nil, errors.New("fake gateway: no registry")
	}
	img, ok := c.frontendConfigs[p]
	if len(c.frontendConfigs) == 1 {
		// A single manifest.
		for _, only := range c.frontendConfigs {
			img, ok = only, true
		}
	}
	if !ok {
		return "", "", nil, fmt.Errorf("%s: no match for platform in manifest: not found", ref)
	}
	dt, err := json.Marshal(img)
	return ref, digest.Digest(strings.SplitN(ref, "@", 2)[1]), dt, err
}

func (c *fakeClient) ResolveSourceMetadata(context.Context, *pb.SourceOp, sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	return nil, errors.New("fake gateway: no sources")
}

func (c *fakeClient) Inputs(context.Context) (map[string]llb.State, error) {
	return map[string]llb.State{}, nil
}

func (c *fakeClient) NewContainer(context.Context, client.NewContainerRequest) (client.Container, error) {
	return nil, errors.New("fake gateway: no containers")
}

func (c *fakeClient) Warn(_ context.Context, _ digest.Digest, msg string, _ client.WarnOpts) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, msg)
	return nil
}

// CurrentFrontend is the frontend image, whose binary is the probe.
func (c *fakeClient) CurrentFrontend() (*llb.State, error) {
	ref := c.frontend
	if ref == "" {
		ref = "fipsgate.invalid/fipsgate:test"
	}
	st := llb.Image(ref)
	return &st, nil
}

const testDockerfile = `FROM scratch
COPY app /usr/bin/app
ENV PATH=/usr/bin OPENSSL_CONF=/etc/ssl/openssl.cnf
USER app
ARG TARGETARCH
WORKDIR /srv/$TARGETARCH
ENTRYPOINT ["/usr/bin/app", "--serve"]
`

// newClient is a fake gateway building testDockerfile for platforms, with the
// options given as build-args, whose probe writes a passing result for
// every run.
func newClient(platforms string, buildArgs map[string]string) *fakeClient {
	opts := map[string]string{"platform": platforms}
	for k, v := range buildArgs {
		opts["build-arg:"+k] = v
	}
	return &fakeClient{
		opts: opts,
		context: map[string]file{
			"/Dockerfile":      {data: []byte(testDockerfile)},
			"/app":             {data: []byte("\x7fELF")},
			"/exceptions.json": {data: []byte(`{"exceptions": [{"path": "/opt/tool/*", "kind": "go-native-crypto", "reason": "not used for crypto"}]}`)},
		},
		probe: passingProbe,
	}
}

// passingProbe writes what the probe writes for an image whose every check
// passes: the results of results_test.go.
func passingProbe(spec probe.Spec) (file, bool) {
	return encode(passingResult(spec)), true
}

func passingResult(spec probe.Spec) *probe.Result {
	r := results(module())[spec.Run]
	r.Version, r.Platform = probe.ReportVersion, spec.Platform
	for _, rep := range r.Reports {
		rep.Version, rep.Platform = probe.ReportVersion, spec.Platform
	}
	if spec.Run == probe.RunStatic {
		r.Reports[0].App, r.Reports[0].AppSource = spec.App, spec.AppSource
	}
	return r
}

func encode(r *probe.Result) file {
	dt, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return file{data: dt}
}

// The specs the checks were given, by platform and run.
func (c *fakeClient) specsByRun() map[string]probe.Spec {
	m := map[string]probe.Spec{}
	for _, s := range c.specs {
		m[s.Platform+" "+s.Run] = s
	}
	return m
}

// Every platform that passed gets its predicate and the verification
// summary of it (VSA), all made in one solve after
// the checks, all of whose containers were solved in one request; the
// image config reached every check container; the result of each run was
// read, and nothing else.
func TestGatewayAttestsEveryPlatform(t *testing.T) {
	c := newClient("linux/amd64,linux/386", map[string]string{"FIPSGATE_EXCEPTIONS": "exceptions.json"})
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.logged("solve"); !slices.Equal(got[len(got)-2:], []string{"solve checks", "solve attestation"}) || len(c.logged("solve checks")) != 1 {
		t.Errorf("solves: %q", got)
	}
	platforms := []string{"linux/amd64", "linux/386"}
	specs := c.specsByRun()
	if len(specs) != len(c.specs) || len(specs) != 2*len(probe.Runs()) {
		t.Errorf("%d check containers, %d distinct; want one per platform and run", len(c.specs), len(specs))
	}
	var wantReads []string
	for _, p := range platforms {
		// Each platform's image config, and its image.
		workdir := "/srv/" + strings.TrimPrefix(p, "linux/")
		for _, run := range probe.Runs() {
			s, ok := specs[p+" "+run]
			if !ok {
				t.Errorf("%s: no check container for the run %s", p, run)
				continue
			}
			if !slices.Equal(s.Image.Env, []string{"PATH=/usr/bin", "OPENSSL_CONF=/etc/ssl/openssl.cnf"}) || s.Image.User != "app" || s.Image.WorkingDir != workdir ||
				!slices.Equal(s.App, []string{"/usr/bin/app", "--serve"}) || s.TimeoutSeconds != DefaultOptions.TimeoutSeconds {
				t.Errorf("%s %s: spec %+v", p, run, s)
			}
			if len(s.Exceptions) != 1 || s.Exceptions[0].Path != "/opt/tool/*" {
				t.Errorf("%s %s: exceptions %+v", p, run, s.Exceptions)
			}
			if root := c.roots[p+" "+run]; root != "mkdir "+workdir {
				t.Errorf("%s %s: the container's root is %s", p, run, root)
			}
			wantReads = append(wantReads, "read "+probe.ResultFile(p, run))
		}
	}
	var reads []string
	for _, r := range c.logged("read /linux") {
		if !slices.Contains(reads, r) {
			reads = append(reads, r)
		}
	}
	slices.Sort(reads)
	slices.Sort(wantReads)
	if !slices.Equal(reads, wantReads) {
		t.Errorf("results read:\n%s\nwant\n%s", strings.Join(reads, "\n"), strings.Join(wantReads, "\n"))
	}

	if len(res.Refs) != 2 || len(c.warnings) != 0 {
		t.Fatalf("result refs %v, warnings %q", res.Refs, c.warnings)
	}
	for _, p := range platforms {
		atts := res.Attestations[p]
		if len(atts) != 2 {
			t.Errorf("%s: %d attestations, want the predicate and the VSA", p, len(atts))
			continue
		}
		for _, a := range atts {
			if a.Kind != gatewaypb.AttestationKind_InToto || a.Ref == nil || len(a.InToto.Subjects) != 0 {
				t.Errorf("%s: attestation %+v", p, a)
			}
		}
		if atts[0].InToto.PredicateType != predicate.Type || atts[1].InToto.PredicateType != predicate.VSAType {
			t.Fatalf("%s: predicate types %s, %s", p, atts[0].InToto.PredicateType, atts[1].InToto.PredicateType)
		}
		var pred predicate.Predicate
		if err := json.Unmarshal(c.attestation[atts[0].Path], &pred); err != nil {
			t.Fatalf("%s: the attestation at %q: %v", p, atts[0].Path, err)
		}
		if pred.Platform != p || pred.Result != predicate.Passed || pred.Verifier.Version != Version || len(pred.Stages) != 5 ||
			!slices.Equal(pred.Application.Command, []string{"/usr/bin/app", "--serve"}) {
			t.Errorf("%s: predicate %+v", p, pred)
		}
		var vsa predicate.VerificationSummary
		if err := json.Unmarshal(c.attestation[atts[1].Path], &vsa); err != nil {
			t.Fatalf("%s: the VSA at %q: %v", p, atts[1].Path, err)
		}
		if want := predicate.Summarize(pred, ""); !reflect.DeepEqual(vsa, want) {
			t.Errorf("%s: VSA %+v, want %+v", p, vsa, want)
		}
		if !slices.Equal(vsa.VerifiedLevels, []string{predicate.LevelEnforcedApplication}) || vsa.ResourceURI != predicate.UnboundResourceURI {
			t.Errorf("%s: VSA %+v", p, vsa)
		}
	}
	if len(c.attestation) != 4 {
		t.Errorf("attestation files: %d", len(c.attestation))
	}
}

// Without an application (FIPSGATE_CHECK=none), the static and OpenSSL
// runs alone are solved and read, and the platform is attested on them.
func TestGatewayWithoutApplication(t *testing.T) {
	c := newClient("linux/amd64", map[string]string{"FIPSGATE_CHECK": "none", "FIPSGATE_RESOURCE_URI": "pkg:docker/registry.example/base"})
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, s := range c.specs {
		runs = append(runs, s.Run)
	}
	slices.Sort(runs)
	if !slices.Equal(runs, []string{probe.RunOpenSSL, probe.RunStatic}) {
		t.Errorf("runs %q", runs)
	}
	atts := res.Attestations["linux/amd64"]
	if len(atts) != 2 || atts[1].InToto.PredicateType != predicate.VSAType {
		t.Fatalf("attestations %+v", res.Attestations)
	}
	// OpenSSL alone is what the summary says was verified, for the
	// resource the build named.
	var vsa predicate.VerificationSummary
	if err := json.Unmarshal(c.attestation[atts[1].Path], &vsa); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vsa.VerifiedLevels, []string{predicate.LevelEnforcedOpenSSL}) || vsa.ResourceURI != "pkg:docker/registry.example/base" {
		t.Errorf("VSA %+v", vsa)
	}
}

// A result the frontend cannot trust — missing, not a regular file, over
// the limit by its size or by what it yields, malformed, of another run or
// platform — fails the build, naming the platform, the run and the file;
// nothing is attested. With FIPSGATE_MODE=warn the image is exported
// without an attestation and the build warns why.
func TestGatewayRefusesResults(t *testing.T) {
	const platform, run = "linux/386", probe.RunApp
	big := make([]byte, probe.MaxResultSize+1)
	for i := range big {
		big[i] = ' '
	}
	other := func(p, r string) file {
		return encode(passingResult(probe.Spec{Platform: p, Run: r}))
	}
	for _, tc := range []struct {
		name  string
		write func(probe.Spec) (file, bool)
		want  string
	}{
		{"missing", func(probe.Spec) (file, bool) { return file{}, false }, "the probe's result /linux-386/app.json: /linux-386/app.json: file does not exist"},
		{"a directory", func(probe.Spec) (file, bool) { return file{mode: fs.ModeDir}, true }, "is not a regular file"},
		{"a FIFO", func(probe.Spec) (file, bool) { return file{mode: fs.ModeNamedPipe}, true }, "is not a regular file"},
		{"over the limit", func(probe.Spec) (file, bool) { return file{data: []byte("{}"), size: probe.MaxResultSize + 1}, true }, "is 8388609 bytes, over the 8388608 limit"},
		{"over the limit by what it yields", func(probe.Spec) (file, bool) { return file{data: big, size: 2}, true }, "over the 8388608 limit"},
		{"malformed", func(probe.Spec) (file, bool) { return file{data: []byte(`{"version":2,`)}, true }, "result is malformed"},
		{"empty", func(probe.Spec) (file, bool) { return file{}, true }, "result is malformed"},
		{"of another run", func(probe.Spec) (file, bool) { return other(platform, probe.RunStatic), true }, `result is of run "static" of linux/386, want run "app" of linux/386`},
		{"of another platform", func(probe.Spec) (file, bool) { return other("linux/amd64", run), true }, `want run "app" of linux/386`},
		{"of another version", func(s probe.Spec) (file, bool) {
			r := passingResult(s)
			r.Version = 1
			return encode(r), true
		}, "result version 1, want 2"},
		{"a check of unknown status", func(s probe.Spec) (file, bool) {
			r := passingResult(s)
			r.Reports[0].Checks[0].Status = "ok"
			return encode(r), true
		}, `unknown status "ok"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{ModeEnforce, ModeWarn} {
				c := newClient("linux/amd64,linux/386", map[string]string{"FIPSGATE_MODE": mode})
				c.probe = func(s probe.Spec) (file, bool) {
					if s.Platform == platform && s.Run == run {
						return tc.write(s)
					}
					return passingProbe(s)
				}
				res, err := Build(context.Background(), c)
				if got := c.logged("solve attestation"); len(got) != 0 {
					t.Errorf("%s: attestations were made", mode)
				}
				msg := fmt.Sprint(err)
				if mode == ModeWarn {
					if err != nil || res == nil || len(res.Attestations) != 0 || len(c.warnings) != 1 {
						t.Fatalf("warn: result %v, error %v, warnings %q", res, err, c.warnings)
					}
					msg = c.warnings[0]
				} else if err == nil || res != nil {
					t.Fatalf("enforce: result %v, error %v", res, err)
				}
				for _, want := range []string{
					"fipsgate: verification could not complete, so nothing is attested",
					platform + ": " + probe.RunTitle(run) + ": ",
					tc.want,
				} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: %q\nwant %q", mode, msg, want)
					}
				}
			}
		})
	}
}

// A platform whose checks failed fails the build with the explanation, and
// no platform is attested, not even one that passed; FIPSGATE_MODE=warn
// exports the image without attestations and warns with the same
// explanation.
func TestGatewayFailedChecks(t *testing.T) {
	failing := func(s probe.Spec) (file, bool) {
		r := passingResult(s)
		if s.Platform == "linux/386" && s.Run == probe.MutationMACCorrupted {
			c := &r.Reports[0].Checks[0]
			c.Status, c.Detail = probe.Failed, "THE IMAGE DOES NOT ENFORCE FIPS: it exited 0"
		}
		return encode(r), true
	}
	for _, mode := range []string{ModeEnforce, ModeWarn} {
		c := newClient("linux/amd64,linux/386", map[string]string{"FIPSGATE_MODE": mode})
		c.probe = failing
		res, err := Build(context.Background(), c)
		if len(c.logged("solve attestation")) != 0 {
			t.Errorf("%s: attestations were made", mode)
		}
		msg := fmt.Sprint(err)
		if mode == ModeWarn {
			if err != nil || res == nil || len(res.Attestations) != 0 || len(c.warnings) != 1 {
				t.Fatalf("warn: result %v, error %v, warnings %q", res, err, c.warnings)
			}
			msg = c.warnings[0]
			if !strings.Contains(msg, "FIPSGATE_MODE=warn: the image is exported without an attestation") {
				t.Errorf("warning: %s", msg)
			}
		} else if err == nil || res != nil {
			t.Fatalf("enforce: result %v, error %v", res, err)
		}
		if !strings.Contains(msg, "FIPS verification FAILED for linux/386") || strings.Contains(msg, "FAILED for linux/amd64") ||
			!strings.Contains(msg, "[negative/module-mac-corrupted]") || !strings.Contains(msg, "THE IMAGE DOES NOT ENFORCE FIPS") {
			t.Errorf("%s: %s", mode, msg)
		}
	}
}

// A check that did not pass but is not required is a warning of the
// predicate, and does not keep the platform from its attestation.
func TestGatewayWarningsInThePredicate(t *testing.T) {
	c := newClient("linux/amd64", nil)
	c.probe = func(s probe.Spec) (file, bool) {
		r := passingResult(s)
		if s.Run == probe.RunStatic {
			r.Reports[0].Checks = append(r.Reports[0].Checks, probe.Check{Name: "cmvp-validated", Title: "the module is a CMVP-validated release", Status: probe.Warning, Detail: "version 3.5.9 is not validated"})
		}
		return encode(r), true
	}
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	atts := res.Attestations["linux/amd64"]
	if len(atts) != 2 {
		t.Fatalf("attestations %+v", res.Attestations)
	}
	var pred predicate.Predicate
	if err := json.Unmarshal(c.attestation[atts[0].Path], &pred); err != nil {
		t.Fatal(err)
	}
	want := []predicate.Warning{{Stage: "static", Check: "cmvp-validated", Title: "the module is a CMVP-validated release", Detail: "version 3.5.9 is not validated"}}
	if !slices.Equal(pred.Warnings, want) {
		t.Errorf("warnings %+v", pred.Warnings)
	}
}

// When the checks cannot be solved, nothing is attested: the build fails,
// or with FIPSGATE_MODE=warn, warns.
func TestGatewayChecksThatCannotRun(t *testing.T) {
	for _, mode := range []string{ModeEnforce, ModeWarn} {
		c := newClient("linux/amd64", map[string]string{"FIPSGATE_MODE": mode})
		c.checksErr = errors.New("runc: the container could not start")
		res, err := Build(context.Background(), c)
		msg := fmt.Sprint(err)
		if mode == ModeWarn {
			if err != nil || res == nil || len(res.Attestations) != 0 || len(c.warnings) != 1 {
				t.Fatalf("warn: result %v, error %v, warnings %q", res, err, c.warnings)
			}
			msg = c.warnings[0]
		} else if err == nil || res != nil {
			t.Fatalf("enforce: result %v, error %v", res, err)
		}
		if !strings.Contains(msg, "verification could not complete, so nothing is attested: checks: runc: the container could not start") ||
			len(c.logged("solve attestation")) != 0 || len(c.logged("read /linux")) != 0 {
			t.Errorf("%s: %s; log %q", mode, msg, c.log)
		}
	}
}

// FIPSGATE_MODE=off, and subrequests (--print, --call, --check), are the
// upstream builder's alone: no check runs, nothing is attested.
func TestGatewayNoChecks(t *testing.T) {
	for name, opts := range map[string]map[string]string{
		"FIPSGATE_MODE=off": {"build-arg:FIPSGATE_MODE": "off"},
		"--call outline":    {"requestid": "frontend.outline"},
		"--call targets":    {"requestid": "frontend.targets"},
	} {
		c := newClient("linux/amd64", nil)
		for k, v := range opts {
			c.opts[k] = v
		}
		res, err := Build(context.Background(), c)
		if err != nil || res == nil || len(res.Attestations) != 0 || len(c.specs) != 0 || len(c.logged("solve attestation")) != 0 {
			t.Errorf("%s: result %+v, error %v, log %q", name, res, err, c.log)
		}
	}
}

// An invalid option fails the build before any check runs.
func TestGatewayInvalidOption(t *testing.T) {
	c := newClient("linux/amd64", map[string]string{"FIPSGATE_TIMEOUT_SECONDS": "forever"})
	if _, err := Build(context.Background(), c); err == nil || !strings.Contains(err.Error(), "FIPSGATE_TIMEOUT_SECONDS") || len(c.specs) != 0 {
		t.Errorf("error %v, %d check containers", err, len(c.specs))
	}
}

// A gateway that cannot name the frontend image has no probe to run: the
// build fails, saying so, and nothing is attested.
func TestGatewayWithoutFrontendImage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*fakeClient) client.Client
		want   string
	}{
		{"no CurrentFrontend", func(c *fakeClient) client.Client { return struct{ client.Client }{c} }, "cannot name the current frontend"},
		{"no frontend image", func(c *fakeClient) client.Client { return noFrontend{c} }, "must run as a frontend image"},
	} {
		c := newClient("linux/amd64", nil)
		res, err := Build(context.Background(), tc.client(c))
		if err == nil || res != nil || !strings.Contains(err.Error(), tc.want) || len(c.specs) != 0 {
			t.Errorf("%s: result %v, error %v", tc.name, res, err)
		}
	}
}

// noFrontend is a gateway run without a frontend image (the frontend
// built into BuildKit, or a local one).
type noFrontend struct{ client.Client }

func (noFrontend) CurrentFrontend() (*llb.State, error) { return nil, nil }

// A platform the builder may run only emulated is checked with the
// frontend image's probe of that platform, in containers declared for it,
// from the index the builder resolved; the builder's own platform with the
// builder's probe, without resolving anything. Where the frontend image has
// no probe for it, the builder's probe checks it, and the build warns.
func TestGatewayProbesOfTheirOwn(t *testing.T) {
	builder := platforms.Format(platforms.Normalize(platforms.DefaultSpec()))
	foreign, unpublished := "linux/arm64", "linux/mips64le"
	if strings.HasPrefix(builder, "linux/arm64") {
		foreign = "linux/amd64"
	}
	pinned := "fipsgate.invalid/fipsgate@sha256:" + strings.Repeat("0", 64)
	config := func(id string) ocispecs.Image {
		return ocispecs.Image{Platform: platforms.MustParse(id)}
	}
	index := map[string]ocispecs.Image{builder: config(builder), foreign: config(foreign)}
	for _, tc := range []struct {
		name     string
		frontend string
		configs  map[string]ocispecs.Image
		// whether each platform gets a probe of its own, and the warnings
		own      map[string]bool
		warnings []string
	}{
		{"an index of the builder's and the foreign platform", pinned, index,
			map[string]bool{builder: false, foreign: true, unpublished: false},
			[]string{unpublished + " is checked with the builder's own probe, since the frontend image " + pinned + " has no probe for it: " + pinned + ": no match for platform",
				"its programs then run only if the builder's host registered an emulator for them with binfmt_misc"}},
		{"a frontend image of one platform", pinned, map[string]ocispecs.Image{builder: config(builder)},
			map[string]bool{builder: false, foreign: false, unpublished: false},
			[]string{foreign + " is checked with the builder's own probe, since the frontend image " + pinned + " has no probe for it (only for " + builder + ")"}},
		{"a frontend image not pinned to a digest", "fipsgate.invalid/fipsgate:test", index,
			map[string]bool{builder: false, foreign: false, unpublished: false},
			[]string{foreign + " is checked with the builder's own probe, since the frontend image fipsgate.invalid/fipsgate:test is not pinned to a digest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(strings.Join([]string{builder, foreign, unpublished}, ","), nil)
			c.frontend, c.frontendConfigs = tc.frontend, tc.configs
			res, err := Build(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Attestations) != 3 {
				t.Errorf("attested: %v", res.Attestations)
			}
			resolves := c.logged("resolve ")
			for id, own := range tc.own {
				want := "docker-image://" + tc.frontend + " on " + builder
				if own {
					want = "docker-image://" + tc.frontend + " on " + id
				}
				for _, run := range probe.Runs() {
					if got := c.probes[id+" "+run]; got != want {
						t.Errorf("%s %s: the probe is %s, want %s", id, run, got, want)
					}
				}
				if own && !slices.Contains(resolves, "resolve "+pinned+" for "+id) {
					t.Errorf("%s: its probe was not resolved: %q", id, resolves)
				}
			}
			if slices.ContainsFunc(resolves, func(r string) bool { return strings.HasSuffix(r, " for "+builder) }) {
				t.Errorf("the builder's own platform was resolved: %q", resolves)
			}
			if tc.warnings == nil && len(resolves) != 0 {
				t.Errorf("the frontend image was resolved: %q", resolves)
			}
			warnings := strings.Join(c.warnings, "\n")
			for _, w := range tc.warnings {
				if !strings.Contains(warnings, w) {
					t.Errorf("the warnings do not say %q:\n%s", w, warnings)
				}
			}
			if tc.warnings == nil && len(c.warnings) != 0 {
				t.Errorf("warnings %q", c.warnings)
			}
		})
	}
}
