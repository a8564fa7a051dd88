package attestation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/predicate"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// memSource is an image held in memory.
type memSource struct {
	root      ocispecs.Descriptor
	blobs     map[digest.Digest][]byte
	referrers map[digest.Digest][]ocispecs.Descriptor
	tags      map[string]ocispecs.Descriptor
}

func (m *memSource) String() string { return "memory" }
func (m *memSource) Root(context.Context) (ocispecs.Descriptor, error) {
	return m.root, nil
}
func (m *memSource) Fetch(_ context.Context, d ocispecs.Descriptor, limit int64) ([]byte, error) {
	dt, ok := m.blobs[d.Digest]
	if !ok {
		return nil, fmt.Errorf("%s: not found", d.Digest)
	}
	if int64(len(dt)) > limit {
		return nil, fmt.Errorf("over the limit")
	}
	return dt, checked(d, dt)
}
func (m *memSource) Referrers(_ context.Context, dgst digest.Digest) ([]ocispecs.Descriptor, error) {
	if m.referrers == nil {
		return nil, ErrNoReferrers
	}
	return m.referrers[dgst], nil
}
func (m *memSource) Tagged(_ context.Context, tag string) (ocispecs.Descriptor, bool, error) {
	d, ok := m.tags[tag]
	return d, ok, nil
}

func (m *memSource) add(mediaType string, dt []byte) ocispecs.Descriptor {
	d := ocispecs.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(dt), Size: int64(len(dt))}
	m.blobs[d.Digest] = dt
	return d
}

func mustJSON(v any) []byte {
	dt, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return dt
}

// image builds an index with one linux/amd64 manifest and, unless
// statement is nil, an attestation manifest holding it. statement may
// refer to the manifest digest as "$MANIFEST".
func image(statement *string, summaries ...string) *memSource {
	m := &memSource{blobs: map[digest.Digest][]byte{}}
	manifest := m.add(ocispecs.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`))
	manifest.Platform = &ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	entries := []ocispecs.Descriptor{manifest}
	if statement != nil {
		st := m.add("application/vnd.in-toto+json", []byte(strings.ReplaceAll(*statement, "$MANIFEST", manifest.Digest.Encoded())))
		var typed struct {
			PredicateType string `json:"predicateType"`
		}
		json.Unmarshal([]byte(*statement), &typed)
		st.Annotations = map[string]string{"in-toto.io/predicate-type": typed.PredicateType}
		layers := []ocispecs.Descriptor{st}
		for _, v := range summaries {
			l := m.add("application/vnd.in-toto+json", []byte(strings.ReplaceAll(v, "$MANIFEST", manifest.Digest.Encoded())))
			l.Annotations = map[string]string{"in-toto.io/predicate-type": predicate.VSAType}
			layers = append(layers, l)
		}
		att := m.add(ocispecs.MediaTypeImageManifest, mustJSON(ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, Layers: layers}))
		att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": manifest.Digest.String()}
		att.Platform = &ocispecs.Platform{OS: "unknown", Architecture: "unknown"}
		entries = append(entries, att)
	}
	m.root = m.add(ocispecs.MediaTypeImageIndex, mustJSON(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: entries}))
	return m
}

func stmt(result, subject, extra string) *string {
	s := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","predicateType":%q,"subject":[{"name":"x","digest":{"sha256":%q}}],
"predicate":{"schemaVersion":"2.0","result":%q,"platform":"linux/amd64","application":{"checked":false,"command":[]},
"stages":[{"id":"negative/module-corrupted","kind":"negative","mutation":"module-corrupted","checks":[]}],"warnings":[]%s}}`, predicate.Type, subject, result, extra)
	return &s
}

// stmtV1 is a statement of fipsgate 1.x, schema 1.0.
func stmtV1(result, subject string) *string {
	s := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","predicateType":%q,"subject":[{"name":"x","digest":{"sha256":%q}}],
"predicate":{"schemaVersion":"1.0","result":%q,"platform":"linux/amd64","application":{"checked":true,"command":["/app"]},
"module":{"name":"OpenSSL FIPS Provider","version":"3.1.2","validated":true,"validation":"v1 says so"},
"stages":[{"name":"negative","mutation":"module-corrupted","checks":[]}]}}`, predicate.TypeV1, subject, result)
	return &s
}

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    *memSource
		policy Policy
		status string
		reason string
	}{
		{"passes", image(stmt("PASSED", "$MANIFEST", "")), Policy{}, Pass, "attested"},
		{"no attestation", image(nil), Policy{}, Fail, "no fipsgate attestation"},
		{"failed", image(stmt("FAILED", "$MANIFEST", "")), Policy{}, Fail, `result is "FAILED"`},
		{"other subject", image(stmt("PASSED", strings.Repeat("0", 64), "")), Policy{}, Fail, "subject is not this platform's manifest"},
		{"app required", image(stmt("PASSED", "$MANIFEST", "")), Policy{RequireApp: true}, Fail, "application check is required"},
		{"validated required", image(stmt("PASSED", "$MANIFEST", "")), Policy{RequireValidated: true}, Fail, "CMVP-validated module is required"},
		{"newer schema required", image(stmt("PASSED", "$MANIFEST", "")), Policy{MinVersion: "2.1"}, Fail, "older than the required 2.1"},
		{"schema 1 read", image(stmtV1("PASSED", "$MANIFEST")), Policy{MinVersion: "1.0", RequireApp: true, RequireValidated: true, RequireNegative: true}, Pass,
			"attested OpenSSL FIPS Provider 3.1.2 (CMVP-validated), app /app, 1 negative tests"},
		{"schema 1 refused by default", image(stmtV1("PASSED", "$MANIFEST")), Policy{MinVersion: predicate.Version}, Fail, "predicate schema version 1.0 is older than the required 2.0"},
		{"schema 1 failed", image(stmtV1("FAILED", "$MANIFEST")), Policy{MinVersion: "1.0"}, Fail, `result is "FAILED"`},
		{"platform missing", image(stmt("PASSED", "$MANIFEST", "")), Policy{Platforms: []string{"linux/arm64"}}, Fail, "no manifest for this platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), tc.src, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Platforms[len(res.Platforms)-1]
			if res.Status != tc.status || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("status %s, reason %q; want %s with %q", res.Status, got.Reason, tc.status, tc.reason)
			}
		})
	}
}

// vsa is a statement of the verification summary of the predicate of
// statement, about subject, changed by edit.
func vsa(statement *string, subject string, edit func(*predicate.VerificationSummary)) string {
	var st struct {
		Predicate predicate.Predicate `json:"predicate"`
	}
	if err := json.Unmarshal([]byte(*statement), &st); err != nil {
		panic(err)
	}
	s := predicate.Summarize(st.Predicate, "")
	if edit != nil {
		edit(&s)
	}
	return fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","predicateType":%q,"subject":[{"name":"x","digest":{"sha256":%q}}],"predicate":%s}`,
		predicate.VSAType, subject, mustJSON(s))
}

// fipsgate's verification summary must be the one of the predicate beside
// it, about the same manifest; another verifier's is not fipsgate's to
// judge; an image without one (fipsgate before the VSA) passes.
func TestVerifySummaries(t *testing.T) {
	passed := stmt("PASSED", "$MANIFEST", "")
	many := make([]string, maxSummaries+1)
	for i := range many {
		many[i] = vsa(passed, "$MANIFEST", nil)
	}
	for _, tc := range []struct {
		name      string
		summaries []string
		status    string
		reason    string
	}{
		{"none", nil, Pass, "attested"},
		{"the predicate's", []string{vsa(passed, "$MANIFEST", nil)}, Pass, "attested"},
		{"claims more than the predicate", []string{vsa(passed, "$MANIFEST", func(s *predicate.VerificationSummary) {
			s.VerifiedLevels = []string{predicate.LevelEnforcedApplication, predicate.LevelValidatedModule}
		})}, Fail, "does not match the predicate beside it"},
		{"another resource", []string{vsa(passed, "$MANIFEST", func(s *predicate.VerificationSummary) { s.ResourceURI = "pkg:docker/registry.example/app" })}, Pass, "attested"},
		{"another verifier version", []string{vsa(passed, "$MANIFEST", func(s *predicate.VerificationSummary) { s.Verifier.Version["fipsgate"] = "v9" })}, Fail, "does not match"},
		{"another subject", []string{vsa(passed, strings.Repeat("0", 64), nil)}, Fail, "not a statement about this platform's manifest"},
		{"another verifier's", []string{vsa(passed, strings.Repeat("0", 64), func(s *predicate.VerificationSummary) {
			s.Verifier.ID = "https://verifier.example"
			s.VerificationResult = "FAILED"
		})}, Pass, "attested"},
		// What encoding/json does not see: another reader of the summary
		// would read levels the predicate never earned.
		{"a key in another case", []string{strings.Replace(vsa(passed, "$MANIFEST", nil), `"verifiedLevels":`,
			`"verifiedLevels":["FIPSGATE_CMVP_VALIDATED_MODULE"],"VerifiedLevels":`, 1)}, Fail, "does not match"},
		{"a key twice", []string{strings.Replace(vsa(passed, "$MANIFEST", nil), `"verifiedLevels":`,
			`"verifiedLevels":["FIPSGATE_CMVP_VALIDATED_MODULE"],"verifiedLevels":`, 1)}, Fail, "does not match"},
		{"an unknown key", []string{strings.Replace(vsa(passed, "$MANIFEST", nil), `"verifiedLevels":`,
			`"timeVerified":"2026-12-02T00:00:00Z","verifiedLevels":`, 1)}, Fail, "does not match"},
		{"malformed", []string{`{"_type":"https://in-toto.io/Statement/v1","predicateType":"` + predicate.VSAType + `","predicate":{"verifiedLevels":"all"}}`}, Fail, "malformed"},
		{"too many", many, Error, "more than 8 verification summaries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), image(passed, tc.summaries...), Policy{})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Platforms[0]
			if res.Status != tc.status || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("status %s, reason %q; want %s with %q", res.Status, got.Reason, tc.status, tc.reason)
			}
		})
	}
}

func TestVerifyRefusesTamperedContent(t *testing.T) {
	src := image(stmt("PASSED", "$MANIFEST", ""))
	for d, dt := range src.blobs {
		if strings.Contains(string(dt), "PASSED") {
			src.blobs[d] = []byte(strings.Replace(string(dt), "PASSED", "PASSEd", 1))
		}
	}
	res, err := Verify(context.Background(), src, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Error || res.ExitCode() != 2 {
		t.Errorf("tampered statement: %+v", res)
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
		err  bool
	}{
		{"1.0", "1.1", true, false}, {"1.10", "1.9", false, false}, {"2", "1.9", false, false},
		{"1.0", "1.0", false, false}, {"x", "1.0", false, true},
	} {
		less, err := versionLess(tc.a, tc.b)
		if less != tc.less || (err != nil) != tc.err {
			t.Errorf("versionLess(%s, %s) = %v, %v", tc.a, tc.b, less, err)
		}
	}
}

// FuzzVerify feeds hostile statements and manifests to the decoders: the
// verifier must answer, never crash, and never pass what it cannot read.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(*stmt("PASSED", "$MANIFEST", "")), []byte(`{"schemaVersion":2}`))
	f.Add([]byte(`{"_type":1}`), []byte(`{"layers":[{"mediaType":"application/vnd.in-toto+json","size":-1}]}`))
	f.Fuzz(func(t *testing.T, statementJSON, manifestJSON []byte) {
		s := string(statementJSON)
		src := image(&s)
		// A hostile attestation manifest beside the real one.
		extra := src.add(ocispecs.MediaTypeImageManifest, manifestJSON)
		var idx ocispecs.Index
		_ = json.Unmarshal(src.blobs[src.root.Digest], &idx)
		extra.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": idx.Manifests[0].Digest.String()}
		idx.Manifests = append([]ocispecs.Descriptor{extra}, idx.Manifests...)
		src.root = src.add(ocispecs.MediaTypeImageIndex, mustJSON(idx))
		res, err := Verify(context.Background(), src, Policy{})
		if err != nil {
			return
		}
		if res.Status == Pass {
			for _, p := range res.Platforms {
				if p.Predicate == nil || p.Predicate.Result != predicate.Passed {
					t.Fatalf("passed without a PASSED predicate: %+v", p)
				}
			}
		}
	})
}
