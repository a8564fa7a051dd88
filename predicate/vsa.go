package predicate

// VSAType is the predicate type of the SLSA Verification Summary
// Attestation (VSA) that fipsgate attaches beside its predicate, to the same
// image manifest, for SLSA tooling that reads verdicts and not fipsgate's
// evidence. It is a summary of the predicate and nothing more: Summarize
// derives it from the predicate alone.
const VSAType = "https://slsa.dev/verification_summary/v1"

// The VSA's fixed identifiers (docs/predicate.md, "The verification summary").
const (
	// VerifierID is the VSA's verifier.id: fipsgate, whichever image it
	// runs from; its version is verifier.version["fipsgate"].
	VerifierID = "https://github.com/fipsgate/fipsgate"
	// PolicyURI names the policy the image was verified against: the
	// checks and verdict of docs/verdict.md and the README at the
	// verifier's version, with the options the predicate records.
	PolicyURI = "https://fipsgate.github.io/policy/fips-enforcement/v1"
	// UnboundResourceURI is the VSA's resourceUri when the build sets
	// none (FIPSGATE_RESOURCE_URI): a frontend is not told the names the
	// image is exported under, so the VSA is then bound to its subject, the
	// image manifest, alone.
	UnboundResourceURI = "https://fipsgate.github.io/resource/unbound"
)

// The verifiedLevels a VSA can state. SLSA lets a verifier define its own
// (not starting with SLSA_); fipsgate's form two tracks, at most one level
// of each in a VSA.
const (
	// LevelEnforcedOpenSSL: the image's OpenSSL configuration enforces the
	// FIPS provider, and OpenSSL refuses to work once the module is broken
	// (FIPSGATE_CHECK=none, or an image without an application).
	LevelEnforcedOpenSSL = "FIPSGATE_FIPS_ENFORCED_OPENSSL"
	// LevelEnforcedApplication: that, and the application ran as built and
	// refused to run with each breakage of the module. It implies
	// LevelEnforcedOpenSSL's configuration checks.
	LevelEnforcedApplication = "FIPSGATE_FIPS_ENFORCED_APPLICATION"
	// LevelValidatedModule: the module is one the predicate counts as
	// CMVP-validated (module.validated); a track of its own.
	LevelValidatedModule = "FIPSGATE_CMVP_VALIDATED_MODULE"
)

// VSA results, as the SLSA specification spells them.
const (
	VSAPassed = "PASSED"
	VSAFailed = "FAILED"
)

// VerificationSummary is the predicate of a SLSA VSA (v1, with the
// verifier.version of its 1.1 revision). It has no timeVerified, which the
// 1.1 revision made optional: a time would change the attestation of every
// rebuild of an unchanged image. It has no inputAttestations either:
// fipsgate read no attestation, it verified the built filesystem itself.
type VerificationSummary struct {
	Verifier           VSAVerifier `json:"verifier"`
	ResourceURI        string      `json:"resourceUri"`
	Policy             VSAPolicy   `json:"policy"`
	VerificationResult string      `json:"verificationResult"`
	VerifiedLevels     []string    `json:"verifiedLevels"`
}

// VSAVerifier identifies the verifier and its version.
type VSAVerifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// VSAPolicy is the VSA's policy, an in-toto ResourceDescriptor. It carries
// no digest: the policy is fipsgate's code at the verifier's version and the
// options the predicate records, not a document of its own.
type VSAPolicy struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest,omitempty"`
}

// Summarize is the VSA of a predicate, for resourceURI (UnboundResourceURI
// when empty): but for that, a function of the predicate alone, so that a
// reader can tell the two agree. A predicate that did not pass summarises
// as FAILED, though fipsgate attaches neither then.
func Summarize(p Predicate, resourceURI string) VerificationSummary {
	if resourceURI == "" {
		resourceURI = UnboundResourceURI
	}
	s := VerificationSummary{
		Verifier:           VSAVerifier{ID: VerifierID, Version: map[string]string{"fipsgate": p.Verifier.Version}},
		ResourceURI:        resourceURI,
		Policy:             VSAPolicy{URI: PolicyURI},
		VerificationResult: VSAPassed,
	}
	if p.Result != Passed {
		s.VerificationResult = VSAFailed
		s.VerifiedLevels = []string{VSAFailed}
		return s
	}
	if p.Application.Checked {
		s.VerifiedLevels = append(s.VerifiedLevels, LevelEnforcedApplication)
	} else {
		s.VerifiedLevels = append(s.VerifiedLevels, LevelEnforcedOpenSSL)
	}
	if p.Module != nil && p.Module.CMVP.Validated {
		s.VerifiedLevels = append(s.VerifiedLevels, LevelValidatedModule)
	}
	return s
}
