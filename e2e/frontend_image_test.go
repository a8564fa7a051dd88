//go:build e2e

package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// elfMachine is what an ELF program of a Go architecture is.
type elfMachine struct {
	class   elf.Class
	order   binary.ByteOrder
	machine elf.Machine
}

// goMachines: the ELF identity of each architecture a frontend image may
// carry (hack/frontend-platforms).
var goMachines = map[string]elfMachine{
	"amd64":    {elf.ELFCLASS64, binary.LittleEndian, elf.EM_X86_64},
	"386":      {elf.ELFCLASS32, binary.LittleEndian, elf.EM_386},
	"arm64":    {elf.ELFCLASS64, binary.LittleEndian, elf.EM_AARCH64},
	"arm":      {elf.ELFCLASS32, binary.LittleEndian, elf.EM_ARM},
	"ppc64le":  {elf.ELFCLASS64, binary.LittleEndian, elf.EM_PPC64},
	"ppc64":    {elf.ELFCLASS64, binary.BigEndian, elf.EM_PPC64},
	"s390x":    {elf.ELFCLASS64, binary.BigEndian, elf.EM_S390},
	"riscv64":  {elf.ELFCLASS64, binary.LittleEndian, elf.EM_RISCV},
	"loong64":  {elf.ELFCLASS64, binary.LittleEndian, elf.EM_LOONGARCH},
	"mips64le": {elf.ELFCLASS64, binary.LittleEndian, elf.EM_MIPS},
}

// frontendPlatforms is hack/frontend-platforms, normalized.
func frontendPlatforms(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "hack", "frontend-platforms"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := platforms.Parse(line)
		if err != nil {
			t.Fatalf("hack/frontend-platforms: %v", err)
		}
		out = append(out, platforms.Format(platforms.Normalize(p)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestFrontendImage reads the frontend image the tests run (make
// frontend-image) from the registry: an index of every platform of
// hack/frontend-platforms, each platform's /bin/fipsgate a static ELF program
// of that platform's machine that Go built for it, with the version its
// labels state linked in.
func TestFrontendImage(t *testing.T) {
	repo, tag, _ := strings.Cut(strings.TrimPrefix(frontendImage, registry+"/"), ":")
	mt, body := fetchManifest(t, repo+":"+tag)
	if mt != ocispecs.MediaTypeImageIndex {
		t.Fatalf("%s is a %s, want an OCI image index", frontendImage, mt)
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			t.Errorf("%s: an index entry without a platform: %+v", frontendImage, d)
			continue
		}
		p := platforms.Format(platforms.Normalize(*d.Platform))
		got = append(got, p)
		t.Run(p, func(t *testing.T) { checkFrontendManifest(t, repo, d) })
	}
	slices.Sort(got)
	if want := frontendPlatforms(t); !slices.Equal(got, want) {
		t.Errorf("%s has the platforms %q, want those of hack/frontend-platforms, %q", frontendImage, got, want)
	}
}

var revision = regexp.MustCompile(`^[0-9a-f]{40}$`)

func checkFrontendManifest(t *testing.T, repo string, d ocispecs.Descriptor) {
	_, body := fetchManifest(t, repo+"@"+d.Digest.String())
	var m ocispecs.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var cfg ocispecs.Image
	if err := json.Unmarshal(fetchBlob(t, repo, m.Config.Digest.String()), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != d.Platform.OS || cfg.Architecture != d.Platform.Architecture || cfg.Variant != d.Platform.Variant {
		t.Errorf("the image config is for %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
	}
	labels := cfg.Config.Labels
	version := labels["org.opencontainers.image.version"]
	if src := labels["org.opencontainers.image.source"]; src != "https://github.com/fipsgate/fipsgate" {
		t.Errorf("org.opencontainers.image.source is %q", src)
	}
	if rev := labels["org.opencontainers.image.revision"]; !revision.MatchString(rev) {
		t.Errorf("org.opencontainers.image.revision is %q, want a commit", rev)
	}
	if version == "" {
		t.Errorf("no org.opencontainers.image.version")
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/bin/fipsgate"}) {
		t.Errorf("entrypoint %q", cfg.Config.Entrypoint)
	}
	// FROM scratch and one COPY: the layer holds the binary.
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(m.Layers))
	}
	bin := fileInLayer(t, repo, m.Layers[0], "bin/fipsgate")

	want, ok := goMachines[d.Platform.Architecture]
	if !ok {
		t.Fatalf("no ELF machine known for %s: add it to goMachines", d.Platform.Architecture)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/bin/fipsgate is not an ELF file: %v", err)
	}
	if f.Class != want.class || f.ByteOrder != want.order || f.Machine != want.machine {
		t.Errorf("/bin/fipsgate is %v %v %v, want %v %v %v", f.Class, f.ByteOrder, f.Machine, want.class, want.order, want.machine)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("/bin/fipsgate is %v, want a (static, non-PIE) executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/bin/fipsgate has a %v segment: it is not static, and FROM scratch has nothing to load", p.Type)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/bin/fipsgate has no Go build information: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	wantSettings := map[string]string{"GOOS": d.Platform.OS, "GOARCH": d.Platform.Architecture, "CGO_ENABLED": "0", "-trimpath": "true"}
	if d.Platform.Architecture == "arm" {
		wantSettings["GOARM"] = strings.TrimPrefix(d.Platform.Variant, "v")
	}
	for k, v := range wantSettings {
		if settings[k] != v {
			t.Errorf("built with %s=%q, want %q", k, settings[k], v)
		}
	}
	// -trimpath keeps -ldflags out of the build information: the version
	// linked in is looked for in the binary, and asked of the binaries
	// this machine runs natively.
	if !bytes.Contains(bin, []byte(version)) {
		t.Errorf("the labelled version %q is not in the binary", version)
	}
	if d.Platform.Architecture == runtime.GOARCH || (runtime.GOARCH == "amd64" && d.Platform.Architecture == "386") {
		exe := filepath.Join(t.TempDir(), "fipsgate")
		if err := os.WriteFile(exe, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(exe, "version").Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != "fipsgate "+version {
			t.Errorf("fipsgate version says %q (%v), want %q", got, err, "fipsgate "+version)
		}
	}
	if info.Path != "github.com/fipsgate/fipsgate/cmd/fipsgate" {
		t.Errorf("the binary is %s", info.Path)
	}
}

// fileInLayer reads one regular file of a gzip-compressed layer.
func fileInLayer(t *testing.T, repo string, layer ocispecs.Descriptor, name string) []byte {
	t.Helper()
	if layer.MediaType != ocispecs.MediaTypeImageLayerGzip {
		t.Fatalf("the layer is %s, want %s", layer.MediaType, ocispecs.MediaTypeImageLayerGzip)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/blobs/%s", registry, repo, layer.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s: %s", layer.Digest, resp.Status)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("the layer has no %s", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") != name {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			t.Fatalf("%s is not a regular file (type %c)", name, h.Typeflag)
		}
		dt, err := io.ReadAll(io.LimitReader(tr, 256<<20))
		if err != nil {
			t.Fatal(err)
		}
		return dt
	}
}

// TestFrontendImageReproducible builds the frontend image twice from this
// checkout, the way make frontend-image does, and requires the same digest:
// fresh binaries (new modification times) and a new build must not change
// a byte. Two platforms, one with a variant, keep it short: what could
// differ (timestamps, the build context) does not depend on the platform.
func TestFrontendImageReproducible(t *testing.T) {
	var digests []string
	for i := range 2 {
		image := fmt.Sprintf("%s/fipsgate-e2e/frontend:reproducible-%d-%s", registry, i, uniqueTag)
		cmd := exec.Command(filepath.Join(repoRoot(t), "hack", "frontend-image.sh"))
		cmd.Env = append(os.Environ(), "FIPSGATE_FRONTEND_IMAGE="+image, "FIPSGATE_FRONTEND_PLATFORMS=linux/amd64,linux/arm/v7")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hack/frontend-image.sh: %v\n%s", err, stderr.String())
		}
		if last := strings.TrimSpace(string(out)); last != image {
			t.Fatalf("hack/frontend-image.sh printed %q, want %q", last, image)
		}
		digests = append(digests, headDigest(t, image))
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same checkout pushed %s, then %s", digests[0], digests[1])
	}
}

// headDigest is the digest the registry serves for an image reference.
func headDigest(t *testing.T, image string) string {
	t.Helper()
	repo := repoOf(image)
	tag := strings.TrimPrefix(image, registry+"/"+repo+":")
	req, err := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", ocispecs.MediaTypeImageIndex+", "+ocispecs.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s: %s", image, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest")
}

// TestReleasePlatforms: the release workflow publishes the frontend image
// and the CLI for the platforms make frontend-image builds and tests.
func TestReleasePlatforms(t *testing.T) {
	dt, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+PLATFORMS:\s*(\S+)\s*$`).FindSubmatch(dt)
	if m == nil {
		t.Fatal("release.yml sets no PLATFORMS")
	}
	var got []string
	for _, p := range strings.Split(string(m[1]), ",") {
		pp, err := platforms.Parse(p)
		if err != nil {
			t.Fatalf("release.yml PLATFORMS: %v", err)
		}
		got = append(got, platforms.Format(platforms.Normalize(pp)))
	}
	slices.Sort(got)
	if want := frontendPlatforms(t); !slices.Equal(got, want) {
		t.Errorf("release.yml publishes %q, hack/frontend-platforms lists %q", got, want)
	}
}
