// Command bench measures what fipsgate costs next to the upstream Dockerfile
// frontend, on the same buildkitd, the same Dockerfiles and in the same run:
// fipsgate through `# syntax=`, the upstream frontend image built from the
// vendored BuildKit and selected the same way, and the built-in
// dockerfile.v0. Runs alternate between frontends; each figure is a median
// with its minimum and maximum. Vertex timings come from BuildKit's progress
// stream (buildctl --progress=rawjson).
//
// Run it through `make bench`, which brings up the dev environment first.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

var (
	registry      = os.Getenv("FIPSGATE_REGISTRY")
	frontendImage = os.Getenv("FIPSGATE_FRONTEND_IMAGE")
	runs          = flag.Int("runs", 5, "runs per frontend and scenario")
	coldRuns      = flag.Int("cold-runs", 3, "runs per frontend of the cold (--no-cache) builds")
	out           = flag.String("out", "_output/bench.json", "where to write the JSON report")
	only          = flag.String("only", "", "measure only the scenarios whose name contains this")
)

// frontend is one way of building a Dockerfile.
type frontend struct {
	Name   string `json:"name"`
	Syntax string `json:"syntax,omitempty"` // "" for the built-in dockerfile.v0
}

func main() {
	flag.Parse()
	if registry == "" || frontendImage == "" || os.Getenv("BUILDKIT_HOST") == "" {
		fail("run through make bench (it sets BUILDKIT_HOST, FIPSGATE_REGISTRY, FIPSGATE_FRONTEND_IMAGE)")
	}
	root, err := os.Getwd()
	check(err)
	upstream := buildUpstreamFrontend(root)
	frontends := []frontend{
		{Name: "built-in dockerfile.v0"},
		{Name: "upstream frontend image", Syntax: upstream},
		{Name: "fipsgate", Syntax: frontendImage},
	}
	rep := &report{
		Machine:   machine(),
		Date:      time.Now().UTC().Format(time.RFC3339),
		Runs:      *runs,
		Frontends: frontends,
		Images: map[string]int64{
			"fipsgate":                compressedSize(frontendImage),
			"upstream frontend image": compressedSize(upstream),
		},
	}
	helloserver := filepath.Join(root, "examples", "helloserver")
	gobuilder := registry + "/fipsgate/gobuilder:trixie"
	fipsBase := registry + "/fipsgate/debian-fips:trixie"
	scenarios := []scenario{
		startupScenario(),
		appScenario("helloserver", helloserver, "", map[string]string{"BUILDER": gobuilder, "BASE": fipsBase}),
		appScenario("large image (Go toolchain, 25k files)", helloserver, largeImageTail, map[string]string{
			"BUILDER": gobuilder, "BASE": fipsBase, "GOBUILDER": gobuilder, "FIPSGATE_EXCEPTIONS": "bench-exceptions.json",
		}),
		platformsScenario(filepath.Join(root, "e2e", "testdata", "verify", "base-image"), fipsBase),
	}
	for _, sc := range scenarios {
		if !strings.Contains(sc.name, *only) {
			continue
		}
		for _, step := range sc.steps {
			fmt.Fprintf(os.Stderr, "%s / %s\n", sc.name, step.name)
			rep.add(sc, step, measure(sc, step, frontends))
		}
	}
	if strings.Contains("crypto inventory", *only) {
		rep.Scans = measureScans(root)
	}
	rep.Targets = rep.targets()
	rep.print(os.Stdout)
	check(os.MkdirAll(filepath.Dir(*out), 0o755))
	dt, err := json.MarshalIndent(rep, "", "  ")
	check(err)
	check(os.WriteFile(*out, dt, 0o644))
	fmt.Printf("\nwritten: %s\n", *out)
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "bench:", msg)
	os.Exit(1)
}

func machine() string {
	cpu := "unknown CPU"
	if dt, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(dt), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if dt, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(dt), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %d GiB", (kb+512*1024)>>20)
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

// buildUpstreamFrontend builds BuildKit's own Dockerfile frontend at the
// vendored version into an image like the published one, pushes it, and
// returns its reference.
func buildUpstreamFrontend(root string) string {
	version := strings.TrimSpace(run(root, "go", "list", "-m", "-f", "{{.Version}}", "github.com/moby/buildkit"))
	dir := filepath.Join(root, "_output", "bench", "upstream-frontend")
	check(os.MkdirAll(dir, 0o755))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", "netgo static_build osusergo",
		"-o", filepath.Join(dir, "dockerfile-frontend"), "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("building dockerfile-frontend: %v\n%s", err, outb))
	}
	dockerfile := `FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
COPY dockerfile-frontend /bin/dockerfile-frontend
ENTRYPOINT ["/bin/dockerfile-frontend"]
`
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
	ref := fmt.Sprintf("%s/fipsgate-bench/dockerfile-frontend:%s", registry, version)
	run(root, "buildctl", "build", "--frontend=dockerfile.v0", "--local", "context="+dir, "--local", "dockerfile="+dir,
		"--output", "type=image,name="+ref+",push=true,oci-mediatypes=true")
	return ref
}

func run(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(stderr.String(), 30)))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// compressedSize is the total of an image's compressed layers, from the
// registry.
func compressedSize(ref string) int64 {
	repo, tag, _ := strings.Cut(strings.TrimPrefix(ref, registry+"/"), ":")
	body := run(".", "curl", "-fsS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
		fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag))
	var m struct {
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	if json.Unmarshal([]byte(body), &m) != nil {
		return 0
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// vertex is what the rawjson progress stream says of one vertex.
type vertex struct {
	Name      string     `json:"name"`
	Started   *time.Time `json:"started"`
	Completed *time.Time `json:"completed"`
	Cached    bool       `json:"cached"`
}

// buildRun is one timed build.
type buildRun struct {
	Seconds float64
	// Verification vertices: name → seconds (not cached ones only), and the
	// wall time from the first verification vertex start to the last end.
	Checks     map[string]float64
	CheckWall  float64
	CheckSum   float64
	FirstStage float64 // seconds from start to the first vertex of the Dockerfile itself
}

// build runs buildctl on dir's Dockerfile with the frontend's first line.
func build(fe frontend, dir string, args map[string]string, extra ...string) buildRun {
	dt, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	check(err)
	body := string(dt)
	if strings.HasPrefix(body, "# syntax=") {
		body = body[strings.Index(body, "\n")+1:]
	}
	firstLine := "# built-in frontend\n"
	if fe.Syntax != "" {
		firstLine = "# syntax=" + fe.Syntax + "\n"
	}
	dfDir, err := os.MkdirTemp("", "fipsgate-bench-df-")
	check(err)
	defer os.RemoveAll(dfDir)
	check(os.WriteFile(filepath.Join(dfDir, "Dockerfile"), []byte(firstLine+body), 0o644))
	cmdArgs := []string{"build", "--progress=rawjson", "--frontend=dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dfDir, "--output", "type=image"}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmdArgs = append(cmdArgs, "--opt", "build-arg:"+k+"="+args[k])
	}
	cmdArgs = append(cmdArgs, extra...)
	cmd := exec.Command("buildctl", cmdArgs...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("buildctl %s: %v\n%s", strings.Join(cmdArgs, " "), err, tail(stderr.String(), 40)))
	}
	r := buildRun{Seconds: time.Since(start).Seconds(), Checks: map[string]float64{}}
	vertices := map[string]*vertex{}
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var st struct {
			Vertexes []struct {
				Digest string `json:"digest"`
				vertex
			} `json:"vertexes"`
		}
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue
		}
		for _, v := range st.Vertexes {
			cur := vertices[v.Digest]
			if cur == nil {
				cur = &vertex{Name: v.Name}
				vertices[v.Digest] = cur
			}
			if v.Started != nil {
				cur.Started = v.Started
			}
			if v.Completed != nil {
				cur.Completed = v.Completed
			}
			cur.Cached = cur.Cached || v.Cached
		}
	}
	var first, last time.Time
	var firstStage time.Time
	for _, v := range vertices {
		if v.Started == nil || v.Completed == nil {
			continue
		}
		if strings.HasPrefix(v.Name, "[") && !strings.HasPrefix(v.Name, "[internal]") && !strings.HasPrefix(v.Name, "[fipsgate") &&
			(firstStage.IsZero() || v.Started.Before(firstStage)) {
			firstStage = *v.Started
		}
		if !strings.HasPrefix(v.Name, "[fipsgate ") || v.Cached {
			continue
		}
		d := v.Completed.Sub(*v.Started).Seconds()
		r.Checks[v.Name] += d
		r.CheckSum += d
		if first.IsZero() || v.Started.Before(first) {
			first = *v.Started
		}
		if v.Completed.After(last) {
			last = *v.Completed
		}
	}
	if !first.IsZero() {
		r.CheckWall = last.Sub(first).Seconds()
	}
	if !firstStage.IsZero() {
		r.FirstStage = firstStage.Sub(start).Seconds()
	}
	return r
}
