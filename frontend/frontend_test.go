package frontend

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

// TestReadOptionsSource: an error about a value the Dockerfile set carries
// the Dockerfile and the lines of that ARG, which clients print with the
// error; one about a build-arg has no source.
func TestReadOptionsSource(t *testing.T) {
	const dockerfile = "# syntax=fipsgate\nARG BASE=debian\nARG FIPSGATE_MODE=yes \\\n    FIPSGATE_STRICT=true\nARG FIPSGATE_TIMEOUT=5\nFROM ${BASE}\nARG FIPSGATE_NOT_GLOBAL=x\n"
	for _, tc := range []struct {
		name       string
		dockerfile string
		buildArgs  map[string]string
		wantErr    string
		wantLines  []int // the source's lines; nil: no source
	}{
		{
			name:       "invalid value from an ARG",
			dockerfile: "ARG FIPSGATE_MODE=yes\nFROM scratch\n",
			wantErr:    `the Dockerfile's ARG FIPSGATE_MODE="yes": invalid value; accepted: enforce, warn or off`,
			wantLines:  []int{1},
		},
		{
			name:       "an ARG over two lines",
			dockerfile: dockerfile,
			buildArgs:  map[string]string{"FIPSGATE_TIMEOUT_SECONDS": "5"},
			wantErr:    `the Dockerfile's ARG FIPSGATE_MODE="yes": invalid value`,
			wantLines:  []int{3, 4},
		},
		{
			name:       "unknown name from an ARG",
			dockerfile: strings.Replace(dockerfile, "FIPSGATE_MODE=yes", "FIPSGATE_MODE=warn", 1),
			wantErr:    "the Dockerfile's ARG FIPSGATE_TIMEOUT: unknown fipsgate option (did you mean FIPSGATE_TIMEOUT_SECONDS?)",
			wantLines:  []int{5},
		},
		{
			name:       "a build-arg wins and has no line",
			dockerfile: dockerfile,
			buildArgs:  map[string]string{"FIPSGATE_MODE": "strict"},
			wantErr:    `--build-arg FIPSGATE_MODE="strict": invalid value; accepted: enforce, warn or off`,
		},
		{
			name:       "an ARG without a default",
			dockerfile: "ARG FIPSGATE_MODE\nFROM scratch\n",
			buildArgs:  map[string]string{"FIPSGATE_MODE": "strict"},
			wantErr:    `--build-arg FIPSGATE_MODE="strict": invalid value`,
		},
		{
			name:       "an ARG of a stage is not an option",
			dockerfile: "FROM scratch\nARG FIPSGATE_MODE=yes\n",
		},
		{
			name:       "a Dockerfile upstream rejects",
			dockerfile: "ARG FIPSGATE_MODE=yes\nFORM scratch\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte(tc.dockerfile))
			_, err := readOptions(sm, tc.buildArgs)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			var lines []int
			for _, s := range errdefs.Sources(err) {
				if s.Info.Filename != "Dockerfile" || string(s.Info.Data) != tc.dockerfile {
					t.Errorf("the source is %q, %q; want the Dockerfile", s.Info.Filename, s.Info.Data)
				}
				for _, r := range s.Ranges {
					lines = append(lines, int(r.Start.Line))
				}
			}
			if !reflect.DeepEqual(lines, tc.wantLines) {
				t.Errorf("the error's source lines are %v, want %v", lines, tc.wantLines)
			}
		})
	}
}

// optsClient is a gateway client that answers BuildOpts alone, all that
// dockerui.NewClient reads.
type optsClient struct {
	client.Client
	opts map[string]string
}

func (c optsClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{Opts: c.opts, LLBCaps: pb.Caps.CapSet(pb.Caps.All())}
}

// The checks run again with --no-cache, and with --no-cache-filter naming
// them as the README documents, whatever else the filter names; a filter
// of the image's stages alone leaves them cached.
func TestChecksNoCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		want bool
	}{
		{"no option", nil, false},
		{"--no-cache", map[string]string{"no-cache": ""}, true},
		{"--no-cache-filter fipsgate", map[string]string{"no-cache": "fipsgate"}, true},
		{"--no-cache-filter build,FIPSGATE", map[string]string{"no-cache": "build,FIPSGATE"}, true},
		{"--no-cache-filter build", map[string]string{"no-cache": "build"}, false},
	} {
		bc, err := dockerui.NewClient(optsClient{opts: tc.opts})
		if err != nil {
			t.Fatal(err)
		}
		if got := checksNoCache(bc); got != tc.want {
			t.Errorf("%s: checks ignore the cache: %v, want %v", tc.name, got, tc.want)
		}
	}
}
