//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/attestation"
	"github.com/fipsgate/fipsgate/predicate"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// runVerify runs `fipsgate verify` and returns its exit status, stdout and
// the JSON result when --json was given.
func runVerify(t *testing.T, bin string, args ...string) (int, string, *attestation.Result) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"verify"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	out := stdout.String() + stderr.String()
	var res *attestation.Result
	for _, a := range args {
		if a == "--json" && stdout.Len() > 0 {
			res = &attestation.Result{}
			if err := json.Unmarshal(stdout.Bytes(), res); err != nil {
				t.Fatalf("verify --json: %v\n%s", err, out)
			}
		}
	}
	return code, out, res
}

func pushBlob(t *testing.T, repo string, dt []byte) ocispecs.Descriptor {
	t.Helper()
	d := digest.FromBytes(dt)
	resp, err := http.Post(fmt.Sprintf("http://%s/v2/%s/blobs/uploads/", registry, repo), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("starting a blob upload: %s", resp.Status)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + registry + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+d.String(), bytes.NewReader(dt))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("uploading blob %s: %s", d, resp.Status)
	}
	return ocispecs.Descriptor{Digest: d, Size: int64(len(dt))}
}

func pushManifest(t *testing.T, repo, ref, mediaType string, v any) ocispecs.Descriptor {
	t.Helper()
	dt, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if ref == "" {
		ref = digest.FromBytes(dt).String()
	}
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, ref), bytes.NewReader(dt))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("pushing manifest %s: %s %s", ref, resp.Status, body)
	}
	return ocispecs.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(dt), Size: int64(len(dt))}
}

// craft copies the attested image at repo@dgst under tag, changing the
// fipsgate statement of each platform with edit (nil keeps it) and
// dropping the attestations of the platforms in drop.
func craft(t *testing.T, repo, dgst, tag string, edit func(platform string, st map[string]any), drop ...string) string {
	t.Helper()
	_, body := fetchManifest(t, repo+"@"+dgst)
	var idx ocispecs.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	platformOf := map[string]string{}
	for _, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.OS != "unknown" {
			platformOf[d.Digest.String()] = d.Platform.OS + "/" + d.Platform.Architecture
		}
	}
	var out []ocispecs.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			out = append(out, d)
			continue
		}
		platform := platformOf[d.Annotations["vnd.docker.reference.digest"]]
		if slices.Contains(drop, platform) {
			continue
		}
		if edit != nil {
			_, mbody := fetchManifest(t, repo+"@"+d.Digest.String())
			var m ocispecs.Manifest
			if err := json.Unmarshal(mbody, &m); err != nil {
				t.Fatal(err)
			}
			for i, l := range m.Layers {
				if l.Annotations["in-toto.io/predicate-type"] != predicate.Type {
					continue
				}
				var st map[string]any
				if err := json.Unmarshal(fetchBlob(t, repo, l.Digest.String()), &st); err != nil {
					t.Fatal(err)
				}
				edit(platform, st)
				dt, _ := json.Marshal(st)
				nd := pushBlob(t, repo, dt)
				m.Layers[i].Digest, m.Layers[i].Size = nd.Digest, nd.Size
			}
			md := pushManifest(t, repo, "", ocispecs.MediaTypeImageManifest, m)
			d.Digest, d.Size = md.Digest, md.Size
		}
		out = append(out, d)
	}
	idx.Manifests = out
	return pushManifest(t, repo, tag, ocispecs.MediaTypeImageIndex, idx).Digest.String()
}

// TestVerifyCLI is the consumer side against the dev registry, OCI layouts
// and OCI tars: an attested image passes, and each way an image can lack a
// valid attestation fails with its reason.
func TestVerifyCLI(t *testing.T) {
	bin := fipsgateBinary(t)
	dir := testdata(t, "verify", "base-image")
	b, r := verifyBuild(t, buildxCLI{}, dir, map[string]string{"BASE": fipsBase()}, "linux/amd64", "linux/386")
	mustSucceed(t, "the attested two-platform build", r)
	repo := repoOf(b.image)
	ref := registry + "/" + repo

	t.Run("attested", func(t *testing.T) {
		code, out, res := runVerify(t, bin, "--json", ref+"@"+r.digest)
		if code != 0 || res.Status != attestation.Pass || len(res.Platforms) != 2 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		code, out, _ = runVerify(t, bin, "--show", b.image)
		if code != 0 || !strings.Contains(out, "linux/386      PASS") || !strings.Contains(out, "negative/module-corrupted") {
			t.Errorf("exit %d, want a PASS line per platform and the predicate:\n%s", code, out)
		}
	})
	t.Run("policy", func(t *testing.T) {
		for _, tc := range []struct {
			args   []string
			code   int
			reason string
		}{
			{[]string{"--require-app"}, 1, "an application check is required"},
			{[]string{"--require-validated"}, 1, "a CMVP-validated module is required"},
			{[]string{"--min-version", "2.1"}, 1, "older than the required 2.1"},
			{[]string{"--platform", "linux/386"}, 0, ""},
			{[]string{"--platform", "linux/arm64"}, 1, "no manifest for this platform"},
		} {
			code, out, _ := runVerify(t, bin, append(tc.args, ref+"@"+r.digest)...)
			if code != tc.code || !strings.Contains(out, tc.reason) {
				t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.reason, out)
			}
		}
	})
	t.Run("built without fipsgate", func(t *testing.T) {
		upstream := b
		upstream.dockerfile = withSyntax(t, filepath.Join(dir, "Dockerfile"), "")
		upstream.image = b.image + "-upstream"
		u := buildxCLI{}.run(t, upstream)
		mustSucceed(t, "the built-in frontend build", u)
		code, out, _ := runVerify(t, bin, upstream.image)
		if code != 1 || !strings.Contains(out, "no fipsgate attestation") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("attestation says FAILED", func(t *testing.T) {
		d := craft(t, repo, r.digest, "crafted-failed-"+uniqueTag, func(_ string, st map[string]any) {
			st["predicate"].(map[string]any)["result"] = "FAILED"
		})
		code, out, _ := runVerify(t, bin, ref+"@"+d)
		if code != 1 || !strings.Contains(out, `result is "FAILED"`) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("subject is another manifest", func(t *testing.T) {
		img := readPushedImage(t, repo, r.digest)
		other := strings.TrimPrefix(img.manifests["linux/386"], "sha256:")
		d := craft(t, repo, r.digest, "crafted-subject-"+uniqueTag, func(platform string, st map[string]any) {
			if platform == "linux/amd64" {
				st["subject"] = []any{map[string]any{"name": "other", "digest": map[string]any{"sha256": other}}}
			}
		})
		code, out, _ := runVerify(t, bin, ref+"@"+d)
		if code != 1 || !strings.Contains(out, "subject is not this platform's manifest") || !strings.Contains(out, "linux/386      PASS") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("one platform unattested", func(t *testing.T) {
		d := craft(t, repo, r.digest, "crafted-drop-"+uniqueTag, nil, "linux/386")
		code, out, res := runVerify(t, bin, "--json", ref+"@"+d)
		if code != 1 || res.Platforms[0].Platform != "linux/386" || res.Platforms[0].Status != attestation.Fail || res.Platforms[1].Status != attestation.Pass {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("malformed statement", func(t *testing.T) {
		d := craft(t, repo, r.digest, "crafted-malformed-"+uniqueTag, func(_ string, st map[string]any) {
			st["predicate"] = "not an object"
		})
		code, out, _ := runVerify(t, bin, ref+"@"+d)
		if code != 2 || !strings.Contains(out, "malformed") {
			t.Errorf("exit %d, want 2 (could not verify):\n%s", code, out)
		}
	})
	t.Run("OCI layout and tar", func(t *testing.T) {
		out := t.TempDir()
		for _, o := range []struct{ output, path string }{
			{"type=oci,tar=false,dest=" + filepath.Join(out, "layout"), filepath.Join(out, "layout")},
			{"type=oci,dest=" + filepath.Join(out, "image.tar"), filepath.Join(out, "image.tar")},
		} {
			args := []string{"build", "--progress=plain", "--frontend=dockerfile.v0",
				"--local", "context=" + dir, "--local", "dockerfile=" + filepath.Dir(b.dockerfile),
				"--opt", "platform=linux/amd64,linux/386", "--opt", "build-arg:BASE=" + fipsBase(),
				"--output", o.output}
			mustSucceed(t, "the OCI export", execute(t, "", "buildctl", args...))
			code, text, _ := runVerify(t, bin, o.path)
			if code != 0 || strings.Count(text, " PASS ") != 2 {
				t.Errorf("%s: exit %d:\n%s", o.path, code, text)
			}
		}
		// An entry of index.json named by digest is the image verified.
		var idx ocispecs.Index
		if dt, err := os.ReadFile(filepath.Join(out, "layout", "index.json")); err != nil || json.Unmarshal(dt, &idx) != nil || len(idx.Manifests) != 1 {
			t.Fatalf("the layout's index.json: %v", err)
		}
		pinned := filepath.Join(out, "layout") + "@" + idx.Manifests[0].Digest.String()
		code, text, res := runVerify(t, bin, "--json", pinned)
		if code != 0 || res.Digest != idx.Manifests[0].Digest.String() || res.Pinned != pinned {
			t.Errorf("%s: exit %d, want 0 bound to that entry:\n%s", pinned, code, text)
		}
		code, text, _ = runVerify(t, bin, filepath.Join(out, "layout")+"@sha256:"+strings.Repeat("0", 64))
		if code != 2 || !strings.Contains(text, "index.json has no entry") {
			t.Errorf("a digest the layout does not hold: exit %d, want 2:\n%s", code, text)
		}
		// A tampered blob cannot be verified.
		blobs, _ := filepath.Glob(filepath.Join(out, "layout", "blobs", "sha256", "*"))
		for _, p := range blobs {
			dt, _ := os.ReadFile(p)
			if bytes.Contains(dt, []byte(predicate.Type)) && bytes.Contains(dt, []byte(`"_type"`)) {
				if err := os.WriteFile(p, bytes.Replace(dt, []byte("PASSED"), []byte("PASSEd"), 1), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		code, text, _ = runVerify(t, bin, filepath.Join(out, "layout"))
		if code != 2 || !strings.Contains(text, "does not match its digest") {
			t.Errorf("a tampered layout: exit %d, want 2:\n%s", code, text)
		}
	})
	// The docker exporter keeps the attestation too (one platform: it exports
	// no more), but the attestation makes the image an index, and for an
	// index BuildKit writes an OCI layout with no manifest.json: the tar that
	// `--load` streams to Docker, which its classic image store cannot load
	// (README, "Which outputs keep the attestation").
	t.Run("docker exporter tar", func(t *testing.T) {
		tarPath := filepath.Join(t.TempDir(), "docker.tar")
		mustSucceed(t, "the docker export", execute(t, "", "buildctl", "build", "--progress=plain", "--frontend=dockerfile.v0",
			"--local", "context="+dir, "--local", "dockerfile="+filepath.Dir(b.dockerfile),
			"--opt", "platform=linux/amd64", "--opt", "build-arg:BASE="+fipsBase(),
			"--output", "type=docker,name="+b.image+"-docker,dest="+tarPath))
		code, text, _ := runVerify(t, bin, tarPath)
		if code != 0 || !strings.Contains(text, "linux/amd64    PASS") {
			t.Errorf("exit %d:\n%s", code, text)
		}
		names, err := exec.Command("tar", "-tf", tarPath).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range strings.Fields(string(names)) {
			if n == "manifest.json" {
				t.Errorf("the docker exporter wrote manifest.json for an attested image; the README's table of outputs is out of date")
			}
		}
	})
	t.Run("a third-party OCI client finds the attestation", func(t *testing.T) {
		regctl := func(args ...string) []byte {
			t.Helper()
			out, err := exec.Command("regctl", append([]string{"--host", "reg=" + registry + ",tls=disabled"}, args...)...).Output()
			if err != nil {
				t.Fatalf("regctl %v: %v", args, err)
			}
			return out
		}
		var idx ocispecs.Index
		if err := json.Unmarshal(regctl("manifest", "get", "--format", "raw-body", ref+"@"+r.digest), &idx); err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, d := range idx.Manifests {
			if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
				continue
			}
			var m ocispecs.Manifest
			if err := json.Unmarshal(regctl("manifest", "get", "--format", "raw-body", ref+"@"+d.Digest.String()), &m); err != nil {
				t.Fatal(err)
			}
			for _, l := range m.Layers {
				if l.Annotations["in-toto.io/predicate-type"] == predicate.Type {
					var st struct {
						PredicateType string `json:"predicateType"`
					}
					if err := json.Unmarshal(regctl("blob", "get", ref, l.Digest.String()), &st); err != nil || st.PredicateType != predicate.Type {
						t.Errorf("regctl blob get: %v %+v", err, st)
					}
					found++
				}
			}
		}
		if found != 2 {
			t.Errorf("regctl found %d fipsgate statements, want 2", found)
		}
	})
}
