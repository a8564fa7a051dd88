//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/attestation"
	"github.com/fipsgate/fipsgate/predicate"
)

// The SLSA provenance predicate types BuildKit writes.
const (
	provenanceV1  = "https://slsa.dev/provenance/v1"
	provenanceV02 = "https://slsa.dev/provenance/v0.2"
	spdxDocument  = "https://spdx.dev/Document"
)

// sbomScanner is the SBOM generator image hack/sbom-scanner.sh pushed.
func sbomScanner(t *testing.T) string {
	t.Helper()
	s := os.Getenv("FIPSGATE_SBOM_SCANNER")
	if s == "" {
		t.Fatal("FIPSGATE_SBOM_SCANNER is not set: run the end-to-end tests with `make e2e`, or export FIPSGATE_SBOM_SCANNER=$(hack/sbom-scanner.sh | tail -n 1)")
	}
	return s
}

// spdx is the part of an SPDX 2.3 document the tests read.
type spdx struct {
	Name          string         `json:"name"`
	Packages      []spdxPackage  `json:"packages"`
	Files         []spdxFile     `json:"files"`
	Relationships []spdxRelation `json:"relationships"`
}

type spdxPackage struct {
	SPDXID       string `json:"SPDXID"`
	ExternalRefs []struct {
		Type    string `json:"referenceType"`
		Locator string `json:"referenceLocator"`
	} `json:"externalRefs"`
}

type spdxFile struct {
	SPDXID    string `json:"SPDXID"`
	FileName  string `json:"fileName"`
	Checksums []struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	} `json:"checksums"`
}

type spdxRelation struct {
	Element string `json:"spdxElementId"`
	Related string `json:"relatedSpdxElement"`
	Type    string `json:"relationshipType"`
}

func (p spdxPackage) purl() string {
	for _, r := range p.ExternalRefs {
		if r.Type == "purl" {
			return r.Locator
		}
	}
	return ""
}

func (f spdxFile) sha256() string {
	for _, c := range f.Checksums {
		if c.Algorithm == "SHA256" {
			return c.Value
		}
	}
	return ""
}

// contents is what an SPDX document says an image holds, without what
// changes from one scan to the next (its time, its namespace): package URLs,
// and file paths with their SHA-256.
func (d spdx) contents() []string {
	var out []string
	for _, p := range d.Packages {
		out = append(out, "package "+p.purl())
	}
	for _, f := range d.Files {
		out = append(out, "file "+f.FileName+" "+f.sha256())
	}
	sort.Strings(out)
	return out
}

// platformStatements are one platform's statements, by predicate type.
type platformStatements struct {
	manifest    string
	byType      map[string][]statement
	layerDigest map[string][]string // predicate type → layer digests
}

// statementsByPlatform reads a pushed image: per platform, the one
// attestation manifest that refers to its manifest, and the statements in
// it, each of which must be about that manifest.
func statementsByPlatform(t *testing.T, image, digest string) map[string]platformStatements {
	t.Helper()
	img := readPushedImage(t, repoOf(image), digest)
	out := map[string]platformStatements{}
	for platform, manifest := range img.manifests {
		if n := len(img.attestationManifests[manifest]); n != 1 {
			t.Fatalf("%s: %d attestation manifests refer to the image manifest %s, want one holding every statement", platform, n, manifest)
		}
		ps := platformStatements{manifest: manifest, byType: map[string][]statement{}, layerDigest: map[string][]string{}}
		for i, st := range img.attestations[manifest] {
			if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != manifest {
				t.Errorf("%s: a %s statement's subject is %+v, not the image manifest %s", platform, st.PredicateType, st.Subject, manifest)
			}
			ps.byType[st.PredicateType] = append(ps.byType[st.PredicateType], st)
			ps.layerDigest[st.PredicateType] = append(ps.layerDigest[st.PredicateType], img.layers[manifest][i].Digest.String())
		}
		out[platform] = ps
	}
	return out
}

// sboms are a platform's SPDX documents by their name: "sbom" for the image,
// "sbom-STAGE" for a build stage.
func (ps platformStatements) sboms(t *testing.T) map[string]spdx {
	t.Helper()
	out := map[string]spdx{}
	for _, st := range ps.byType[spdxDocument] {
		var d spdx
		if err := json.Unmarshal(st.Predicate, &d); err != nil {
			t.Fatalf("an SPDX statement: %v", err)
		}
		if _, dup := out[d.Name]; dup {
			t.Errorf("two SPDX documents named %q", d.Name)
		}
		out[d.Name] = d
	}
	return out
}

// TestSBOMAndProvenance builds an image through fipsgate with BuildKit's own
// attestations asked for (`docker buildx build --sbom=generator=…
// --provenance=mode=max`), as a pipeline that wants all three does, and
// requires, per platform: one attestation manifest holding the SPDX SBOMs
// (of the image, and of the stage that asks to be scanned), the SLSA
// provenance, fipsgate's predicate and its verification summary (VSA), all
// about the platform's image manifest; the SBOMs the same as BuildKit's own
// Dockerfile frontend attaches for the same build; the SBOM and the
// predicate joined on the FIPS module's digest, and the provenance naming
// the fipsgate image that verified; `fipsgate verify` passing. An unchanged
// rebuild changes no digest but the provenance's, which records when it
// ran.
func TestSBOMAndProvenance(t *testing.T) {
	scanner := sbomScanner(t)
	dir := testdata(t, "interop")
	platforms := []string{"linux/amd64", "linux/386"}
	repo := fmt.Sprintf("%s/fipsgate-e2e/interop", registry)
	b := build{
		contextDir:    dir,
		dockerfile:    withSyntax(t, filepath.Join(dir, "Dockerfile"), frontendImage),
		buildArgs:     map[string]string{"BASE": fipsBase(), "FIPSGATE_RESOURCE_URI": "pkg:docker/" + strings.TrimPrefix(repo, registry+"/")},
		platforms:     platforms,
		image:         fmt.Sprintf("%s:fipsgate-%s", repo, uniqueTag),
		sbomGenerator: scanner,
		provenance:    "mode=max",
	}
	r := buildxCLI{}.run(t, b)
	mustSucceed(t, "the build with --sbom and --provenance", r)
	mustBeFipsgate(t, r)
	got := statementsByPlatform(t, b.image, r.digest)
	if len(got) != len(platforms) {
		t.Fatalf("platforms %v, want %v", slices.Collect(maps.Keys(got)), platforms)
	}

	// The same build through BuildKit's own Dockerfile frontend.
	upstream := b
	upstream.dockerfile = withSyntax(t, filepath.Join(dir, "Dockerfile"), "")
	upstream.image = fmt.Sprintf("%s:upstream-%s", repo, uniqueTag)
	u := buildxCLI{}.run(t, upstream)
	mustSucceed(t, "the same build through BuildKit's Dockerfile frontend", u)
	want := statementsByPlatform(t, upstream.image, u.digest)

	frontendDigest := manifestDigest(t, strings.TrimPrefix(frontendImage, registry+"/"))
	for _, platform := range platforms {
		ps := got[platform]
		for _, pt := range []string{spdxDocument, predicate.Type, predicate.VSAType} {
			if len(ps.byType[pt]) == 0 {
				t.Errorf("%s: no %s statement beside the others: %v", platform, pt, slices.Collect(maps.Keys(ps.byType)))
			}
		}
		provenance := append(ps.byType[provenanceV1], ps.byType[provenanceV02]...)
		if len(provenance) != 1 || len(ps.byType[predicate.Type]) != 1 || len(ps.byType[predicate.VSAType]) != 1 {
			t.Fatalf("%s: statements %v, want one provenance, one fipsgate predicate and one VSA", platform, counts(ps.byType))
		}
		if ps.manifest != want[platform].manifest {
			t.Errorf("%s: image manifest %s through fipsgate, %s upstream", platform, ps.manifest, want[platform].manifest)
		}

		// The SBOMs: of the image and of the tools stage, as upstream's.
		sboms, upstreamSBOMs := ps.sboms(t), want[platform].sboms(t)
		if names := slices.Sorted(maps.Keys(sboms)); !slices.Equal(names, []string{"sbom", "sbom-tools"}) {
			t.Errorf("%s: SPDX documents %q, want the image's (sbom) and the tools stage's (sbom-tools)", platform, names)
		}
		for name, d := range sboms {
			if u, ok := upstreamSBOMs[name]; !ok || !slices.Equal(d.contents(), u.contents()) {
				t.Errorf("%s: the SPDX document %s differs from upstream's (%d entries, upstream %d)", platform, name, len(d.contents()), len(u.contents()))
			}
		}
		if len(upstreamSBOMs) != len(sboms) {
			t.Errorf("%s: %d SPDX documents upstream, %d through fipsgate", platform, len(upstreamSBOMs), len(sboms))
		}

		// The predicate and the SBOM join on the module's file and digest,
		// and through the SBOM on the package that installed it.
		var p predicate.Predicate
		if err := json.Unmarshal(ps.byType[predicate.Type][0].Predicate, &p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Digest["sha256"] == "" {
			t.Fatalf("%s: the predicate names no module: %+v", platform, p.Module)
		}
		purl := modulePackage(t, sboms["sbom"], p.Module.Path, p.Module.Digest["sha256"])
		if !samePackage(purl, p.Module.Package.PURL) || !strings.HasPrefix(purl, "pkg:deb/debian/openssl-provider-fips@") {
			t.Errorf("%s: the module %s (sha256 %s) is in the SBOM's package %q; the predicate says %q, Debian's openssl-provider-fips", platform, p.Module.Path, p.Module.Digest["sha256"], purl, p.Module.Package.PURL)
		}

		// The VSA is the predicate's, for the resource the build named.
		var vsa predicate.VerificationSummary
		if err := json.Unmarshal(ps.byType[predicate.VSAType][0].Predicate, &vsa); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(vsa, predicate.Summarize(p, b.buildArgs["FIPSGATE_RESOURCE_URI"])) || vsa.ResourceURI != b.buildArgs["FIPSGATE_RESOURCE_URI"] ||
			!slices.Equal(vsa.VerifiedLevels, []string{predicate.LevelEnforcedOpenSSL}) || vsa.VerificationResult != predicate.VSAPassed {
			t.Errorf("%s: VSA %+v", platform, vsa)
		}

		// The provenance: BuildKit's, naming the fipsgate image (by
		// digest) that built and verified the image.
		var prov struct {
			BuildDefinition struct {
				ExternalParameters struct {
					Request struct {
						Frontend string            `json:"frontend"`
						Args     map[string]string `json:"args"`
					} `json:"request"`
				} `json:"externalParameters"`
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		}
		if provenance[0].PredicateType != provenanceV1 {
			t.Fatalf("%s: provenance %s, want %s", platform, provenance[0].PredicateType, provenanceV1)
		}
		if err := json.Unmarshal(provenance[0].Predicate, &prov); err != nil {
			t.Fatal(err)
		}
		req := prov.BuildDefinition.ExternalParameters.Request
		if req.Frontend != "gateway.v0" || req.Args["source"] != frontendImage {
			t.Errorf("%s: the provenance's request: frontend %q, source %q; want gateway.v0 and %s", platform, req.Frontend, req.Args["source"], frontendImage)
		}
		found := false
		for _, d := range prov.BuildDefinition.ResolvedDependencies {
			found = found || "sha256:"+d.Digest["sha256"] == frontendDigest && strings.Contains(d.URI, "fipsgate/fipsgate")
		}
		if !found {
			t.Errorf("%s: the provenance's resolved dependencies do not name the frontend image %s@%s: %+v", platform, frontendImage, frontendDigest, prov.BuildDefinition.ResolvedDependencies)
		}
	}

	// fipsgate verify reads the fipsgate statement among the others, and
	// the VSA beside it.
	code, out, res := runVerify(t, fipsgateBinary(t), "--json", "--plain-http", b.image)
	if code != 0 || res == nil || res.Status != attestation.Pass || len(res.Platforms) != len(platforms) {
		t.Fatalf("fipsgate verify: exit %d\n%s", code, out)
	}

	// Unchanged, rebuilt: the same image manifests, SBOMs, predicates and
	// VSAs; only the provenance, with its times and invocation id, is new.
	again := buildxCLI{}.run(t, b)
	mustSucceed(t, "the unchanged rebuild", again)
	rebuilt := statementsByPlatform(t, b.image, again.digest)
	for _, platform := range platforms {
		before, after := got[platform], rebuilt[platform]
		if before.manifest != after.manifest {
			t.Errorf("%s: the rebuild changed the image manifest: %s, then %s", platform, before.manifest, after.manifest)
		}
		for _, pt := range []string{spdxDocument, predicate.Type, predicate.VSAType} {
			if !slices.Equal(before.layerDigest[pt], after.layerDigest[pt]) {
				t.Errorf("%s: the rebuild changed the %s statements: %v, then %v", platform, pt, before.layerDigest[pt], after.layerDigest[pt])
			}
		}
	}
}

// modulePackage finds the module's file in an SBOM by its path and SHA-256
// (the predicate's), and returns the package URL of the package that
// contains it.
func modulePackage(t *testing.T, d spdx, path, sha string) string {
	t.Helper()
	var fileID string
	for _, f := range d.Files {
		// syft names files relative to the image's root.
		if "/"+strings.TrimPrefix(f.FileName, "/") == path {
			if got := f.sha256(); got != sha {
				t.Fatalf("the SBOM's %s has SHA-256 %s, the predicate's module %s", path, got, sha)
			}
			fileID = f.SPDXID
		}
	}
	if fileID == "" {
		t.Fatalf("the SBOM lists no file %s", path)
	}
	for _, r := range d.Relationships {
		if r.Type != "CONTAINS" || r.Related != fileID {
			continue
		}
		for _, p := range d.Packages {
			if p.SPDXID == r.Element {
				return p.purl()
			}
		}
	}
	t.Fatalf("no package of the SBOM contains %s", path)
	return ""
}

// samePackage tells whether two package URLs name the same package:
// the same type, namespace, name and version, whatever qualifiers each
// scanner adds (syft a distribution's point release and the upstream
// source, fipsgate its major release).
func samePackage(a, b string) bool {
	a, _, _ = strings.Cut(a, "?")
	b, _, _ = strings.Cut(b, "?")
	return a != "" && a == b
}

// manifestDigest is the digest of what ref (repository:tag, in the dev
// registry) names.
func manifestDigest(t *testing.T, ref string) string {
	t.Helper()
	_, body := fetchManifest(t, ref)
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func counts(m map[string][]statement) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
