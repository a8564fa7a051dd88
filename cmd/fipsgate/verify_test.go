package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifySignatureFlags: flag combinations that cannot give a sound
// signature check are refused before anything is read (exit 2).
func TestVerifySignatureFlags(t *testing.T) {
	dir := t.TempDir()
	// The file is neither a key nor a trusted root; no case gets to use it.
	pub := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(pub, []byte("not read\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		reason string
	}{
		{[]string{"--key", pub}, "give one, or --insecure-ignore-tlog"},
		{[]string{"--key", "awskms:///alias/x", "--insecure-ignore-tlog"}, "only a PEM public key file"},
		{[]string{"--key", filepath.Join(dir, "cosign.key"), "--insecure-ignore-tlog"}, "no such file"},
		{[]string{"--key", pub, "--certificate-identity", "a", "--insecure-ignore-tlog"}, "exclusive"},
		{[]string{"--certificate-identity", "a", "--certificate-oidc-issuer", "b", "--insecure-ignore-tlog"}, "needs --trusted-root"},
		{[]string{"--certificate-identity", "a", "--insecure-ignore-tlog", "--trusted-root", pub}, "needs one of --certificate-oidc-issuer"},
		{[]string{"--certificate-identity", "a", "--certificate-identity-regexp", "a", "--certificate-oidc-issuer", "b", "--insecure-ignore-tlog"}, "needs one of --certificate-identity"},
		{[]string{"--trusted-root", pub}, "--trusted-root needs --key, or --certificate-identity"},
		{[]string{"--key", pub, "--trusted-root", pub}, "--trusted-root " + pub},
		{[]string{"--certificate-identity", "a", "--certificate-oidc-issuer", "b", "--insecure-ignore-tlog", "--trusted-root", pub}, "--trusted-root " + pub},
	} {
		var stdout, stderr bytes.Buffer
		code := runVerify(append(tc.args, "example.invalid/app@sha256:"+strings.Repeat("0", 64)), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.reason) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.reason, stderr.String())
		}
	}
}
