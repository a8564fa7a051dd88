//go:build e2e

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/attestation"
	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	Jobs map[string]struct {
		Steps []workflowStep `yaml:"steps"`
	} `yaml:"jobs"`
}

type workflowStep struct {
	ID   string         `yaml:"id"`
	Name string         `yaml:"name"`
	Run  string         `yaml:"run"`
	With map[string]any `yaml:"with"`
}

// step returns the one step of the workflow with this id or name.
func (w workflow) step(t *testing.T, idOrName string) workflowStep {
	t.Helper()
	var found []workflowStep
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if s.ID == idOrName || s.Name == idOrName {
				found = append(found, s)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("the workflow has %d steps with id or name %q, want 1", len(found), idOrName)
	}
	return found[0]
}

// runStep runs a step's run: script as GitHub's default shell for Linux
// runners does (bash --noprofile --norc -eo pipefail), with env added to
// this process's environment, and returns its exit status and output.
func runStep(t *testing.T, s workflowStep, env map[string]string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s.Run)
	cmd.Env = os.Environ()
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("step %q: %v", s.Name, err)
	}
	return 0, string(out)
}

// TestCopiedPipeline runs the GitHub Actions workflow users copy
// (examples/github-actions/fips-image.yml) as far as it can run here: its
// build-args through fipsgate with docker buildx build, pushed; then its gate
// and its tagging step, their scripts as written, on the digest the build
// pushed. The platforms are the ones the dev environment builds the example
// application for (linux/amd64), not the workflow's.
func TestCopiedPipeline(t *testing.T) {
	dt, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "github-actions", "fips-image.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(dt, &wf); err != nil {
		t.Fatalf("the example workflow: %v", err)
	}
	buildStep, gate, promote := wf.step(t, "build"), wf.step(t, "fipsgate verify"), wf.step(t, "Tag the verified image")

	// The workflow's build-args, as build-push-action reads them (one
	// NAME=value a line); fipsgate fails a build on an unknown FIPSGATE_ name,
	// so a misspelt option in the example fails here.
	lines, _ := buildStep.With["build-args"].(string)
	args := map[string]string{"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase()}
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || !strings.HasPrefix(k, "FIPSGATE_") {
			t.Fatalf("the example's build-args line %q is not a FIPSGATE_ option", l)
		}
		args[k] = v
	}
	dir := filepath.Join(repoRoot(t), "examples", "helloserver")
	image := registry + "/fipsgate-e2e/pipeline-" + uniqueTag
	b := build{
		contextDir: dir,
		dockerfile: withSyntax(t, filepath.Join(dir, "Dockerfile"), frontendImage),
		buildArgs:  args,
		platforms:  []string{"linux/amd64"},
		image:      image + ":candidate",
	}
	r := buildxCLI{}.run(t, b)
	mustBeFipsgate(t, r)
	mustSucceed(t, "the example workflow's build", r)

	bin := fipsgateBinary(t)
	env := map[string]string{
		"IMAGE":           image,
		"DIGEST":          r.digest,
		"PLATFORMS":       "linux/amd64",
		"GITHUB_REF_NAME": "v1.2.3",
		"PATH":            filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	t.Run("the gate passes the pushed digest", func(t *testing.T) {
		if code, out := runStep(t, gate, env); code != 0 || !strings.Contains(out, "linux/amd64    PASS") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("the gate fails a platform the build did not push", func(t *testing.T) {
		partial := map[string]string{}
		for k, v := range env {
			partial[k] = v
		}
		partial["PLATFORMS"] = "linux/amd64,linux/386"
		if code, out := runStep(t, gate, partial); code != 1 || !strings.Contains(out, "linux/386      FAIL  the image has no manifest for this platform") {
			t.Errorf("exit %d, want 1 (a policy failure):\n%s", code, out)
		}
	})
	t.Run("the release tag names the verified digest", func(t *testing.T) {
		if code, out := runStep(t, promote, env); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		code, out, res := runVerify(t, bin, "--json", "--require-app", image+":1.2.3")
		if code != 0 || res.Digest != r.digest || res.Status != attestation.Pass {
			t.Errorf("%s:1.2.3: exit %d, want a PASS on %s:\n%s", image, code, r.digest, out)
		}
	})
}
