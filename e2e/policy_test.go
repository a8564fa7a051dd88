//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// The Rego policy example (examples/policy) is what a platform team copies:
// it must be well formed, formatted, pass its own tests, and judge every
// predicate the end-to-end tests produce (policyExample).
func TestPolicyExample(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "policy")
	for _, args := range [][]string{
		{"check", "--strict", dir},
		{"fmt", "--fail", "-l", dir},
		{"test", "-v", dir},
	} {
		if out, err := exec.Command("opa", args...).CombinedOutput(); err != nil {
			t.Errorf("opa %v: %v\n%s", args, err, out)
		}
	}
}

// policyJudgement is what the policy example says of one predicate.
type policyJudgement struct {
	Allow bool     `json:"allow"`
	Deny  []string `json:"deny"`
	Warn  []string `json:"warn"`
}

// policyExample judges a predicate (as JSON) with the policy example, run
// by OPA as a pipeline would; it fails the test only when OPA cannot.
func policyExample(t *testing.T, dt []byte) policyJudgement {
	t.Helper()
	cmd := exec.Command("opa", "eval", "--stdin-input", "--format", "json",
		"-d", filepath.Join(repoRoot(t), "examples", "policy", "fipsgate.rego"),
		`{"allow": data.fipsgate.allow, "deny": data.fipsgate.deny, "warn": data.fipsgate.warn}`)
	cmd.Stdin = bytes.NewReader(dt)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("opa eval of the policy example: %v\n%s", err, out)
	}
	var res struct {
		Result []struct {
			Expressions []struct {
				Value policyJudgement `json:"value"`
			} `json:"expressions"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Result) != 1 || len(res.Result[0].Expressions) != 1 {
		t.Fatalf("opa eval output %s: %v", out, err)
	}
	return res.Result[0].Expressions[0].Value
}
