//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/probe"
)

// withGlobalArgs copies dir's Dockerfile into a new context with lines put
// before it (global ARGs), and returns the build of it through fipsgate:
// the syntax line is line 1, lines start at line 2.
func withGlobalArgs(t *testing.T, dir string, lines ...string) build {
	t.Helper()
	ctx := filepath.Join(t.TempDir(), "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	dt, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(ctx, "Dockerfile")
	if err := os.WriteFile(src, append([]byte(strings.Join(lines, "\n")+"\n"), dt...), 0o644); err != nil {
		t.Fatal(err)
	}
	return build{contextDir: ctx, dockerfile: withSyntax(t, src, frontendImage)}
}

// TestOptionErrors: an invalid or unknown FIPSGATE_* option fails the build
// before anything is verified. One a global ARG set points at its line of
// the Dockerfile, as the built-in frontend's own errors do; one a
// build-arg set names the build-arg; an unknown name says which option it
// likely meant.
func TestOptionErrors(t *testing.T) {
	dir := testdata(t, "verify", "tolerant-app")
	for _, tc := range []struct {
		name      string
		lines     []string          // global ARGs before the Dockerfile
		buildArgs map[string]string // beside BASE
		wantErr   string
		wantLine  string // how the error shows the ARG's line ("": it shows none)
	}{
		{
			name:     "invalid ARG",
			lines:    []string{"ARG FIPSGATE_MODE=yes"},
			wantErr:  `the Dockerfile's ARG FIPSGATE_MODE="yes": invalid value; accepted: enforce, warn or off`,
			wantLine: "Dockerfile:2\n--------------------\n   1 |     " + firstLine(frontendImage) + "\n   2 | >>> ARG FIPSGATE_MODE=yes\n",
		},
		{
			name:     "unknown ARG",
			lines:    []string{"ARG FIPSGATE_STRICT=true", "ARG FIPSGATE_TIMEOUT=5"},
			wantErr:  "the Dockerfile's ARG FIPSGATE_TIMEOUT: unknown fipsgate option (did you mean FIPSGATE_TIMEOUT_SECONDS?)",
			wantLine: "   3 | >>> ARG FIPSGATE_TIMEOUT=5\n",
		},
		{
			name:      "invalid build-arg over a valid ARG",
			lines:     []string{"ARG FIPSGATE_MODE=warn"},
			buildArgs: map[string]string{"FIPSGATE_MODE": "strict"},
			wantErr:   `--build-arg FIPSGATE_MODE="strict": invalid value; accepted: enforce, warn or off`,
		},
		{
			name:      "unknown build-arg",
			buildArgs: map[string]string{"FIPSGATE_TIMEOUT": "5"},
			wantErr:   "--build-arg FIPSGATE_TIMEOUT: unknown fipsgate option (did you mean FIPSGATE_TIMEOUT_SECONDS?)",
		},
	} {
		for _, c := range clis {
			t.Run(tc.name+"/"+c.name(), func(t *testing.T) {
				b := withGlobalArgs(t, dir, tc.lines...)
				b.buildArgs = map[string]string{"BASE": fipsBase()}
				for k, v := range tc.buildArgs {
					b.buildArgs[k] = v
				}
				r := c.run(t, b)
				mustBeFipsgate(t, r)
				if r.err == nil {
					t.Fatalf("the build succeeded:\n%s", r.output)
				}
				if line := errorLine.FindString(r.output); !strings.Contains(line, tc.wantErr) {
					t.Errorf("the error is\n  %s\nwant one ending in\n  %s\n%s", line, tc.wantErr, r.output)
				}
				if strings.Contains(r.output, "invalid value (invalid value)") {
					t.Errorf("the error stutters:\n%s", r.output)
				}
				// BuildKit points an error that carries no line at the
				// frontend's # syntax= line, as it does for any frontend.
				if tc.wantLine == "" {
					if strings.Contains(r.output, ">>> ARG") {
						t.Errorf("an error about a build-arg points at an ARG:\n%s", r.output)
					}
				} else if !strings.Contains(r.output, tc.wantLine) {
					t.Errorf("the error does not point at the ARG; want\n%s\nin\n%s", tc.wantLine, r.output)
				}
				if strings.Contains(r.output, "["+probe.Name+" ") {
					t.Errorf("checks ran with an invalid option:\n%s", r.output)
				}
			})
		}
	}
}

// vertexStatus is how a vertex named name ended in plain progress output:
// CACHED, DONE or ERROR ("" if it never showed).
func vertexStatus(output, name string) string {
	m := regexp.MustCompile(`(?m)^#(\d+) ` + regexp.QuoteMeta(name) + `$`).FindStringSubmatch(output)
	if m == nil {
		return ""
	}
	s := regexp.MustCompile(`(?m)^#` + m[1] + ` (CACHED|DONE|ERROR)\b`).FindStringSubmatch(output)
	if s == nil {
		return ""
	}
	return s[1]
}

// TestNoCacheFilter: --no-cache-filter fipsgate runs the checks again and
// takes the image's own stages from the cache.
func TestNoCacheFilter(t *testing.T) {
	dir := testdata(t, "verify", "base-image")
	const step = `[2/2] RUN echo "no application here" > /etc/motd`
	var checks []string
	for _, run := range (probe.Spec{}).Runs() {
		checks = append(checks, "["+probe.Name+" linux/amd64] "+probe.RunTitle(run))
	}
	for _, c := range clis {
		t.Run(c.name(), func(t *testing.T) {
			b := build{
				contextDir: dir,
				dockerfile: withSyntax(t, filepath.Join(dir, "Dockerfile"), frontendImage),
				buildArgs:  map[string]string{"BASE": fipsBase()},
				platforms:  []string{"linux/amd64"},
			}
			mustSucceed(t, "the first build", c.run(t, b))
			again := c.run(t, b)
			mustSucceed(t, "the unchanged rebuild", again)
			for _, v := range append([]string{step}, checks...) {
				if got := vertexStatus(again.output, v); got != "CACHED" {
					t.Errorf("the unchanged rebuild: %q %s, want CACHED:\n%s", v, got, again.output)
				}
			}

			b.noCacheFilter = []string{probe.Name}
			filtered := c.run(t, b)
			mustSucceed(t, "the rebuild with --no-cache-filter "+probe.Name, filtered)
			if got := vertexStatus(filtered.output, step); got != "CACHED" {
				t.Errorf("--no-cache-filter %s: the image's step %q %s, want CACHED:\n%s", probe.Name, step, got, filtered.output)
			}
			for _, v := range checks {
				if got := vertexStatus(filtered.output, v); got != "DONE" {
					t.Errorf("--no-cache-filter %s: the check %q %s, want DONE (run again):\n%s", probe.Name, v, got, filtered.output)
				}
			}
		})
	}
}
