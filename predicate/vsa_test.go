package predicate

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	vsav1 "github.com/in-toto/attestation/go/predicates/vsa/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestSummarize(t *testing.T) {
	passed := Predicate{Result: Passed, Verifier: Verifier{Name: "fipsgate", Version: "v1.2.3"}}
	withApp := passed
	withApp.Application = Application{Checked: true, Command: []string{"/app"}}
	validated := withApp
	validated.Module = &Module{CMVP: CMVP{Validated: true}}
	notValidated := withApp
	notValidated.Module = &Module{CMVP: CMVP{Validated: false}}
	failed := passed
	failed.Result = "FAILED"
	for _, tc := range []struct {
		name     string
		p        Predicate
		resource string
		result   string
		levels   []string
	}{
		{"OpenSSL alone", passed, "", VSAPassed, []string{LevelEnforcedOpenSSL}},
		{"an application", withApp, "pkg:docker/registry.example/app", VSAPassed, []string{LevelEnforcedApplication}},
		{"a validated module", validated, "", VSAPassed, []string{LevelEnforcedApplication, LevelValidatedModule}},
		{"a module not validated", notValidated, "", VSAPassed, []string{LevelEnforcedApplication}},
		{"not passed", failed, "", VSAFailed, []string{VSAFailed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.p, tc.resource)
			if s.VerificationResult != tc.result || !reflect.DeepEqual(s.VerifiedLevels, tc.levels) {
				t.Errorf("result %s, levels %v; want %s, %v", s.VerificationResult, s.VerifiedLevels, tc.result, tc.levels)
			}
			wantResource := tc.resource
			if wantResource == "" {
				wantResource = UnboundResourceURI
			}
			if s.ResourceURI != wantResource {
				t.Errorf("resourceUri %q, want %q", s.ResourceURI, wantResource)
			}
			if s.Verifier.ID != VerifierID || s.Verifier.Version["fipsgate"] != "v1.2.3" || s.Policy.URI != PolicyURI {
				t.Errorf("verifier %+v, policy %+v", s.Verifier, s.Policy)
			}
		})
	}
}

// The VSA reads as one through the in-toto attestation library's own type
// for the predicate (which predates verifier.version), and holds no time.
func TestVSAReadsAsInTotoVSA(t *testing.T) {
	p := Predicate{Result: Passed, Verifier: Verifier{Version: "v1.2.3"}, Application: Application{Checked: true}, Module: &Module{CMVP: CMVP{Validated: true}}}
	dt, err := json.Marshal(Summarize(p, "pkg:docker/registry.example/app"))
	if err != nil {
		t.Fatal(err)
	}
	var got vsav1.VerificationSummary
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(dt, &got); err != nil {
		t.Fatalf("in-toto's VSA type does not read %s: %v", dt, err)
	}
	if got.GetVerifier().GetId() != VerifierID || got.GetResourceUri() != "pkg:docker/registry.example/app" ||
		got.GetPolicy().GetUri() != PolicyURI || got.GetVerificationResult() != "PASSED" ||
		!reflect.DeepEqual(got.GetVerifiedLevels(), []string{LevelEnforcedApplication, LevelValidatedModule}) {
		t.Errorf("as in-toto reads it: %v", &got)
	}
	if got.GetTimeVerified() != nil || strings.Contains(string(dt), "timeVerified") {
		t.Errorf("the VSA holds a time: %s", dt)
	}
	// Without the one field it does not know, in-toto's type reads every
	// field: nothing is misspelt.
	var m map[string]any
	if err := json.Unmarshal(dt, &m); err != nil {
		t.Fatal(err)
	}
	delete(m["verifier"].(map[string]any), "version")
	strict, _ := json.Marshal(m)
	if err := protojson.Unmarshal(strict, &vsav1.VerificationSummary{}); err != nil {
		t.Errorf("in-toto's VSA type does not know a field of %s: %v", strict, err)
	}
}
