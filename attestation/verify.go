package attestation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/fipsgate/fipsgate/predicate"
	intotov1 "github.com/in-toto/attestation/go/v1"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	bkattestation "github.com/moby/buildkit/util/attestation"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// In-toto statement types a reader accepts.
const (
	StatementV1  = intotov1.StatementTypeUri
	StatementV01 = intoto.StatementInTotoV01
	// mediaTypeInToto is the layer type of BuildKit's attestations.
	mediaTypeInToto = intoto.PayloadType
	// annotationPredicateType is what BuildKit's image exporter annotates
	// an attestation layer with; BuildKit has no exported name for it.
	annotationPredicateType = "in-toto.io/predicate-type"
)

// Policy is what a pipeline requires.
type Policy struct {
	// Platforms, when set, are the only ones required (and must be there);
	// otherwise every platform of the image is.
	Platforms        []string
	RequireValidated bool
	RequireApp       bool
	RequireNegative  bool
	// MinVersion is the oldest predicate schema version accepted ("1.0").
	MinVersion string
	// Referrers also accepts attestations that only the OCI referrers API
	// lists. They are not covered by the image's digest (nor by a
	// signature over it): anyone who can push to the repository can add
	// one.
	Referrers bool
	// Signature, when set, requires a cosign signature over the image's
	// root digest.
	Signature *SignaturePolicy
}

// maxReferrers bounds how many manifests listed by the referrers API are read
// for one platform.
const maxReferrers = 64

// Where an attestation was found.
const (
	// FromIndex: the image index (or manifest) the verified digest names
	// lists it, so that digest covers it.
	FromIndex = "index"
	// FromReferrers: only the OCI referrers API lists it.
	FromReferrers = "referrers"
)

// Status of a platform.
const (
	Pass  = "PASS"
	Fail  = "FAIL"
	Error = "ERROR" // could not be verified
)

// PlatformResult is the answer for one platform.
type PlatformResult struct {
	Platform  string `json:"platform"`
	Manifest  string `json:"manifest"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Statement string `json:"statement,omitempty"` // the digest of the layer that holds it
	// Source says where the attestation judged was found: FromIndex or
	// FromReferrers.
	Source    string               `json:"source,omitempty"`
	Predicate *predicate.Predicate `json:"predicate,omitempty"`
}

// Result is the answer for an image.
type Result struct {
	Image string `json:"image"`
	// Digest is the image's root (index or manifest) digest: every answer
	// is about the content it covers.
	Digest string `json:"digest"`
	// Tag is the tag Image named, resolved once to Digest; Pinned names
	// Digest in the same repository (or layout: PATH@DIGEST), for a
	// pipeline to use instead.
	Tag    string `json:"tag,omitempty"`
	Pinned string `json:"pinned,omitempty"`
	// Signature is the answer for the signatures over Digest, when
	// one was required.
	Signature *SignatureResult `json:"signature,omitempty"`
	Platforms []PlatformResult `json:"platforms"`
	Status    string           `json:"status"`
}

// ExitCode is the command's exit status for the result: 0 pass, 1 a policy
// failure, 2 something could not be verified.
func (r *Result) ExitCode() int {
	switch r.Status {
	case Pass:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// statement is an in-toto statement as read from untrusted input.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// manifestRef is an image manifest of the index, and where it came from.
type manifestRef struct {
	desc     ocispecs.Descriptor
	platform string
}

// Verify reads an image's attestations from src and judges each platform.
func Verify(ctx context.Context, src Source, policy Policy) (*Result, error) {
	root, err := src.Root(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Image: src.String(), Digest: root.Digest.String()}
	if p, ok := src.(interface{ Pinned(digest.Digest) string }); ok {
		res.Pinned = p.Pinned(root.Digest)
	}
	if rs, ok := src.(*registrySource); ok {
		res.Tag = rs.Tag()
	}
	images, attestations, err := readRoot(ctx, src, root)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, p := range policy.Platforms {
		norm, err := platforms.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		want[platforms.Format(platforms.Normalize(norm))] = true
	}
	seen := map[string]bool{}
	for _, img := range images {
		if len(want) > 0 && !want[img.platform] {
			continue
		}
		seen[img.platform] = true
		res.Platforms = append(res.Platforms, verifyPlatform(ctx, src, img, attestations[img.desc.Digest], policy))
	}
	for p := range want {
		if !seen[p] {
			res.Platforms = append(res.Platforms, PlatformResult{Platform: p, Status: Fail, Reason: "the image has no manifest for this platform"})
		}
	}
	sort.Slice(res.Platforms, func(i, j int) bool { return res.Platforms[i].Platform < res.Platforms[j].Platform })
	statuses := make([]string, 0, len(res.Platforms)+1)
	for _, p := range res.Platforms {
		statuses = append(statuses, p.Status)
	}
	if policy.Signature != nil {
		res.Signature = verifySignatures(ctx, src, root.Digest, *policy.Signature)
		statuses = append(statuses, res.Signature.Status)
	}
	res.Status = Pass
	for _, st := range statuses {
		switch {
		case st == Error:
			res.Status = Error
		case st == Fail && res.Status == Pass:
			res.Status = Fail
		}
	}
	if len(res.Platforms) == 0 && res.Status == Pass {
		res.Status = Fail
	}
	return res, nil
}

// readRoot lists the image manifests under root and, from the index, the
// attestation manifests that name each (vnd.docker.reference.digest).
func readRoot(ctx context.Context, src Source, root ocispecs.Descriptor) ([]manifestRef, map[digest.Digest][]ocispecs.Descriptor, error) {
	atts := map[digest.Digest][]ocispecs.Descriptor{}
	switch root.MediaType {
	case ocispecs.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
		dt, err := src.Fetch(ctx, root, MaxManifestSize)
		if err != nil {
			return nil, nil, err
		}
		var m ocispecs.Manifest
		if err := json.Unmarshal(dt, &m); err != nil {
			return nil, nil, fmt.Errorf("manifest %s: %w", root.Digest, err)
		}
		var cfg ocispecs.Image
		cdt, err := src.Fetch(ctx, m.Config, MaxManifestSize)
		if err == nil {
			_ = json.Unmarshal(cdt, &cfg)
		}
		p := platforms.Format(platforms.Normalize(cfg.Platform))
		return []manifestRef{{root, p}}, atts, nil
	case ocispecs.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
	default:
		return nil, nil, fmt.Errorf("%s has media type %q, not an image index or manifest", root.Digest, root.MediaType)
	}
	dt, err := src.Fetch(ctx, root, MaxManifestSize)
	if err != nil {
		return nil, nil, err
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", root.Digest, err)
	}
	var images []manifestRef
	for _, d := range idx.Manifests {
		if d.Annotations[bkattestation.DockerAnnotationReferenceType] == bkattestation.DockerAnnotationReferenceTypeDefault {
			ref, err := digest.Parse(d.Annotations[bkattestation.DockerAnnotationReferenceDigest])
			if err == nil {
				atts[ref] = append(atts[ref], d)
			}
			continue
		}
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		images = append(images, manifestRef{d, platforms.Format(platforms.Normalize(*d.Platform))})
	}
	return images, atts, nil
}

func verifyPlatform(ctx context.Context, src Source, img manifestRef, fromIndex []ocispecs.Descriptor, policy Policy) PlatformResult {
	r := PlatformResult{Platform: img.platform, Manifest: img.desc.Digest.String()}
	var reasons []string
	if judgeCandidates(ctx, src, img, fromIndex, FromIndex, policy, &r, &reasons) {
		return r
	}
	// Whatever the referrers API lists was added beside the image, not
	// built into it: asked for or not, it is read only to say what it
	// holds.
	var fromReferrers []ocispecs.Descriptor
	if refs, err := src.Referrers(ctx, img.desc.Digest); err == nil {
		for _, d := range refs {
			if d.MediaType == ocispecs.MediaTypeImageManifest && !slices.ContainsFunc(fromIndex, func(x ocispecs.Descriptor) bool { return x.Digest == d.Digest }) {
				fromReferrers = append(fromReferrers, d)
			}
		}
	}
	// Anyone who can push can add referrers: only so many are read.
	if len(fromReferrers) > maxReferrers {
		reasons = append(reasons, fmt.Sprintf("%d manifests refer to this platform's manifest; only the first %d were read", len(fromReferrers), maxReferrers))
		fromReferrers = fromReferrers[:maxReferrers]
	}
	if policy.Referrers {
		if judgeCandidates(ctx, src, img, fromReferrers, FromReferrers, policy, &r, &reasons) {
			return r
		}
	} else if n := countStatements(ctx, src, fromReferrers); n > 0 {
		reasons = append(reasons, fmt.Sprintf("%d fipsgate attestation(s) found only through the OCI referrers API were not trusted: "+
			"the image's digest does not cover them, and anyone who can push to the repository can add one (--referrers accepts them)", n))
	}
	r.Status = Fail
	if len(reasons) > 0 {
		r.Reason = strings.Join(reasons, "; ")
	} else {
		r.Reason = "no fipsgate attestation for this platform's manifest (was the image built with fipsgate?)"
	}
	return r
}

// judgeCandidates judges the first fipsgate attestation among cands that is
// bound to img, into r; it reports whether one decided the verdict, and adds
// to reasons why the others were passed over.
func judgeCandidates(ctx context.Context, src Source, img manifestRef, cands []ocispecs.Descriptor, source string, policy Policy, r *PlatformResult, reasons *[]string) bool {
	for _, d := range cands {
		f, err := findStatement(ctx, src, d)
		if err != nil {
			r.Status, r.Reason, r.Source = Error, err.Error(), source
			return true
		}
		st := f.statement
		if st == nil {
			continue
		}
		r.Statement, r.Source = f.layer, source
		if st.Type != StatementV1 && st.Type != StatementV01 {
			*reasons = append(*reasons, fmt.Sprintf("statement type %q is not an in-toto Statement", st.Type))
			continue
		}
		if !bound(*st, f.subject, img.desc.Digest) {
			*reasons = append(*reasons, "the attestation's subject is not this platform's manifest "+img.desc.Digest.String())
			continue
		}
		p, err := predicate.Decode(st.PredicateType, st.Predicate)
		if err != nil {
			r.Status, r.Reason = Error, "the fipsgate predicate is malformed: "+err.Error()
			return true
		}
		r.Predicate = &p
		if why := judge(p, img.platform, policy); why != "" {
			r.Status, r.Reason = Fail, why
			return true
		}
		if why := judgeSummaries(p, f, img.desc.Digest); why != "" {
			r.Status, r.Reason = Fail, why
			return true
		}
		r.Status = Pass
		r.Reason = fmt.Sprintf("fipsgate %s attested %s", p.Verifier.Version, describe(p))
		return true
	}
	r.Statement, r.Source = "", ""
	return false
}

// countStatements counts the manifests among cands that hold a fipsgate
// statement, ignoring those that cannot be read.
func countStatements(ctx context.Context, src Source, cands []ocispecs.Descriptor) int {
	n := 0
	for _, d := range cands {
		if f, err := findStatement(ctx, src, d); err == nil && f.statement != nil {
			n++
		}
	}
	return n
}

func hasSubject(subjects []subject, d digest.Digest) bool {
	for _, s := range subjects {
		if v, ok := s.Digest[string(d.Algorithm())]; ok && v == d.Encoded() {
			return true
		}
	}
	return false
}

// bound tells whether a statement is about the image manifest d. BuildKit
// leaves the statement's subject empty when the image has no name (an
// unnamed OCI export); the attestation manifest's own subject (manifestSubject)
// then binds it.
func bound(st statement, manifestSubject, d digest.Digest) bool {
	if len(st.Subject) == 0 {
		return manifestSubject == d
	}
	return hasSubject(st.Subject, d)
}

// maxSummaries bounds how many verification summaries of one attestation
// manifest are read.
const maxSummaries = 8

// found is what an attestation manifest holds for fipsgate verify.
type found struct {
	// statement is the fipsgate statement, nil if it holds none; layer is
	// the digest of the layer that holds it.
	statement *statement
	layer     string
	// subject is the attestation manifest's OCI subject.
	subject digest.Digest
	// summaries are the SLSA verification summaries (VSAs) beside it.
	summaries []statement
}

// findStatement reads the fipsgate statement in an attestation manifest,
// and the verification summaries beside it.
func findStatement(ctx context.Context, src Source, d ocispecs.Descriptor) (found, error) {
	var f found
	dt, err := src.Fetch(ctx, d, MaxManifestSize)
	if err != nil {
		return f, fmt.Errorf("attestation manifest: %w", err)
	}
	var m ocispecs.Manifest
	if err := json.Unmarshal(dt, &m); err != nil {
		return f, fmt.Errorf("attestation manifest %s is malformed: %w", d.Digest, err)
	}
	if m.Subject != nil {
		f.subject = m.Subject.Digest
	}
	for _, l := range m.Layers {
		if l.MediaType != mediaTypeInToto {
			continue
		}
		// Read: the layers annotated as a fipsgate predicate (the first) or
		// a VSA, and until the predicate is found, those not annotated.
		pt, annotated := l.Annotations[annotationPredicateType]
		fipsgate := slices.Contains(predicate.Types, pt)
		if annotated && !fipsgate && pt != predicate.VSAType ||
			f.statement != nil && (!annotated || fipsgate) {
			continue
		}
		dt, err := src.Fetch(ctx, l, MaxStatementSize)
		if err != nil {
			return f, fmt.Errorf("attestation statement: %w", err)
		}
		var st statement
		if err := json.Unmarshal(dt, &st); err != nil {
			return f, fmt.Errorf("attestation statement %s is malformed: %w", l.Digest, err)
		}
		if annotated && st.PredicateType != pt {
			return f, fmt.Errorf("statement %s: its predicate type %q contradicts its layer annotation", l.Digest, st.PredicateType)
		}
		switch {
		case st.PredicateType == predicate.VSAType:
			if len(f.summaries) == maxSummaries {
				return f, fmt.Errorf("attestation manifest %s holds more than %d verification summaries", d.Digest, maxSummaries)
			}
			f.summaries = append(f.summaries, st)
		case slices.Contains(predicate.Types, st.PredicateType):
			f.statement, f.layer = &st, l.Digest.String()
		}
	}
	return f, nil
}

// judgeSummaries checks that fipsgate's verification summaries (VSAs)
// beside a predicate are that predicate's (predicate.Summarize, for the
// resource each names) and about the same manifest d; "" means they are,
// or there are none (fipsgate before the VSA). Summaries of other
// verifiers are not fipsgate's to judge.
func judgeSummaries(p predicate.Predicate, f found, d digest.Digest) string {
	for _, st := range f.summaries {
		var got predicate.VerificationSummary
		if err := json.Unmarshal(st.Predicate, &got); err != nil {
			return "the verification summary (VSA) beside the fipsgate predicate is malformed: " + err.Error()
		}
		if got.Verifier.ID != predicate.VerifierID {
			continue
		}
		want := predicate.Summarize(p, got.ResourceURI)
		if st.Type != StatementV1 && st.Type != StatementV01 || !bound(st, f.subject, d) {
			return "fipsgate's verification summary (VSA) beside the predicate is not a statement about this platform's manifest " + d.String()
		}
		// Compared as JSON, not as what encoding/json decodes: that matches
		// keys in any case, keeps the last of duplicate keys and drops
		// unknown ones, so a summary could say to other readers what Go
		// does not see.
		if w, _ := json.Marshal(want); !sameJSON(st.Predicate, w) {
			return fmt.Sprintf("fipsgate's verification summary (VSA) does not match the predicate beside it: it says %s, the predicate %s", st.Predicate, w)
		}
	}
	return ""
}

// judge applies the policy to a predicate; "" means it passes.
func judge(p predicate.Predicate, platform string, policy Policy) string {
	if p.Result != predicate.Passed {
		return fmt.Sprintf("the attestation's result is %q, not %s", p.Result, predicate.Passed)
	}
	if p.Platform != "" && p.Platform != platform {
		return fmt.Sprintf("the attestation is for %s, not %s", p.Platform, platform)
	}
	if policy.MinVersion != "" {
		if older, err := versionLess(p.SchemaVersion, policy.MinVersion); err != nil {
			return "predicate schema version: " + err.Error()
		} else if older {
			return fmt.Sprintf("predicate schema version %s is older than the required %s", p.SchemaVersion, policy.MinVersion)
		}
	}
	if policy.RequireValidated && (p.Module == nil || !p.Module.CMVP.Validated) {
		why := "no module"
		if p.Module != nil {
			why = p.Module.CMVP.Reasoning
		}
		return "a CMVP-validated module is required: " + why
	}
	if policy.RequireApp && !p.Application.Checked {
		return "an application check is required, and none ran (the image was verified on OpenSSL alone)"
	}
	if policy.RequireNegative {
		n := 0
		for _, s := range p.Stages {
			if s.Kind == predicate.KindNegative {
				n++
			}
		}
		if n == 0 {
			return "negative tests are required, and none ran"
		}
	}
	return ""
}

func describe(p predicate.Predicate) string {
	var parts []string
	if p.Module != nil {
		v := "not CMVP-validated"
		if p.Module.CMVP.Validated {
			v = "CMVP-validated"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", p.Module.Identity.Name, p.Module.Identity.Version, v))
	}
	if p.Application.Checked {
		parts = append(parts, "app "+strings.Join(p.Application.Command, " "))
	} else {
		parts = append(parts, "no app checked")
	}
	n := 0
	for _, s := range p.Stages {
		if s.Kind == predicate.KindNegative {
			n++
		}
	}
	parts = append(parts, fmt.Sprintf("%d negative tests", n))
	return strings.Join(parts, ", ")
}

// versionLess compares "MAJOR.MINOR" versions.
func versionLess(a, b string) (bool, error) {
	pa, err := parseVersion(a)
	if err != nil {
		return false, err
	}
	pb, err := parseVersion(b)
	if err != nil {
		return false, err
	}
	if pa[0] != pb[0] {
		return pa[0] < pb[0], nil
	}
	return pa[1] < pb[1], nil
}

func parseVersion(v string) ([2]int, error) {
	maj, min, _ := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b := 0
	var err2 error
	if min != "" {
		b, err2 = strconv.Atoi(min)
	}
	if err1 != nil || err2 != nil {
		return [2]int{}, errors.New("version " + strconv.Quote(v) + " is not MAJOR.MINOR")
	}
	return [2]int{a, b}, nil
}

// sameJSON tells whether a and b are the same JSON value, keys compared as
// written; a document with a key twice in one object is never the same.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if hasDuplicateKeys(a) || hasDuplicateKeys(b) || json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// hasDuplicateKeys tells whether an object of the JSON document dt has a
// key twice, or dt is not JSON.
func hasDuplicateKeys(dt []byte) bool {
	d := json.NewDecoder(bytes.NewReader(dt))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next string of an object is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, object: t == '{', key: t == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.key {
				if top.keys[t] {
					return true
				}
				top.keys[t] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true
		}
	}
}
