//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// multiNodeBuilder creates a buildx builder of two nodes, the dev buildkitd
// and the second one (remote driver, --append), each building one platform,
// and removes it when the test ends.
func multiNodeBuilder(t *testing.T, platform1, platform2 string) string {
	t.Helper()
	name := "fipsgate-e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + uniqueTag
	for _, args := range [][]string{
		{"buildx", "create", "--name", name, "--driver", "remote", "--node", "node1", "--platform", platform1, buildkitHost},
		{"buildx", "create", "--name", name, "--append", "--driver", "remote", "--node", "node2", "--platform", platform2, buildkitNode2},
		{"buildx", "inspect", "--bootstrap", name},
	} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "buildx", "rm", name).CombinedOutput(); err != nil {
			t.Errorf("docker buildx rm %s: %v\n%s", name, err, out)
		}
	})
	return name
}

// builtOn lists the platforms of the builds a buildkitd recorded (its
// history) with the build-arg E2E_RUN=run.
func builtOn(t *testing.T, addr, run string) []string {
	t.Helper()
	out, err := exec.Command("buildctl", "--addr", addr, "debug", "histories", "--format", "{{json .}}").Output()
	if err != nil {
		t.Fatalf("buildctl --addr %s debug histories: %v", addr, err)
	}
	var platforms []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev struct {
			Record struct {
				FrontendAttrs map[string]string
			}
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("a history record of %s: %v\n%s", addr, err, line)
		}
		if ev.Record.FrontendAttrs["build-arg:E2E_RUN"] == run {
			platforms = append(platforms, ev.Record.FrontendAttrs["platform"])
		}
	}
	return platforms
}

// TestMultiNodeBuilder builds linux/amd64 and linux/arm64 with a builder of
// two nodes, one platform each, through fipsgate, and pushes: each platform
// is built and verified on its own node (linux/arm64 under emulation, by
// its own probe), the index buildx merges carries both attestations, and
// fipsgate verify accepts it for both platforms. An index that lost a
// platform (a merge of per-platform pushes, one of which failed) still
// passes fipsgate verify without --platform; the gate that names every
// expected platform refuses it.
func TestMultiNodeBuilder(t *testing.T) {
	builder := multiNodeBuilder(t, "linux/amd64", "linux/arm64")
	run := "multinode-" + uniqueTag
	b := emulationBuild(t, "hasher", map[string]string{"E2E_RUN": run}, "linux/amd64", "linux/arm64")
	b.builder = builder
	// Every check runs again, on the node that builds its platform.
	b.noCache = true
	start := time.Now()
	r := buildxCLI{}.run(t, b)
	mustSucceed(t, "the two-node build", r)
	t.Logf("linux/amd64 on node1 + linux/arm64 on node2: %s", time.Since(start).Round(100*time.Millisecond))
	for addr, want := range map[string]string{buildkitHost: "linux/amd64", buildkitNode2: "linux/arm64"} {
		if got := builtOn(t, addr, run); len(got) != 1 || got[0] != want {
			t.Errorf("%s built %q, want %s alone", addr, got, want)
		}
	}
	checkPlatformsVerified(t, b, r, map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"})

	// The gate: an index that lost linux/arm64.
	lost := fmt.Sprintf("%s/%s:lost-arm64-%s", registry, repoOf(b.image), uniqueTag)
	src := fmt.Sprintf("%s/%s@%s", registry, repoOf(b.image), r.digest)
	if out, err := exec.Command("docker", "buildx", "imagetools", "create", "--builder", builder, "--platform", "linux/amd64", "-t", lost, src).CombinedOutput(); err != nil {
		t.Fatalf("imagetools create: %v\n%s", err, out)
	}
	lostRef := fmt.Sprintf("%s/%s@%s", registry, repoOf(b.image), headDigest(t, lost))
	bin := fipsgateBinary(t)
	if code, out, _ := runVerify(t, bin, lostRef); code != 0 {
		t.Errorf("fipsgate verify %s (every platform it has): exit %d, want 0\n%s", lostRef, code, out)
	}
	code, out, _ := runVerify(t, bin, "--platform", "linux/amd64", "--platform", "linux/arm64", lostRef)
	if code != 1 || !strings.Contains(out, "linux/arm64") || !strings.Contains(out, "the image has no manifest for this platform") {
		t.Errorf("fipsgate verify --platform linux/amd64 --platform linux/arm64 %s: exit %d, want 1 naming the missing platform\n%s", lostRef, code, out)
	}
}

// TestMultiNodePartialFailure builds an image that passes on linux/amd64
// (node1) and fails on linux/386 (node2, not FIPS). The build fails and no
// tag is pushed. docker buildx build exports each node's result as soon as
// it is ready, so node1 may already have pushed its image by digest (the
// test says whether it did; it depends on which node finishes first). With
// docker buildx bake --jobs=defer-output no node exports before every
// node's result, fipsgate's verdict included, is in: nothing is pushed.
func TestMultiNodePartialFailure(t *testing.T) {
	builder := multiNodeBuilder(t, "linux/amd64", "linux/386")

	t.Run("build", func(t *testing.T) {
		b := emulationBuild(t, "one-fails", nil, "linux/amd64", "linux/386")
		b.builder = builder
		b.image = fmt.Sprintf("%s/fipsgate-e2e/partial-build-%s:one-fails", registry, uniqueTag)
		r := buildxCLI{}.run(t, b)
		mustFailSaying(t, "a two-node build of which one platform fails", r, "FIPS verification FAILED for linux/386")
		if tagExists(t, repoOf(b.image), "one-fails") {
			t.Errorf("the failed build tagged %s", b.image)
		}
		t.Logf("pushed by digest before linux/386 failed: %v", repositoryExists(t, repoOf(b.image)))
	})

	t.Run("bake --jobs=defer-output", func(t *testing.T) {
		b := emulationBuild(t, "one-fails", nil, "linux/amd64", "linux/386")
		repo := fmt.Sprintf("fipsgate-e2e/partial-bake-%s", uniqueTag)
		def := map[string]any{"target": map[string]any{"app": map[string]any{
			"context":    b.contextDir,
			"dockerfile": b.dockerfile,
			"target":     b.target,
			"platforms":  b.platforms,
			"args":       b.buildArgs,
			"output":     []string{"type=image,name=" + registry + "/" + repo + ":one-fails,push=true,oci-mediatypes=true"},
			"attest":     []map[string]any{{"type": "provenance", "disabled": true}, {"type": "sbom", "disabled": true}},
		}}}
		dt, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		bakeFile := filepath.Join(t.TempDir(), "docker-bake.json")
		if err := os.WriteFile(bakeFile, dt, 0o644); err != nil {
			t.Fatal(err)
		}
		r := execute(t, "", "docker", "buildx", "bake", "--builder", builder, "--progress=plain", "--jobs=defer-output",
			"--allow=fs.read="+b.contextDir, "--allow=fs.read="+filepath.Dir(b.dockerfile), "-f", bakeFile, "app")
		mustFailSaying(t, "a two-node bake of which one platform fails", r, "FIPS verification FAILED for linux/386")
		if strings.Contains(r.output, "pushing manifest for") || repositoryExists(t, repo) {
			t.Errorf("with --jobs=defer-output a node pushed before linux/386 failed:\n%s", r.output)
		}
	})
}

// tagExists tells whether the dev registry has repo:tag.
func tagExists(t *testing.T, repo, tag string) bool {
	t.Helper()
	resp, err := http.Head(fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// repositoryExists tells whether anything was pushed to repo, tagged or
// not: whether the registry's catalog lists it.
func repositoryExists(t *testing.T, repo string) bool {
	t.Helper()
	next := "/v2/_catalog?n=1000"
	for next != "" {
		resp, err := http.Get("http://" + registry + next)
		if err != nil {
			t.Fatal(err)
		}
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		err = json.NewDecoder(resp.Body).Decode(&cat)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", next, resp.Status, err)
		}
		for _, r := range cat.Repositories {
			if r == repo {
				return true
			}
		}
		// Link: </v2/_catalog?last=…&n=1000>; rel="next"
		next = ""
		if l := resp.Header.Get("Link"); strings.Contains(l, `rel="next"`) {
			if i, j := strings.Index(l, "<"), strings.Index(l, ">"); i >= 0 && j > i {
				next = l[i+1 : j]
			}
		}
	}
	return false
}
