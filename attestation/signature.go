package attestation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// What `cosign sign` (v2, the default format) writes: a manifest under the tag
// sha256-<hex>.sig whose layers are simple-signing payloads naming the signed
// digest, with the signature and, for keyless signing, the certificate in
// the layer annotations.
const (
	cosignSignatureAnnotation   = "dev.cosignproject.cosign/signature"
	cosignCertificateAnnotation = "dev.sigstore.cosign/certificate"
	cosignChainAnnotation       = "dev.sigstore.cosign/chain"
	cosignBundleAnnotation      = "dev.sigstore.cosign/bundle"
	cosignPayloadMediaType      = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignSignatureType         = "cosign container image signature"
	// maxSignatures bounds the work a signature manifest can ask for.
	maxSignatures = 64
)

// SignaturePolicy says which cosign signatures over the image's root digest
// are accepted: with Key, those it verifies; without, keyless ones whose
// certificate chains to TrustedRoot and names Identity.
type SignaturePolicy struct {
	// Key is a signer's public key (cosign.pub). KeyName says where it came
	// from, for the report.
	Key     crypto.PublicKey
	KeyName string
	// TrustedRoot holds the certificate authorities a keyless signature's
	// certificate must chain to, and the transparency logs' keys; Identity
	// is what the certificate must name.
	TrustedRoot root.TrustedMaterial
	Identity    verify.CertificateIdentity
	// IgnoreTlog accepts a signature without a transparency-log entry
	// (cosign verify --insecure-ignore-tlog): a keyless certificate must
	// then be valid now. Otherwise a Rekor entry whose promise (SET)
	// verifies with a log of TrustedRoot is required, and its integrated
	// time is when the certificate must have been valid.
	IgnoreTlog bool
}

// SignatureResult is the answer for the image's signatures.
type SignatureResult struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	// Tag is where the signatures were read from.
	Tag string `json:"tag,omitempty"`
	// Identity is the signer a keyless signature's certificate names.
	Identity *SignerIdentity `json:"identity,omitempty"`
}

// SignerIdentity is what a verified certificate says about its subject.
type SignerIdentity struct {
	SubjectAlternativeName string `json:"subjectAlternativeName"`
	Issuer                 string `json:"issuer"`
}

// signatureSource is a Source that can look up cosign's signature tag.
// Only registries hold one: an OCI layout or tar from a build has none.
type signatureSource interface {
	// Tagged resolves tag in the image's repository; found is false when
	// the registry has no such tag.
	Tagged(ctx context.Context, tag string) (d ocispecs.Descriptor, found bool, err error)
}

// SignatureTag is the tag under which cosign stores the signatures of dgst.
func SignatureTag(dgst digest.Digest) string {
	return fmt.Sprintf("%s-%s.sig", dgst.Algorithm(), dgst.Encoded())
}

// simpleSigning is cosign's signed payload.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// verifySignatures checks that a signature over dgst verifies under policy:
// one is enough, as for `cosign verify`.
func verifySignatures(ctx context.Context, src Source, dgst digest.Digest, policy SignaturePolicy) *SignatureResult {
	tag := SignatureTag(dgst)
	r := &SignatureResult{Tag: tag}
	ss, ok := src.(signatureSource)
	if !ok {
		r.Status, r.Reason = Error, fmt.Sprintf("%s holds no cosign signatures: they are read from a registry (the %s tag); verify the pushed image", src, tag)
		return r
	}
	d, found, err := ss.Tagged(ctx, tag)
	if err != nil {
		r.Status, r.Reason = Error, fmt.Sprintf("reading the signatures of %s: %v", dgst, err)
		return r
	}
	if !found {
		r.Status, r.Reason = Fail, fmt.Sprintf("%s is not signed: the registry has no %s tag (cosign sign's signatures)", dgst, tag)
		return r
	}
	dt, err := src.Fetch(ctx, d, MaxManifestSize)
	if err != nil {
		r.Status, r.Reason = Error, fmt.Sprintf("signature manifest %s: %v", tag, err)
		return r
	}
	var m ocispecs.Manifest
	if err := json.Unmarshal(dt, &m); err != nil {
		r.Status, r.Reason = Error, fmt.Sprintf("signature manifest %s is malformed: %v", tag, err)
		return r
	}
	if len(m.Layers) > maxSignatures {
		r.Status, r.Reason = Error, fmt.Sprintf("signature manifest %s has %d layers, over the %d limit", tag, len(m.Layers), maxSignatures)
		return r
	}
	verifier, err := newSignatureVerifier(policy)
	if err != nil {
		r.Status, r.Reason = Error, err.Error()
		return r
	}
	var reasons []string
	var tlogTime string
	for i, l := range m.Layers {
		if l.MediaType != cosignPayloadMediaType {
			continue
		}
		var id *SignerIdentity
		var err error
		id, tlogTime, err = verifySignature(ctx, src, dgst, l, verifier, policy)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("signature %d: %v", i+1, err))
			continue
		}
		r.Status, r.Identity = Pass, id
		if id != nil {
			r.Reason = fmt.Sprintf("cosign signature over %s by %s (issuer %s), certificate chained to the trusted root", dgst, id.SubjectAlternativeName, id.Issuer)
		} else {
			r.Reason = fmt.Sprintf("cosign signature over %s verified with %s", dgst, policy.KeyName)
		}
		if policy.IgnoreTlog {
			r.Reason += "; no transparency log checked"
		} else {
			r.Reason += "; in the transparency log " + tlogTime
		}
		return r
	}
	r.Status = Fail
	if len(reasons) == 0 {
		r.Reason = fmt.Sprintf("%s holds no cosign signature", tag)
	} else {
		r.Reason = fmt.Sprintf("no signature in %s verifies: %s", tag, strings.Join(reasons, "; "))
	}
	return r
}

func newSignatureVerifier(policy SignaturePolicy) (*verify.Verifier, error) {
	if policy.Key != nil {
		// cosign signs with SHA-256 whatever the key, and verifies so.
		sv, err := signature.LoadVerifier(policy.Key, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", policy.KeyName, err)
		}
		// The key is trusted without a validity period, as cosign.pub is.
		key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
		keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return key, nil
		})
		if policy.IgnoreTlog {
			// A key has no validity period that a timestamp would be
			// checked against.
			return verify.NewVerifier(keys, verify.WithNoObserverTimestamps())
		}
		if policy.TrustedRoot == nil {
			return nil, errors.New("checking a transparency-log entry needs the log's key: a trusted root")
		}
		return verify.NewVerifier(root.TrustedMaterialCollection{policy.TrustedRoot, keys}, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	}
	if policy.TrustedRoot == nil {
		return nil, errors.New("keyless verification needs a trusted root")
	}
	opts := []verify.VerifierOption{verify.WithCurrentTime()}
	if !policy.IgnoreTlog {
		opts = []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1)}
	}
	// A trusted root that lists certificate-transparency logs is a
	// deployment whose certificates carry SCTs; one that lists none (a
	// private CA) is not.
	if len(policy.TrustedRoot.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	return verify.NewVerifier(policy.TrustedRoot, opts...)
}

// verifySignature checks one layer of a signature manifest: its signature
// over the payload, the certificate (keyless) and that the payload names dgst.
// It returns the signer's identity (keyless) and, when the log was checked,
// where and when the log has the signature.
func verifySignature(ctx context.Context, src Source, dgst digest.Digest, l ocispecs.Descriptor, verifier *verify.Verifier, policy SignaturePolicy) (*SignerIdentity, string, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[cosignSignatureAnnotation])
	if err != nil || len(sig) == 0 {
		return nil, "", fmt.Errorf("no readable %s annotation", cosignSignatureAnnotation)
	}
	payload, err := src.Fetch(ctx, l, MaxManifestSize)
	if err != nil {
		return nil, "", fmt.Errorf("payload: %w", err)
	}
	sum := sha256.Sum256(payload)
	entity := &cosignSignature{sig: bundle.NewMessageSignature(sum[:], "sha256", sig)}
	var logged string
	if !policy.IgnoreTlog {
		entry, err := rekorEntry(l.Annotations)
		if err != nil {
			return nil, "", err
		}
		entity.tlog = []*tlog.Entry{entry}
		logged = fmt.Sprintf("(entry %d, integrated %s)", entry.LogIndex(), entry.IntegratedTime().UTC().Format(time.RFC3339))
	}
	pb := verify.NewPolicy(verify.WithArtifact(bytes.NewReader(payload)), verify.WithKey())
	if policy.Key == nil {
		leaf, chain, err := certificates(l.Annotations)
		if err != nil {
			return nil, "", err
		}
		entity.content = &certificateContent{leaf: leaf, intermediates: chain}
		pb = verify.NewPolicy(verify.WithArtifact(bytes.NewReader(payload)), verify.WithCertificateIdentity(policy.Identity))
	} else {
		entity.content = &bundle.PublicKey{}
	}
	res, err := verifier.Verify(entity, pb)
	if err != nil {
		if policy.Key != nil {
			return nil, "", fmt.Errorf("does not verify with %s: %w", policy.KeyName, err)
		}
		return nil, "", err
	}
	// Only now is the payload known to be the signer's.
	var ss simpleSigning
	if err := json.Unmarshal(payload, &ss); err != nil {
		return nil, "", fmt.Errorf("the signed payload is malformed: %w", err)
	}
	if ss.Critical.Type != cosignSignatureType {
		return nil, "", fmt.Errorf("the signed payload's type is %q, not %q", ss.Critical.Type, cosignSignatureType)
	}
	if ss.Critical.Image.DockerManifestDigest != dgst.String() {
		return nil, "", fmt.Errorf("the signature is over %s, not %s", ss.Critical.Image.DockerManifestDigest, dgst)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, logged, nil
	}
	c := res.Signature.Certificate
	return &SignerIdentity{SubjectAlternativeName: c.SubjectAlternativeName, Issuer: c.Issuer}, logged, nil
}

// rekorBundle is cosign's record of a signature's Rekor entry: the entry's
// body, and the log's signed promise (SET) to include it.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// rekorEntry reads the Rekor entry cosign recorded for a signature.
func rekorEntry(annotations map[string]string) (*tlog.Entry, error) {
	raw, ok := annotations[cosignBundleAnnotation]
	if !ok {
		return nil, errors.New("no transparency-log entry (signed with --tlog-upload=false?): --insecure-ignore-tlog accepts such signatures")
	}
	var b rekorBundle
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return nil, fmt.Errorf("the %s annotation is malformed: %w", cosignBundleAnnotation, err)
	}
	body, err := base64.StdEncoding.DecodeString(b.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("the %s annotation's body: %w", cosignBundleAnnotation, err)
	}
	logID, err := hex.DecodeString(b.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("the %s annotation's log ID: %w", cosignBundleAnnotation, err)
	}
	entry, err := tlog.NewEntry(body, b.Payload.IntegratedTime, b.Payload.LogIndex, logID, b.SignedEntryTimestamp, nil)
	if err != nil {
		return nil, fmt.Errorf("the %s annotation's entry: %w", cosignBundleAnnotation, err)
	}
	return entry, nil
}

func certificates(annotations map[string]string) (*x509.Certificate, []*x509.Certificate, error) {
	pemLeaf, ok := annotations[cosignCertificateAnnotation]
	if !ok {
		return nil, nil, errors.New("signed with a key, not a certificate (keyless verification wants one)")
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pemLeaf))
	if err != nil || len(certs) != 1 {
		return nil, nil, fmt.Errorf("the %s annotation is not one PEM certificate", cosignCertificateAnnotation)
	}
	var intermediates []*x509.Certificate
	if pemChain := annotations[cosignChainAnnotation]; pemChain != "" {
		chain, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pemChain))
		if err != nil {
			return nil, nil, fmt.Errorf("the %s annotation: %w", cosignChainAnnotation, err)
		}
		// The chain ends at its root; only the trusted root's roots are
		// anchors, so the rest can only be intermediates.
		for _, c := range chain {
			if !bytes.Equal(c.RawIssuer, c.RawSubject) {
				intermediates = append(intermediates, c)
			}
		}
	}
	return certs[0], intermediates, nil
}

// cosignSignature is one signature of a signature manifest, as sigstore-go
// verifies it: a message signature with its Rekor entry, when one is
// checked. RFC 3161 timestamps are not read.
type cosignSignature struct {
	sig     *bundle.MessageSignature
	content verify.VerificationContent
	tlog    []*tlog.Entry
}

func (s *cosignSignature) HasInclusionPromise() bool { return len(s.tlog) > 0 }
func (s *cosignSignature) HasInclusionProof() bool   { return false }
func (s *cosignSignature) SignatureContent() (verify.SignatureContent, error) {
	return s.sig, nil
}
func (s *cosignSignature) VerificationContent() (verify.VerificationContent, error) {
	return s.content, nil
}
func (s *cosignSignature) Timestamps() ([][]byte, error)       { return nil, nil }
func (s *cosignSignature) TlogEntries() ([]*tlog.Entry, error) { return s.tlog, nil }

// Version is that of the bundle format whose verification rules apply. The
// tags format predates bundles, and cosign signs with SHA-256 whatever the
// certificate's key: v0.3 is the newest that keeps sigstore-go's
// verifiers for such signatures (P-384 and P-521 keys with SHA-256).
func (s *cosignSignature) Version() (string, error) { return "v0.3", nil }

// certificateContent is a leaf certificate with the intermediates the
// signature manifest carries (bundle.Certificate has no way to take them).
type certificateContent struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
}

func (c *certificateContent) CompareKey(key any, _ root.TrustedMaterial) bool {
	cert, ok := key.(*x509.Certificate)
	return ok && c.leaf.Equal(cert)
}
func (c *certificateContent) ValidAtTime(t time.Time, _ root.TrustedMaterial) bool {
	return !c.leaf.NotAfter.Before(t) && !c.leaf.NotBefore.After(t)
}
func (c *certificateContent) Certificate() *x509.Certificate      { return c.leaf }
func (c *certificateContent) Intermediates() []*x509.Certificate  { return c.intermediates }
func (c *certificateContent) PublicKey() verify.PublicKeyProvider { return nil }
