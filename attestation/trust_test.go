package attestation

import (
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
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// referrerOnly moves the attestation manifest of src out of its index, to
// where only the referrers API lists it.
func referrerOnly(t *testing.T, src *memSource) *memSource {
	t.Helper()
	dt, err := src.Fetch(context.Background(), src.root, MaxManifestSize)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispecs.Index
	mustUnmarshal(t, dt, &idx)
	image, att := idx.Manifests[0], idx.Manifests[1]
	idx.Manifests = idx.Manifests[:1]
	src.root = src.add(ocispecs.MediaTypeImageIndex, mustJSON(idx))
	src.referrers = map[digest.Digest][]ocispecs.Descriptor{image.Digest: {att}}
	return src
}

func TestVerifyReferrers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    *memSource
		policy Policy
		status string
		source string
		reason string
	}{
		{"in the index", image(stmt("PASSED", "$MANIFEST", "")), Policy{}, Pass, FromIndex, "attested"},
		{"referrer only", referrerOnly(t, image(stmt("PASSED", "$MANIFEST", ""))), Policy{}, Fail, "", "1 fipsgate attestation(s) found only through the OCI referrers API were not trusted"},
		{"referrer only, accepted", referrerOnly(t, image(stmt("PASSED", "$MANIFEST", ""))), Policy{Referrers: true}, Pass, FromReferrers, "attested"},
		{"referrer only, accepted, failed", referrerOnly(t, image(stmt("FAILED", "$MANIFEST", ""))), Policy{Referrers: true}, Fail, FromReferrers, `result is "FAILED"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), tc.src, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			p := res.Platforms[0]
			if res.Status != tc.status || p.Source != tc.source || !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("status %s, source %q, reason %q; want %s, %q, %q", res.Status, p.Source, p.Reason, tc.status, tc.source, tc.reason)
			}
		})
	}
}

// sign adds to src a cosign signature (the tags format) of payload.
// With log, the signature's Rekor entry is recorded as integrated at that
// log's time.
func sign(t *testing.T, src *memSource, over digest.Digest, key *ecdsa.PrivateKey, cert, chain *x509.Certificate, payload string, log *testLog) {
	t.Helper()
	if payload == "" {
		payload = fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"example.invalid/app"},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, over)
	}
	sum := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	layer := src.add(cosignPayloadMediaType, []byte(payload))
	layer.Annotations = map[string]string{cosignSignatureAnnotation: base64.StdEncoding.EncodeToString(sig)}
	signer, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		signer = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
		layer.Annotations[cosignCertificateAnnotation] = string(signer)
		layer.Annotations[cosignChainAnnotation] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain.Raw}))
	}
	if log != nil {
		layer.Annotations[cosignBundleAnnotation] = log.bundle(t, []byte(payload), sig, signer)
	}
	if src.tags == nil {
		src.tags = map[string]ocispecs.Descriptor{}
	}
	src.tags[SignatureTag(src.root.Digest)] = src.add(ocispecs.MediaTypeImageManifest, mustJSON(ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, Layers: []ocispecs.Descriptor{layer}}))
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func certificate(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifySignatureWithKey(t *testing.T) {
	key, other := newKey(t), newKey(t)
	signed := func(by *ecdsa.PrivateKey, payload string) *memSource {
		src := image(stmt("PASSED", "$MANIFEST", ""))
		sign(t, src, src.root.Digest, by, nil, nil, payload, nil)
		return src
	}
	for _, tc := range []struct {
		name   string
		src    *memSource
		status string
		reason string
	}{
		{"signed", signed(key, ""), Pass, "verified with cosign.pub"},
		{"unsigned", image(stmt("PASSED", "$MANIFEST", "")), Fail, "is not signed"},
		{"another key", signed(other, ""), Fail, "no signature in"},
		{"over another digest", signed(key, fmt.Sprintf(`{"critical":{"image":{"docker-manifest-digest":"sha256:%s"},"type":"cosign container image signature"}}`, strings.Repeat("0", 64))), Fail, "the signature is over sha256:000"},
		{"not a cosign payload", signed(key, `{"critical":{"type":"something else"}}`), Fail, "not \"cosign container image signature\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), tc.src, Policy{Signature: &SignaturePolicy{Key: key.Public(), KeyName: "cosign.pub", IgnoreTlog: true}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Signature == nil || !strings.Contains(res.Signature.Reason, tc.reason) {
				t.Errorf("status %s, signature %+v; want %s with %q", res.Status, res.Signature, tc.status, tc.reason)
			}
		})
	}
}

func TestVerifySignatureKeyless(t *testing.T) {
	const identity, issuer = "https://ci.example.invalid/release", "https://issuer.example.invalid"
	newCA := func() (*x509.Certificate, *ecdsa.PrivateKey) {
		k := newKey(t)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
		return certificate(t, tmpl, tmpl, k.Public(), k), k
	}
	ca, caKey := newCA()
	otherCA, _ := newCA()
	leafKey := newKey(t)
	issuerDER, _ := asn1.MarshalWithParams(issuer, "utf8")
	san, _ := url.Parse(identity)
	leaf := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(2),
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:            []*url.URL{san},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerDER}},
	}, ca, leafKey.Public(), caKey)
	trusted := func(c *x509.Certificate) root.TrustedMaterial {
		tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: c, URI: "https://ca.example.invalid"}}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Through JSON, as --trusted-root reads it.
		dt, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		if tr, err = root.NewTrustedRootFromJSON(dt); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	id := func(san, iss string) verify.CertificateIdentity {
		ci, err := verify.NewShortCertificateIdentity(iss, "", san, "")
		if err != nil {
			t.Fatal(err)
		}
		return ci
	}
	src := image(stmt("PASSED", "$MANIFEST", ""))
	sign(t, src, src.root.Digest, leafKey, leaf, ca, "", nil)
	keySigned := image(stmt("PASSED", "$MANIFEST", ""))
	sign(t, keySigned, keySigned.root.Digest, leafKey, nil, nil, "", nil)
	for _, tc := range []struct {
		name   string
		src    *memSource
		policy SignaturePolicy
		status string
		reason string
	}{
		{"match", src, SignaturePolicy{TrustedRoot: trusted(ca), Identity: id(identity, issuer)}, Pass, "by " + identity + " (issuer " + issuer + ")"},
		{"another identity", src, SignaturePolicy{TrustedRoot: trusted(ca), Identity: id("https://ci.example.invalid/nightly", issuer)}, Fail, "certificate identity"},
		{"another issuer", src, SignaturePolicy{TrustedRoot: trusted(ca), Identity: id(identity, "https://other.example.invalid")}, Fail, "certificate identity"},
		{"untrusted CA", src, SignaturePolicy{TrustedRoot: trusted(otherCA), Identity: id(identity, issuer)}, Fail, "leaf certificate"},
		{"a key, no certificate", keySigned, SignaturePolicy{TrustedRoot: trusted(ca), Identity: id(identity, issuer)}, Fail, "signed with a key, not a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.IgnoreTlog = true
			res, err := Verify(context.Background(), tc.src, Policy{Signature: &tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Signature == nil || !strings.Contains(res.Signature.Reason, tc.reason) {
				t.Errorf("status %s, signature %+v; want %s with %q", res.Status, res.Signature, tc.status, tc.reason)
			}
		})
	}
}

func mustUnmarshal(t *testing.T, dt []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(dt, v); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLayoutByDigest: PATH@DIGEST is the entry of the layout's
// index.json that the digest names, and nothing else.
func TestOpenLayoutByDigest(t *testing.T) {
	src := image(stmt("PASSED", "$MANIFEST", ""))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	for d, dt := range src.blobs {
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), dt, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": mustJSON(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: []ocispecs.Descriptor{src.root}}),
	}
	for name, dt := range files {
		if err := os.WriteFile(filepath.Join(dir, name), dt, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	pinned := dir + "@" + src.root.Digest.String()
	s, err := Open(ctx, pinned, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, s, Policy{})
	if err != nil || res.Status != Pass || res.Pinned != pinned {
		t.Fatalf("%s: %v %+v", pinned, err, res)
	}
	s, err = Open(ctx, dir+"@sha256:"+strings.Repeat("0", 64), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, s, Policy{}); err == nil || !strings.Contains(err.Error(), "index.json has no entry") {
		t.Errorf("a digest the layout does not hold: %v", err)
	}
}

// TestVerifyReferrersBounded: a repository flooded with referrers costs a
// bounded number of reads, and the answer says so.
func TestVerifyReferrersBounded(t *testing.T) {
	src := referrerOnly(t, image(stmt("PASSED", "$MANIFEST", "")))
	for img, refs := range src.referrers {
		var flood []ocispecs.Descriptor
		for i := range maxReferrers + 6 {
			flood = append(flood, src.add(ocispecs.MediaTypeImageManifest, mustJSON(ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, Annotations: map[string]string{"n": fmt.Sprint(i)}})))
		}
		src.referrers[img] = append(flood, refs...)
	}
	res, err := Verify(context.Background(), src, Policy{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Fail || !strings.Contains(res.Platforms[0].Reason, fmt.Sprintf("%d manifests refer to this platform's manifest; only the first %d were read", maxReferrers+7, maxReferrers)) {
		t.Errorf("%+v", res.Platforms[0])
	}
}

// testLog stands in for Rekor, which cannot be reached here: its key signs
// the promise (SET) cosign records for an entry.
type testLog struct {
	key *ecdsa.PrivateKey
	id  []byte
	at  time.Time // the entries' integrated time
}

func newTestLog(t *testing.T, at time.Time) *testLog {
	t.Helper()
	k := newKey(t)
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &testLog{key: k, id: id[:], at: at}
}

func (l *testLog) transparencyLog() map[string]*root.TransparencyLog {
	return map[string]*root.TransparencyLog{hex.EncodeToString(l.id): {
		BaseURL: "https://rekor.example.invalid", ID: l.id, ValidityPeriodStart: l.at.Add(-time.Hour),
		HashFunc: crypto.SHA256, PublicKey: l.key.Public(), SignatureHashFunc: crypto.SHA256,
	}}
}

// bundle is the dev.sigstore.cosign/bundle annotation for a hashedrekord
// entry of sig over payload by signer (a PEM public key or certificate).
func (l *testLog) bundle(t *testing.T, payload, sig, signer []byte) string {
	t.Helper()
	sum := sha256.Sum256(payload)
	b64 := base64.StdEncoding.EncodeToString
	body := b64(mustJSON(map[string]any{"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": map[string]any{
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
		"signature": map[string]any{"content": b64(sig), "publicKey": map[string]any{"content": b64(signer)}},
	}}))
	// encoding/json sorts map keys: this is the canonical JSON the SET signs.
	entry := map[string]any{"body": body, "integratedTime": l.at.Unix(), "logIndex": 42, "logID": hex.EncodeToString(l.id)}
	h := sha256.Sum256(mustJSON(entry))
	set, err := ecdsa.SignASN1(rand.Reader, l.key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return string(mustJSON(map[string]any{"SignedEntryTimestamp": b64(set), "Payload": entry}))
}

// TestVerifySignatureTlog: unless told to ignore it, a signature needs a
// Rekor entry the trusted root's log promised; its integrated time is when
// a keyless certificate must have been valid, as for Fulcio's ten-minute
// certificates.
func TestVerifySignatureTlog(t *testing.T) {
	const identity, issuer = "https://ci.example.invalid/release", "https://issuer.example.invalid"
	signedAt := time.Now().Add(-48 * time.Hour)
	log, otherLog := newTestLog(t, signedAt.Add(time.Minute)), newTestLog(t, signedAt.Add(time.Minute))
	caKey, leafKey, key := newKey(t), newKey(t), newKey(t)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: signedAt.Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	ca := certificate(t, caTmpl, caTmpl, caKey.Public(), caKey)
	issuerDER, _ := asn1.MarshalWithParams(issuer, "utf8")
	san, _ := url.Parse(identity)
	// Valid for ten minutes, two days ago.
	leaf := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(2),
		NotBefore: signedAt, NotAfter: signedAt.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:            []*url.URL{san},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerDER}},
	}, ca, leafKey.Public(), caKey)
	trusted, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: ca, URI: "https://ca.example.invalid"}}, nil, nil, log.transparencyLog())
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, "")
	if err != nil {
		t.Fatal(err)
	}
	keyless := func(l *testLog) *memSource {
		src := image(stmt("PASSED", "$MANIFEST", ""))
		sign(t, src, src.root.Digest, leafKey, leaf, ca, "", l)
		return src
	}
	keyed := func(l *testLog) *memSource {
		src := image(stmt("PASSED", "$MANIFEST", ""))
		sign(t, src, src.root.Digest, key, nil, nil, "", l)
		return src
	}
	for _, tc := range []struct {
		name   string
		src    *memSource
		policy SignaturePolicy
		status string
		reason string
	}{
		{"keyless, logged while the certificate was valid", keyless(log), SignaturePolicy{TrustedRoot: trusted, Identity: id}, Pass, "in the transparency log (entry 42, integrated"},
		{"keyless, the log ignored: the certificate has expired", keyless(log), SignaturePolicy{TrustedRoot: trusted, Identity: id, IgnoreTlog: true}, Fail, "failed to verify leaf certificate"},
		{"keyless, not logged", keyless(nil), SignaturePolicy{TrustedRoot: trusted, Identity: id}, Fail, "no transparency-log entry"},
		{"keyless, logged by a log the root does not hold", keyless(otherLog), SignaturePolicy{TrustedRoot: trusted, Identity: id}, Fail, "not enough verified log entries"},
		{"key, logged", keyed(log), SignaturePolicy{Key: key.Public(), KeyName: "cosign.pub", TrustedRoot: trusted}, Pass, "verified with cosign.pub; in the transparency log"},
		{"key, not logged", keyed(nil), SignaturePolicy{Key: key.Public(), KeyName: "cosign.pub", TrustedRoot: trusted}, Fail, "no transparency-log entry"},
		{"key, logged by another log", keyed(otherLog), SignaturePolicy{Key: key.Public(), KeyName: "cosign.pub", TrustedRoot: trusted}, Fail, "not enough verified log entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), tc.src, Policy{Signature: &tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Signature == nil || !strings.Contains(res.Signature.Reason, tc.reason) {
				t.Errorf("status %s, signature %+v; want %s with %q", res.Status, res.Signature, tc.status, tc.reason)
			}
		})
	}
}
