//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// uniqueTag keeps runs from reading each other's pushes.
var uniqueTag = fmt.Sprintf("t%d", time.Now().UnixNano())

func testdata(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustBeFipsgate fails unless the build went through the fipsgate image: a
// `# syntax=` line that BuildKit ignored would make every comparison trivial.
func mustBeFipsgate(t *testing.T, r result) {
	t.Helper()
	if !strings.Contains(r.output, frontendImage) {
		t.Fatalf("the build output never mentions the frontend image %s; was the # syntax= line honoured?\n%s", frontendImage, r.output)
	}
}

func mustSucceed(t *testing.T, what string, r result) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s failed: %v\n%s", what, r.err, r.output)
	}
}

// featuresBuild is a build of testdata/features with every option it needs.
// The image is not a FIPS one: FIPSGATE_MODE=warn has fipsgate verify it,
// fail, and export it unchanged, without an attestation.
func featuresBuild(t *testing.T) build {
	return build{
		contextDir: testdata(t, "features"),
		target:     "final",
		buildArgs:  map[string]string{"FIPSGATE_MODE": "warn"},
		secrets:    map[string]string{"token": testdata(t, "features", "token")},
		ssh:        map[string]string{"default": sshKey(t)},
		namedContexts: map[string]string{
			"base":  "docker-image://" + registry + "/fipsgate/debian:trixie",
			"extra": testdata(t, "features", "extra"),
		},
	}
}

// sshKey makes a throw-away key for --ssh (BuildKit serves a key file
// through its own agent).
func sshKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return key
}

// TestImageDigestsMatchUpstream builds the same inputs through fipsgate and
// through the built-in dockerfile.v0 frontend and requires the same image
// (index) digest: the wrapper must not change a byte of what upstream builds.
func TestImageDigestsMatchUpstream(t *testing.T) {
	features := testdata(t, "features", "Dockerfile")
	cases := []struct {
		name      string
		platforms []string
		want      []string // platforms of the pushed image
	}{
		{name: "one platform", platforms: []string{"linux/amd64"}, want: []string{"(single manifest)"}},
		{name: "two platforms", platforms: []string{"linux/amd64", "linux/386"}, want: []string{"linux/amd64", "linux/386"}},
	}
	for _, c := range clis {
		for _, tc := range cases {
			t.Run(c.name()+"/"+tc.name, func(t *testing.T) {
				b := featuresBuild(t)
				b.platforms = tc.platforms
				b.buildArgs["GREETING"] = "hello from " + c.name()
				repo := "fipsgate-e2e/features"
				suffix := strings.NewReplacer(" ", "-").Replace(c.name() + "-" + tc.name)

				viaFipsgate := b
				viaFipsgate.dockerfile = withSyntax(t, features, frontendImage)
				viaFipsgate.image = fmt.Sprintf("%s/%s:fipsgate-%s-%s", registry, repo, suffix, uniqueTag)
				got := c.run(t, viaFipsgate)
				mustSucceed(t, "the build through fipsgate", got)
				mustBeFipsgate(t, got)

				upstream := b
				upstream.dockerfile = withSyntax(t, features, "")
				upstream.image = fmt.Sprintf("%s/%s:upstream-%s-%s", registry, repo, suffix, uniqueTag)
				want := c.run(t, upstream)
				mustSucceed(t, "the build through the built-in frontend", want)

				if got.digest == "" || got.digest != want.digest {
					t.Fatalf("image digest through fipsgate %q, through the built-in frontend %q: they must be equal", got.digest, want.digest)
				}
				if p := imagePlatforms(t, repo, got.digest); !slices.Equal(p, tc.want) {
					t.Fatalf("pushed image has platforms %v, want %v", p, tc.want)
				}
				if strings.Contains(got.output, "must not be built") {
					t.Fatalf("--target final built the unused stage:\n%s", got.output)
				}
			})
		}
	}
}

var errorLine = regexp.MustCompile(`(?m)^(?:error|ERROR): .*$`)

// TestSyntaxErrorMatchesUpstream requires the error a user sees for a broken
// Dockerfile, message and line, to be upstream's.
func TestSyntaxErrorMatchesUpstream(t *testing.T) {
	src := testdata(t, "syntax-error", "Dockerfile")
	for _, c := range clis {
		t.Run(c.name(), func(t *testing.T) {
			b := build{contextDir: testdata(t, "syntax-error")}
			viaFipsgate, upstream := b, b
			viaFipsgate.dockerfile = withSyntax(t, src, frontendImage)
			upstream.dockerfile = withSyntax(t, src, "")
			got, want := c.run(t, viaFipsgate), c.run(t, upstream)
			if got.err == nil || want.err == nil {
				t.Fatalf("both builds must fail; through fipsgate: %v, built-in: %v", got.err, want.err)
			}
			mustBeFipsgate(t, got)
			gotErr, wantErr := errorLine.FindString(got.output), errorLine.FindString(want.output)
			if wantErr == "" || !strings.Contains(wantErr, "line 5") {
				t.Fatalf("the built-in frontend's error does not name line 5 (the misspelt instruction):\n%s", want.output)
			}
			if gotErr != wantErr {
				t.Fatalf("error through fipsgate:\n  %s\nbuilt-in frontend:\n  %s", gotErr, wantErr)
			}
		})
	}
}

// TestSubrequestsMatchUpstream checks that --call (outline, targets, check:
// the subrequests docker buildx build sends) answer as upstream does.
func TestSubrequestsMatchUpstream(t *testing.T) {
	for _, tc := range []struct{ call, dir, expect string }{
		{call: "outline", dir: "features", expect: "GREETING"},
		{call: "targets", dir: "features", expect: "unused"},
		{call: "check", dir: "lint", expect: "FromAsCasing"},
	} {
		t.Run(tc.call, func(t *testing.T) {
			src := testdata(t, tc.dir, "Dockerfile")
			b := build{contextDir: testdata(t, tc.dir)}
			if tc.dir == "features" {
				b = featuresBuild(t)
			}
			b.call = tc.call
			viaFipsgate, upstream := b, b
			viaFipsgate.dockerfile = withSyntax(t, src, frontendImage)
			upstream.dockerfile = withSyntax(t, src, "")
			got, want := buildxCLI{}.run(t, viaFipsgate), buildxCLI{}.run(t, upstream)
			// The two Dockerfiles differ only in their path and first line,
			// which --call=check quotes.
			got.stdout = strings.NewReplacer(viaFipsgate.dockerfile, "Dockerfile", firstLine(frontendImage), "").Replace(got.stdout)
			want.stdout = strings.NewReplacer(upstream.dockerfile, "Dockerfile", firstLine(""), "").Replace(want.stdout)
			mustBeFipsgate(t, got)
			if (got.err == nil) != (want.err == nil) {
				t.Fatalf("--call=%s: through fipsgate err=%v, built-in err=%v\n%s\n---\n%s", tc.call, got.err, want.err, got.output, want.output)
			}
			if !strings.Contains(want.stdout, tc.expect) {
				t.Fatalf("--call=%s through the built-in frontend does not mention %q:\n%s", tc.call, tc.expect, want.output)
			}
			if got.stdout != want.stdout {
				t.Fatalf("--call=%s through fipsgate:\n%s\nbuilt-in frontend:\n%s", tc.call, got.stdout, want.stdout)
			}
		})
	}
}
