//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// fetchManifest reads an index or manifest from the dev registry.
// ref is "repository:tag" or "repository@digest", without the registry host.
func fetchManifest(t *testing.T, ref string) (mediaType string, body []byte) {
	t.Helper()
	repo, tag, ok := strings.Cut(ref, "@")
	if !ok {
		repo, tag, _ = strings.Cut(ref, ":")
	}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", strings.Join([]string{
		ocispecs.MediaTypeImageIndex, ocispecs.MediaTypeImageManifest,
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s: %s: %s", ref, resp.Status, body)
	}
	return resp.Header.Get("Content-Type"), body
}

// imagePlatforms lists the platforms of the image manifests that ref points
// at: one for a single manifest, every non-attestation entry for an index.
func imagePlatforms(t *testing.T, repo, digest string) []string {
	t.Helper()
	mt, body := fetchManifest(t, repo+"@"+digest)
	if mt != ocispecs.MediaTypeImageIndex {
		var m ocispecs.Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return []string{"(single manifest)"}
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" || d.Platform == nil {
			continue
		}
		out = append(out, platforms.Format(*d.Platform))
	}
	return out
}

func fetchBlob(t *testing.T, repo, digest string) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/blobs/%s", registry, repo, digest))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s@%s: %s", repo, digest, resp.Status)
	}
	return body
}

// statement is the part of an in-toto statement the tests read.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// pushedImage is an index in the registry: its platform manifests and, per
// platform manifest digest, the in-toto statements attached to it.
type pushedImage struct {
	manifests    map[string]string // platform → manifest digest
	attestations map[string][]statement
	// attestationManifests are, per platform manifest digest, the
	// attestation manifests that refer to it, and layers their layers.
	attestationManifests map[string][]string
	layers               map[string][]ocispecs.Descriptor
}

func readPushedImage(t *testing.T, repo, digest string) pushedImage {
	t.Helper()
	img := pushedImage{manifests: map[string]string{}, attestations: map[string][]statement{},
		attestationManifests: map[string][]string{}, layers: map[string][]ocispecs.Descriptor{}}
	mt, body := fetchManifest(t, repo+"@"+digest)
	if mt != ocispecs.MediaTypeImageIndex {
		img.manifests["(single manifest)"] = digest
		return img
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			if d.Platform != nil {
				img.manifests[platforms.Format(*d.Platform)] = d.Digest.String()
			}
			continue
		}
		subject := d.Annotations["vnd.docker.reference.digest"]
		_, mbody := fetchManifest(t, repo+"@"+d.Digest.String())
		var m ocispecs.Manifest
		if err := json.Unmarshal(mbody, &m); err != nil {
			t.Fatal(err)
		}
		img.attestationManifests[subject] = append(img.attestationManifests[subject], d.Digest.String())
		img.layers[subject] = append(img.layers[subject], m.Layers...)
		for _, l := range m.Layers {
			var st statement
			if err := json.Unmarshal(fetchBlob(t, repo, l.Digest.String()), &st); err != nil {
				t.Fatalf("attestation layer %s: %v", l.Digest, err)
			}
			if st.PredicateType != l.Annotations["in-toto.io/predicate-type"] {
				t.Fatalf("layer annotation says %q, statement says %q", l.Annotations["in-toto.io/predicate-type"], st.PredicateType)
			}
			img.attestations[subject] = append(img.attestations[subject], st)
		}
	}
	return img
}
