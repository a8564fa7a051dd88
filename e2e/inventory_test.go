//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/predicate"
)

// inventoryBuild builds one target of testdata/inventory through fipsgate.
func inventoryBuild(t *testing.T, target string, extra map[string]string) (build, result) {
	t.Helper()
	dir := testdata(t, "inventory")
	args := map[string]string{
		"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase(),
		"FIPSGATE_CHECK": "none",
	}
	for k, v := range extra {
		args[k] = v
	}
	b := build{
		contextDir: dir,
		dockerfile: withSyntax(t, dir+"/Dockerfile", frontendImage),
		target:     target,
		buildArgs:  args,
		image:      fmt.Sprintf("%s/fipsgate-e2e/inventory:%s-%s-%s", registry, target, strings.ReplaceAll(t.Name(), "/", "-"), uniqueTag),
	}
	r := buildxCLI{}.run(t, b)
	mustBeFipsgate(t, r)
	return b, r
}

// TestInventoryFailures: binaries whose crypto bypasses the FIPS module fail
// the build, and the error names the file and the evidence.
func TestInventoryFailures(t *testing.T) {
	for _, tc := range []struct {
		target   string
		path     string
		kind     string
		evidence string
	}{
		{"boring", "/usr/local/bin/app", inventory.KindGoBoringCrypto, "BoringCrypto"},
		{"plain", "/usr/local/bin/app", inventory.KindGoNativeCrypto, "crypto/sha256"},
		{"stripped", "/usr/local/bin/app", inventory.KindGoNativeCrypto, "crypto/sha256"},
		{"two-libcrypto", "/opt/vendored/bin/c-digest", inventory.KindLibcryptoOther, "would load /opt/vendored/lib/libcrypto.so.3"},
		// Claims, not code (issue 10, class 5).
		{"go-claims", "/usr/local/bin/app", inventory.KindGoNativeCrypto, "which its code does not bear out"},
		{"static-openssl", "/usr/local/bin/app", inventory.KindStaticOpenSSL, "OpenSSL 3"},
		{"no-sections", "/usr/local/bin/app", inventory.KindUnreadableELF, "no section headers"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			_, r := inventoryBuild(t, tc.target, nil)
			if r.err == nil {
				t.Fatalf("the build must fail:\n%s", r.output)
			}
			want := fmt.Sprintf("%s: ", tc.path)
			if !strings.Contains(r.output, "[static] no crypto bypasses the FIPS module") || !strings.Contains(r.output, want) ||
				!strings.Contains(r.output, tc.evidence) || !strings.Contains(r.output, "("+tc.kind+")") {
				t.Errorf("the error does not name %s, %q and %s:\n%s", tc.path, tc.evidence, tc.kind, r.output)
			}
		})
	}
}

// TestInventoryPasses: crypto that goes through the verified libcrypto, or
// Go's own FIPS 140-3 module (a warning, a failure under FIPSGATE_STRICT),
// and accepted exceptions, pass, and the predicate lists what was found.
func TestInventoryPasses(t *testing.T) {
	findingsOf := func(t *testing.T, b build, r result) *predicate.Inventory {
		t.Helper()
		mustSucceed(t, "the build", r)
		_, preds := fipsgatePredicates(t, b.image, r.digest)
		p, ok := preds["linux/amd64"]
		if !ok || p.Inventory == nil {
			t.Fatalf("no inventory in the predicate: %+v", preds)
		}
		// These images are verified on OpenSSL alone (FIPSGATE_CHECK=none),
		// which the policy example refuses unless told otherwise.
		raw, _ := json.Marshal(p)
		if j := policyExample(t, raw); j.Allow || !slices.Contains(j.Deny, "the image was verified on OpenSSL alone: no application check ran") {
			t.Errorf("the policy example on a predicate without an application check: %+v", j)
		}
		return p.Inventory
	}
	find := func(inv *predicate.Inventory, path, kind string) *predicate.Finding {
		for i, f := range inv.Findings {
			if f.Path == path && f.Kind == kind {
				return &inv.Findings[i]
			}
		}
		return nil
	}

	t.Run("c-libcrypto", func(t *testing.T) {
		b, r := inventoryBuild(t, "c-libcrypto", nil)
		inv := findingsOf(t, b, r)
		for _, f := range inv.Findings {
			if f.Path == "/usr/local/bin/app" {
				t.Errorf("a C program on the verified libcrypto has a finding: %+v", f)
			}
		}
		if inv.Summary[inventory.KindCryptoLibrary] == 0 {
			t.Errorf("Debian's other crypto libraries (nettle, libxcrypt) are not listed: %+v", inv.Summary)
		}
	})
	t.Run("fips140", func(t *testing.T) {
		b, r := inventoryBuild(t, "fips140", nil)
		inv := findingsOf(t, b, r)
		if f := find(inv, "/usr/local/bin/app", inventory.KindGoFIPS140); f == nil || f.Severity != inventory.Warning {
			t.Errorf("Go's FIPS module is not reported as a warning: %+v", inv.Findings)
		}
	})
	t.Run("fips140 strict", func(t *testing.T) {
		_, r := inventoryBuild(t, "fips140", map[string]string{"FIPSGATE_STRICT": "true"})
		if r.err == nil || !strings.Contains(r.output, "("+inventory.KindGoFIPS140+")") {
			t.Errorf("FIPSGATE_STRICT=true must fail on Go's FIPS module:\n%s", r.output)
		}
	})
	t.Run("exceptions", func(t *testing.T) {
		b, r := inventoryBuild(t, "two-libcrypto", map[string]string{"FIPSGATE_EXCEPTIONS": "exceptions.json"})
		inv := findingsOf(t, b, r)
		f := find(inv, "/opt/vendored/bin/c-digest", inventory.KindLibcryptoOther)
		if f == nil || f.Accepted != "vendored tool, replaced in the next release" {
			t.Errorf("the accepted finding is not in the predicate with its reason: %+v", inv.Findings)
		}
		if len(inv.Exceptions) != 1 {
			t.Errorf("the predicate does not list the exceptions: %+v", inv.Exceptions)
		}
		if find(inv, "/opt/vendored/lib/libcrypto.so.3", inventory.KindLibcryptoCopy) == nil {
			t.Errorf("the second libcrypto is not listed: %+v", inv.Findings)
		}
	})
	t.Run("exceptions from a named context", func(t *testing.T) {
		dir := testdata(t, "inventory")
		b := build{
			contextDir:    dir,
			dockerfile:    withSyntax(t, dir+"/Dockerfile", frontendImage),
			target:        "two-libcrypto",
			namedContexts: map[string]string{"fipsgate-policy": dir},
			buildArgs: map[string]string{
				"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase(), "FIPSGATE_CHECK": "none",
				"FIPSGATE_EXCEPTIONS": "fipsgate-policy:exceptions.json",
			},
			image: fmt.Sprintf("%s/fipsgate-e2e/inventory:named-exceptions-%s", registry, uniqueTag),
		}
		r := buildxCLI{}.run(t, b)
		mustBeFipsgate(t, r)
		inv := findingsOf(t, b, r)
		if f := find(inv, "/opt/vendored/bin/c-digest", inventory.KindLibcryptoOther); f == nil || f.Accepted == "" {
			t.Errorf("the exception from the named context was not applied: %+v", inv.Findings)
		}
	})
	t.Run("bad exceptions file", func(t *testing.T) {
		_, r := inventoryBuild(t, "two-libcrypto", map[string]string{"FIPSGATE_EXCEPTIONS": "main.go"})
		if r.err == nil || !strings.Contains(r.output, "FIPSGATE_EXCEPTIONS file main.go") {
			t.Errorf("a malformed exceptions file must fail naming it:\n%s", r.output)
		}
	})
}
