//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/attestation"
	ociregistry "github.com/google/go-containerregistry/pkg/registry"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// TestVerifyTrust: fipsgate verify binds its answer to one digest — the
// attestations that digest covers, and, when asked, a cosign signature over
// it — and says so.
func TestVerifyTrust(t *testing.T) {
	bin := fipsgateBinary(t)
	b, r := verifyBuild(t, buildxCLI{}, testdata(t, "verify", "base-image"), map[string]string{"BASE": fipsBase()}, "linux/amd64")
	mustSucceed(t, "the attested build", r)
	repo := repoOf(b.image)
	ref := registry + "/" + repo

	t.Run("referrers", func(t *testing.T) {
		refs := startReferrersRegistry(t)
		dst := refs.host + "/" + repo
		regctl(t, "image", "copy", ref+"@"+r.digest, dst+":attested")
		// The same image, its index without the attestation manifests: they
		// stay in the repository, each with its subject, so only the
		// referrers API still lists them.
		var idx ocispecs.Index
		if err := json.Unmarshal(refs.manifest(t, repo, r.digest), &idx); err != nil {
			t.Fatal(err)
		}
		var kept []ocispecs.Descriptor
		for _, d := range idx.Manifests {
			if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		bare := refs.put(t, repo, "bare", ocispecs.MediaTypeImageIndex, idx)

		code, out, _ := runVerify(t, bin, dst+"@"+bare)
		if code != 1 || !strings.Contains(out, "1 fipsgate attestation(s) found only through the OCI referrers API were not trusted") {
			t.Errorf("a referrer-only attestation by default: exit %d, want 1 saying it was not trusted:\n%s", code, out)
		}
		code, out, res := runVerify(t, bin, "--json", "--referrers", dst+"@"+bare)
		if code != 0 || res.Platforms[0].Source != attestation.FromReferrers {
			t.Errorf("a referrer-only attestation with --referrers: exit %d, want 0 from %q:\n%s", code, attestation.FromReferrers, out)
		}
		code, out, _ = runVerify(t, bin, "--referrers", dst+"@"+bare)
		if code != 0 || !strings.Contains(out, "(from the referrers API, not covered by the digest)") {
			t.Errorf("the text output does not say where the attestation came from:\n%s", out)
		}
		// Where the index lists the attestation, it is what counts, the
		// referrers API listing it too.
		code, out, res = runVerify(t, bin, "--json", dst+"@"+r.digest)
		if code != 0 || res.Platforms[0].Source != attestation.FromIndex {
			t.Errorf("the attested index on a referrers registry: exit %d, want 0 from %q:\n%s", code, attestation.FromIndex, out)
		}
	})

	t.Run("tag moved after verification", func(t *testing.T) {
		tag := "trust-moved-" + uniqueTag
		tagManifest(t, repo, r.digest, tag)
		code, out, res := runVerify(t, bin, "--json", ref+":"+tag)
		if code != 0 || res.Tag != tag || res.Digest != r.digest || res.Pinned != ref+"@"+r.digest {
			t.Fatalf("exit %d, want 0 with the tag %s bound to %s:\n%s", code, tag, r.digest, out)
		}
		code, out, _ = runVerify(t, bin, ref+":"+tag)
		if code != 0 || !strings.Contains(out, "the tag "+tag+" resolved to "+r.digest+"; every answer below is bound to that digest") {
			t.Errorf("the text output does not say what the tag was bound to:\n%s", out)
		}
		moved := craft(t, repo, r.digest, tag, nil, "linux/amd64")
		// What was verified is still what the pinned reference names...
		code, out, res = runVerify(t, bin, "--json", res.Pinned)
		if code != 0 || res.Digest != r.digest {
			t.Errorf("the pinned reference after the tag moved: exit %d:\n%s", code, out)
		}
		// ...while the tag now names an image without attestation.
		code, out, res = runVerify(t, bin, "--json", ref+":"+tag)
		if code != 1 || res.Digest != moved || res.Tag != tag {
			t.Errorf("the moved tag: exit %d, want 1 bound to %s:\n%s", code, moved, out)
		}
	})

	t.Run("tag moved during verification", func(t *testing.T) {
		// The registry moves the tag to an unattested index as soon as it
		// has answered for it once: every later read must be by digest.
		refs := startReferrersRegistry(t)
		dst := refs.host + "/" + repo
		regctl(t, "image", "copy", ref+"@"+r.digest, dst+":attested")
		var idx ocispecs.Index
		if err := json.Unmarshal(refs.manifest(t, repo, r.digest), &idx); err != nil {
			t.Fatal(err)
		}
		idx.Manifests = idx.Manifests[:1]
		idx.Annotations = map[string]string{"org.opencontainers.image.description": "unattested"}
		unattested := refs.put(t, repo, "unattested", ocispecs.MediaTypeImageIndex, idx)
		refs.moveAfterFirstRead(repo, "attested", unattested)
		code, out, res := runVerify(t, bin, "--json", dst+":attested")
		if code != 0 || res.Digest != r.digest || res.Pinned != dst+"@"+r.digest {
			t.Errorf("exit %d, want 0 bound to %s:\n%s", code, r.digest, out)
		}
		code, _, res = runVerify(t, bin, "--json", dst+":attested")
		if code != 1 || res.Digest != unattested {
			t.Errorf("the tag did not move (exit %d, digest %s): the test proves nothing", code, res.Digest)
		}
	})

	// Each signing case gets an index of its own (the same image, one
	// annotation apart), so that signatures from earlier runs and other
	// cases, kept by the registry, cannot answer for it.
	unique := func(name string) string {
		_, body := fetchManifest(t, repo+"@"+r.digest)
		var idx ocispecs.Index
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		idx.Annotations = map[string]string{"org.opencontainers.image.ref.name": name + "-" + uniqueTag}
		return pushManifest(t, repo, name+"-"+uniqueTag, ocispecs.MediaTypeImageIndex, idx).Digest.String()
	}
	keys := t.TempDir()
	cosign(t, keys, "generate-key-pair", "--output-key-prefix", "signer")
	cosign(t, keys, "generate-key-pair", "--output-key-prefix", "other")
	signerPub, otherKey := filepath.Join(keys, "signer.pub"), filepath.Join(keys, "other.key")
	signed := unique("signed")
	cosign(t, keys, "sign", "--key", filepath.Join(keys, "signer.key"), "--tlog-upload=false", "--allow-http-registry", "--yes", ref+"@"+signed)

	t.Run("key", func(t *testing.T) {
		unsigned := unique("unsigned")
		byOther := unique("by-other")
		cosign(t, keys, "sign", "--key", otherKey, "--tlog-upload=false", "--allow-http-registry", "--yes", ref+"@"+byOther)
		for _, tc := range []struct {
			name   string
			args   []string
			code   int
			reason string
		}{
			{"signed with the key", []string{ref + "@" + signed}, 0, "verified with " + signerPub},
			{"the tag of a signed image", []string{ref + ":signed-" + uniqueTag}, 0, "bound to that digest"},
			{"unsigned", []string{ref + "@" + unsigned}, 1, "is not signed: the registry has no " + attestation.SignatureTag(digest.Digest(unsigned)) + " tag"},
			{"signed with another key", []string{ref + "@" + byOther}, 1, "no signature in " + attestation.SignatureTag(digest.Digest(byOther)) + " verifies"},
		} {
			code, out, _ := runVerify(t, bin, append([]string{"--key", signerPub, "--insecure-ignore-tlog"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.reason) {
				t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, tc.code, tc.reason, out)
			}
		}
		// A signature is over one digest: copied to another image's tag,
		// it does not sign that image.
		_, sig := fetchManifest(t, repo+":"+attestation.SignatureTag(digest.Digest(signed)))
		replayed := unique("replayed")
		var m ocispecs.Manifest
		if err := json.Unmarshal(sig, &m); err != nil {
			t.Fatal(err)
		}
		pushManifest(t, repo, attestation.SignatureTag(digest.Digest(replayed)), ocispecs.MediaTypeImageManifest, m)
		code, out, _ := runVerify(t, bin, "--key", signerPub, "--insecure-ignore-tlog", ref+"@"+replayed)
		if code != 1 || !strings.Contains(out, "the signature is over "+signed+", not "+replayed) {
			t.Errorf("a signature replayed onto another image: exit %d, want 1:\n%s", code, out)
		}
		// fipsgate checks no transparency log, and will not let a cosign
		// user think it did.
		code, out, _ = runVerify(t, bin, "--key", signerPub, ref+"@"+signed)
		if code != 2 || !strings.Contains(out, "--insecure-ignore-tlog") {
			t.Errorf("--key without --insecure-ignore-tlog: exit %d, want 2:\n%s", code, out)
		}
		// cosign agrees.
		cosign(t, keys, "verify", "--key", signerPub, "--insecure-ignore-tlog", "--allow-http-registry", ref+"@"+signed)
		code, out, res := runVerify(t, bin, "--json", "--key", signerPub, "--insecure-ignore-tlog", ref+"@"+signed)
		if code != 0 || res.Signature == nil || res.Signature.Status != attestation.Pass || res.Signature.Tag != attestation.SignatureTag(digest.Digest(signed)) {
			t.Errorf("--json: exit %d, want the signature's answer:\n%s", code, out)
		}
	})

	t.Run("keyless", func(t *testing.T) {
		const identity, issuer = "https://ci.example.invalid/pipelines/release", "https://issuer.example.invalid"
		ca := newTestCA(t, "fipsgate test CA")
		dir := t.TempDir()
		trusted := ca.trustedRoot(t, dir)
		certSigned := unique("keyless")
		ca.sign(t, dir, identity, issuer, ref+"@"+certSigned)
		other := newTestCA(t, "another CA")
		otherRoot := other.trustedRoot(t, dir)
		keySigned := signed
		for _, tc := range []struct {
			name   string
			args   []string
			code   int
			reason string
		}{
			{"identity and issuer match", []string{"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", trusted, ref + "@" + certSigned}, 0, "by " + identity + " (issuer " + issuer + ")"},
			{"regular expressions match", []string{"--certificate-identity-regexp", `^https://ci\.example\.invalid/`, "--certificate-oidc-issuer-regexp", `example\.invalid$`, "--trusted-root", trusted, ref + "@" + certSigned}, 0, "by " + identity},
			{"another identity", []string{"--certificate-identity", "https://ci.example.invalid/pipelines/nightly", "--certificate-oidc-issuer", issuer, "--trusted-root", trusted, ref + "@" + certSigned}, 1, "failed to verify certificate identity"},
			{"another issuer", []string{"--certificate-identity", identity, "--certificate-oidc-issuer", "https://other.example.invalid", "--trusted-root", trusted, ref + "@" + certSigned}, 1, "failed to verify certificate identity"},
			{"a CA the trusted root does not hold", []string{"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", otherRoot, ref + "@" + certSigned}, 1, "failed to verify leaf certificate"},
			{"signed with a key, not a certificate", []string{"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", trusted, ref + "@" + keySigned}, 1, "signed with a key, not a certificate"},
			{"no trusted root", []string{"--certificate-identity", identity, "--certificate-oidc-issuer", issuer, ref + "@" + certSigned}, 2, "needs --trusted-root"},
		} {
			code, out, _ := runVerify(t, bin, append([]string{"--insecure-ignore-tlog"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.reason) {
				t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, tc.code, tc.reason, out)
			}
		}
		// cosign reads the same trusted root and agrees.
		cosignVerify := func(identity string) error {
			return exec.Command("cosign", "verify", "--trusted-root", trusted, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
				"--insecure-ignore-tlog", "--insecure-ignore-sct", "--allow-http-registry", ref+"@"+certSigned).Run()
		}
		if err := cosignVerify(identity); err != nil {
			t.Errorf("cosign verify of the identity fipsgate accepts: %v", err)
		}
		if err := cosignVerify("https://ci.example.invalid/pipelines/nightly"); err == nil {
			t.Errorf("cosign verify accepts an identity fipsgate refuses")
		}
		code, out, res := runVerify(t, bin, "--json", "--insecure-ignore-tlog", "--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", trusted, ref+"@"+certSigned)
		if code != 0 || res.Signature.Identity == nil || res.Signature.Identity.SubjectAlternativeName != identity || res.Signature.Identity.Issuer != issuer {
			t.Errorf("--json: exit %d, want the signer's identity:\n%s", code, out)
		}

		// A signature in a transparency log: cosign's signature manifest
		// given the Rekor bundle a log of the trusted root signed.
		log := newTestLog(t)
		logged := unique("keyless-logged")
		ca.sign(t, dir, identity, issuer, ref+"@"+logged)
		log.record(t, repo, logged)
		withLog := ca.trustedRoot(t, dir, log)
		otherLog := ca.trustedRoot(t, t.TempDir(), newTestLog(t))
		for _, tc := range []struct {
			name   string
			root   string
			image  string
			code   int
			reason string
		}{
			{"logged, the log trusted", withLog, logged, 0, "in the transparency log (entry 1000, integrated "},
			{"logged by a log the root does not hold", otherLog, logged, 1, "not enough verified log entries"},
			{"not logged", withLog, certSigned, 1, "no transparency-log entry"},
		} {
			code, out, _ := runVerify(t, bin, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", tc.root, ref+"@"+tc.image)
			if code != tc.code || !strings.Contains(out, tc.reason) {
				t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, tc.code, tc.reason, out)
			}
		}
		// cosign checks the log's promise offline, with the same roots, and
		// agrees.
		cosignVerifyLogged := func(root string) ([]byte, error) {
			return exec.Command("cosign", "verify", "--trusted-root", root, "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
				"--insecure-ignore-sct", "--allow-http-registry", ref+"@"+logged).CombinedOutput()
		}
		if out, err := cosignVerifyLogged(withLog); err != nil {
			t.Errorf("cosign verify of the logged signature: %v\n%s", err, out)
		}
		if _, err := cosignVerifyLogged(otherLog); err == nil {
			t.Errorf("cosign verify accepts a log entry that fipsgate refuses")
		}
	})
}

// tagManifest points repo:tag at the manifest repo@dgst, byte for byte.
func tagManifest(t *testing.T, repo, dgst, tag string) {
	t.Helper()
	mediaType, body := fetchManifest(t, repo+"@"+dgst)
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tagging %s@%s as %s: %s", repo, dgst, tag, resp.Status)
	}
}

// cosign runs the cosign CLI in dir, with an empty key password.
func cosign(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("cosign", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "COSIGN_YES=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func regctl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("regctl", args...)
	// Every registry the tests use is on loopback, over plain HTTP.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var hosts []string
	for _, a := range args {
		if h, _, ok := strings.Cut(a, "/"); ok && strings.HasPrefix(h, "127.0.0.1:") {
			hosts = append(hosts, "--host", "reg="+h+",tls=disabled")
		}
	}
	cmd.Args = append([]string{"regctl"}, append(hosts, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("regctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// referrersRegistry is a registry that implements the OCI referrers API,
// in this process, on loopback: go-containerregistry's (the module proxy
// here does not serve zot).
type referrersRegistry struct {
	host    string
	handler http.Handler

	mu    sync.Mutex
	moves map[string]string // "repo:tag" → the digest it moves to once read
}

func startReferrersRegistry(t *testing.T) *referrersRegistry {
	t.Helper()
	r := &referrersRegistry{
		handler: ociregistry.New(ociregistry.WithReferrersSupport(true), ociregistry.Logger(log.New(io.Discard, "", 0))),
		moves:   map[string]string{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	r.host = l.Addr().String()
	return r
}

func (r *referrersRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.handler.ServeHTTP(w, req)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return
	}
	repo, tag, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/")
	if !ok {
		return
	}
	r.mu.Lock()
	to, move := r.moves[repo+":"+tag]
	delete(r.moves, repo+":"+tag)
	r.mu.Unlock()
	if move {
		body := r.get(repo, to)
		put := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+url.PathEscape(tag), bytes.NewReader(body))
		put.Header.Set("Content-Type", ocispecs.MediaTypeImageIndex)
		r.handler.ServeHTTP(httptest.NewRecorder(), put)
	}
}

// moveAfterFirstRead points repo:tag at dgst as soon as it has been read once.
func (r *referrersRegistry) moveAfterFirstRead(repo, tag, dgst string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.moves[repo+":"+tag] = dgst
}

func (r *referrersRegistry) get(repo, ref string) []byte {
	req := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", ocispecs.MediaTypeImageIndex+", "+ocispecs.MediaTypeImageManifest)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec.Body.Bytes()
}

func (r *referrersRegistry) manifest(t *testing.T, repo, ref string) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/manifests/%s", r.host, repo, ref))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s@%s: %v %s", repo, ref, err, resp.Status)
	}
	return body
}

func (r *referrersRegistry) put(t *testing.T, repo, tag, mediaType string, v any) string {
	t.Helper()
	dt, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", r.host, repo, tag), bytes.NewReader(dt))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s:%s: %s", repo, tag, resp.Status)
	}
	return digest.FromBytes(dt).String()
}

// testCA is a certificate authority of the test's own, standing in for
// Fulcio, which cannot be reached here.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"fipsgate e2e"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// trustedRoot writes a Sigstore trusted root whose only certificate
// authority is ca, as sigstore-go writes one, and returns its path.
// With log, the root also holds that transparency log's key.
func (ca *testCA) trustedRoot(t *testing.T, dir string, log ...*testLog) string {
	t.Helper()
	tlogs := map[string]*root.TransparencyLog{}
	name := ca.cert.Subject.CommonName
	for _, l := range log {
		tlogs[hex.EncodeToString(l.id)] = &root.TransparencyLog{
			BaseURL: "https://rekor.example.invalid", ID: l.id, ValidityPeriodStart: ca.cert.NotBefore,
			HashFunc: crypto.SHA256, PublicKey: l.key.Public(), SignatureHashFunc: crypto.SHA256,
		}
		name += " and a log"
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{&root.FulcioCertificateAuthority{
		Root:                ca.cert,
		ValidityPeriodStart: ca.cert.NotBefore,
		URI:                 "https://ca.example.invalid",
	}}, nil, nil, tlogs)
	if err != nil {
		t.Fatal(err)
	}
	dt, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, dt, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Fulcio's certificate extensions for the OIDC issuer: v1, the raw string
// (deprecated, but what cosign v2 reads), and v2, a DER UTF8String. Fulcio
// writes both.
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// sign issues a code-signing certificate for identity, as Fulcio would
// for a token from issuer, and signs image with `cosign sign` and it.
func (ca *testCA) sign(t *testing.T, dir, identity, issuer, image string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuerDER, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	san, err := url.Parse(identity)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(2),
		NotBefore:       time.Now().Add(-time.Minute),
		NotAfter:        time.Now().Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:            []*url.URL{san},
		ExtraExtensions: []pkix.Extension{{Id: oidIssuerV1, Value: []byte(issuer)}, {Id: oidIssuerV2, Value: issuerDER}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("leaf-key.pem", "PRIVATE KEY", pkcs8)
	cert := write("leaf.crt", "CERTIFICATE", der)
	chain := write("ca.crt", "CERTIFICATE", ca.cert.Raw)
	os.Remove(filepath.Join(dir, "leaf.key"))
	os.Remove(filepath.Join(dir, "leaf.pub"))
	cosign(t, dir, "import-key-pair", "--key", "leaf-key.pem", "--output-key-prefix", "leaf")
	cosign(t, dir, "sign", "--key", "leaf.key", "--certificate", cert, "--certificate-chain", chain,
		"--tlog-upload=false", "--allow-http-registry", "--yes", image)
}

// testLog stands in for Rekor, which cannot be reached here: its key signs
// the promise (SET) that cosign records for an entry.
type testLog struct {
	key *ecdsa.PrivateKey
	id  []byte
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &testLog{key: key, id: id[:]}
}

// record logs the signatures of repo@dgst (cosign's signature manifest) as
// Rekor would have, had cosign uploaded them: a hashedrekord entry for
// each, and its SET in the dev.sigstore.cosign/bundle annotation.
func (l *testLog) record(t *testing.T, repo, dgst string) {
	t.Helper()
	tag := attestation.SignatureTag(digest.Digest(dgst))
	_, body := fetchManifest(t, repo+":"+tag)
	var m ocispecs.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	for i, layer := range m.Layers {
		sig, err := base64.StdEncoding.DecodeString(layer.Annotations["dev.cosignproject.cosign/signature"])
		if err != nil {
			t.Fatal(err)
		}
		entry, err := json.Marshal(map[string]any{"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": map[string]any{
			"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": layer.Digest.Encoded()}},
			"signature": map[string]any{"content": b64(sig), "publicKey": map[string]any{"content": b64([]byte(layer.Annotations["dev.sigstore.cosign/certificate"]))}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json sorts map keys: this is the canonical JSON a SET signs.
		payload := map[string]any{"body": b64(entry), "integratedTime": time.Now().Unix(), "logIndex": 1000 + i, "logID": hex.EncodeToString(l.id)}
		dt, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(dt)
		set, err := ecdsa.SignASN1(rand.Reader, l.key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := json.Marshal(map[string]any{"SignedEntryTimestamp": b64(set), "Payload": payload})
		if err != nil {
			t.Fatal(err)
		}
		m.Layers[i].Annotations["dev.sigstore.cosign/bundle"] = string(bundle)
	}
	pushManifest(t, repo, tag, ocispecs.MediaTypeImageManifest, m)
}
