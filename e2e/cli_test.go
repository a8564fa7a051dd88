//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// build is one Dockerfile build, expressed independently of the CLI that runs it.
type build struct {
	dockerfile    string            // path of the Dockerfile to use
	contextDir    string            // the build context
	target        string            // --target
	platforms     []string          // --platform
	buildArgs     map[string]string // --build-arg
	secrets       map[string]string // --secret id=KEY,src=VALUE
	ssh           map[string]string // --ssh KEY=VALUE (an agent socket or key file)
	namedContexts map[string]string // --build-context KEY=VALUE: a local directory or docker-image://…
	image         string            // pushed here when set
	call          string            // a subrequest (outline, targets, check) instead of a build
	noCache       bool              // --no-cache
	noCacheFilter []string          // --no-cache-filter
	sbomGenerator string            // --sbom=generator=IMAGE (the attest:sbom attribute); none when empty
	provenance    string            // --provenance=VALUE, e.g. mode=max (attest:provenance); none when empty
	builder       string            // docker buildx build --builder: BUILDX_BUILDER unless set
}

// result is what a CLI run left behind.
type result struct {
	err    error
	output string // combined stdout and stderr
	stdout string
	digest string // containerimage.digest from the metadata file, when an image was pushed
}

// cli runs builds the way a user would with one command-line client.
type cli interface {
	name() string
	run(t *testing.T, b build) result
}

var clis = []cli{buildctlCLI{}, buildxCLI{}}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func execute(t *testing.T, metadataFile string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, combined bytes.Buffer
	cmd.Stdout = io.MultiWriter(&stdout, &combined)
	cmd.Stderr = &combined
	t.Logf("$ %s %s", name, strings.Join(args, " "))
	r := result{err: cmd.Run()}
	r.output, r.stdout = combined.String(), stdout.String()
	if r.err == nil && metadataFile != "" {
		dt, err := os.ReadFile(metadataFile)
		if err != nil {
			t.Fatalf("reading the build metadata file: %v", err)
		}
		var md struct {
			Digest string `json:"containerimage.digest"`
		}
		if err := json.Unmarshal(dt, &md); err != nil {
			t.Fatalf("parsing the build metadata file %s: %v", dt, err)
		}
		r.digest = md.Digest
	}
	return r
}

// reproducible makes two builds of the same input byte-identical.
const sourceDateEpoch = "1700000000"

type buildctlCLI struct{}

func (buildctlCLI) name() string { return "buildctl" }

func (buildctlCLI) run(t *testing.T, b build) result {
	t.Helper()
	args := []string{"build", "--progress=plain", "--frontend=dockerfile.v0",
		"--local", "context=" + b.contextDir,
		"--local", "dockerfile=" + filepath.Dir(b.dockerfile),
		"--opt", "filename=" + filepath.Base(b.dockerfile),
		"--opt", "build-arg:SOURCE_DATE_EPOCH=" + sourceDateEpoch,
	}
	if b.target != "" {
		args = append(args, "--opt", "target="+b.target)
	}
	if b.sbomGenerator != "" {
		args = append(args, "--opt", "attest:sbom=generator="+b.sbomGenerator)
	}
	if b.provenance != "" {
		args = append(args, "--opt", "attest:provenance="+b.provenance)
	}
	if b.noCache {
		args = append(args, "--no-cache")
	}
	if len(b.noCacheFilter) > 0 {
		args = append(args, "--opt", "no-cache="+strings.Join(b.noCacheFilter, ","))
	}
	if len(b.platforms) > 0 {
		args = append(args, "--opt", "platform="+strings.Join(b.platforms, ","))
	}
	for _, k := range sortedKeys(b.buildArgs) {
		args = append(args, "--opt", "build-arg:"+k+"="+b.buildArgs[k])
	}
	for _, k := range sortedKeys(b.secrets) {
		args = append(args, "--secret", "id="+k+",src="+b.secrets[k])
	}
	for _, k := range sortedKeys(b.ssh) {
		args = append(args, "--ssh", k+"="+b.ssh[k])
	}
	for i, k := range sortedKeys(b.namedContexts) {
		v := b.namedContexts[k]
		if strings.Contains(v, "://") {
			args = append(args, "--opt", "context:"+k+"="+v)
			continue
		}
		local := "named" + string(rune('a'+i))
		args = append(args, "--local", local+"="+v, "--opt", "context:"+k+"=local:"+local)
	}
	if b.call != "" {
		t.Fatalf("buildctl has no subrequest flag; run %q through docker buildx build --call", b.call)
	}
	var md string
	if b.image != "" {
		md = filepath.Join(t.TempDir(), "metadata.json")
		args = append(args, "--metadata-file", md,
			"--output", "type=image,name="+b.image+",push=true,rewrite-timestamp=true,oci-mediatypes=true")
	}
	return execute(t, md, "buildctl", args...)
}

type buildxCLI struct{}

func (buildxCLI) name() string { return "docker-buildx" }

func (buildxCLI) run(t *testing.T, b build) result {
	t.Helper()
	builder := buildxBuilder
	if b.builder != "" {
		builder = b.builder
	}
	args := []string{"buildx", "build", "--builder", builder, "--progress=plain",
		"--file", b.dockerfile,
		"--build-arg", "SOURCE_DATE_EPOCH=" + sourceDateEpoch,
	}
	if b.sbomGenerator != "" {
		args = append(args, "--sbom=generator="+b.sbomGenerator)
	} else {
		args = append(args, "--sbom=false")
	}
	if b.provenance != "" {
		args = append(args, "--provenance="+b.provenance)
	} else {
		args = append(args, "--provenance=false")
	}
	if b.target != "" {
		args = append(args, "--target", b.target)
	}
	if b.noCache {
		args = append(args, "--no-cache")
	}
	if len(b.noCacheFilter) > 0 {
		args = append(args, "--no-cache-filter", strings.Join(b.noCacheFilter, ","))
	}
	if len(b.platforms) > 0 {
		args = append(args, "--platform", strings.Join(b.platforms, ","))
	}
	for _, k := range sortedKeys(b.buildArgs) {
		args = append(args, "--build-arg", k+"="+b.buildArgs[k])
	}
	for _, k := range sortedKeys(b.secrets) {
		args = append(args, "--secret", "id="+k+",src="+b.secrets[k])
	}
	for _, k := range sortedKeys(b.ssh) {
		args = append(args, "--ssh", k+"="+b.ssh[k])
	}
	for _, k := range sortedKeys(b.namedContexts) {
		args = append(args, "--build-context", k+"="+b.namedContexts[k])
	}
	if b.call != "" {
		args = append(args, "--call", b.call, b.contextDir)
		return execute(t, "", "docker", args...)
	}
	var md string
	if b.image != "" {
		md = filepath.Join(t.TempDir(), "metadata.json")
		args = append(args, "--metadata-file", md,
			"--output", "type=image,name="+b.image+",push=true,rewrite-timestamp=true,oci-mediatypes=true")
	}
	args = append(args, b.contextDir)
	return execute(t, md, "docker", args...)
}

// withSyntax writes a copy of the Dockerfile at src whose first line selects
// the frontend: the fipsgate image, or (syntax "") a comment, so that the
// built-in frontend sees the same line numbers. A `# syntax=` first line of
// src is replaced, any other first line kept below the new one.
func withSyntax(t *testing.T, src, syntax string) string {
	t.Helper()
	dt, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(string(dt), "# syntax=") {
		_, rest, _ := strings.Cut(string(dt), "\n")
		dt = []byte(rest)
	}
	first := firstLine(syntax) + "\n"
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(p, append([]byte(first), dt...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstLine(syntax string) string {
	if syntax == "" {
		return "# built-in Dockerfile frontend"
	}
	return "# syntax=" + syntax
}
