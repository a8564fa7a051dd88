//go:build e2e

package e2e

import (
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/predicate"
)

func nodeBase() string { return registry + "/fipsgate/debian-fips-node:trixie" }

// reachBuild builds testdata/reach/NAME/Dockerfile through fipsgate, with
// testdata/reach as the context (the programs share fips.h), and pushes it
// under a tag of its own.
func reachBuild(t *testing.T, name string, args map[string]string) (build, result) {
	t.Helper()
	dir := testdata(t, "reach")
	b := build{
		contextDir: dir,
		dockerfile: withSyntax(t, filepath.Join(dir, name, "Dockerfile"), frontendImage),
		buildArgs:  args,
		image:      fmt.Sprintf("%s/fipsgate-e2e/reach-%s:%s", registry, name, uniqueTag),
	}
	r := buildctlCLI{}.run(t, b)
	mustBeFipsgate(t, r)
	return b, r
}

// TestReachPolicy builds, through fipsgate, an application for each class of
// crypto the verdict covers (issue 11). Each one that must fail requires the
// FIPS module at start — it refuses to run in every negative test, and runs
// on the image as built — so that only the policy over what the application
// reaches can fail it: the error names the finding's kind and the file, and
// no check of the application's runs. Those that must pass carry an
// attestation.
func TestReachPolicy(t *testing.T) {
	gobuilder := registry + "/fipsgate/gobuilder:trixie"
	cases := []struct {
		name string
		// node: on the Node.js base, with no build stage.
		node bool
		// For a failure the policy decides: the finding's kind and path
		// (the first of paths; any of them will do).
		kind  string
		paths []string
		// For a failure one of the application's runs decides: what the
		// error says.
		fails []string
		// For a pass: what else the predicate must show.
		check func(t *testing.T, p predicate.Predicate)
	}{
		// Another crypto library, linked and imported.
		{name: "nettle", kind: inventory.KindImportsCryptoLibrary, paths: []string{"/usr/local/bin/nettle-digest"}},
		// OpenSSL's deprecated low-level digests, which bypass providers.
		{name: "lowlevel-md5", kind: inventory.KindOpenSSLLowLevel, paths: []string{"/usr/local/bin/md5-digest"}},
		// The default provider loaded, MD5 fetched with fips=no.
		{name: "default-provider", kind: inventory.KindNonFIPSFetch, paths: []string{"/usr/local/bin/default-digest"}},
		// A cgo FIPS check, then Go's own crypto/sha256.
		{name: "go-mixed", kind: inventory.KindGoOpenSSLMixed, paths: []string{"/usr/local/bin/go-mixed"}},
		// A shell entrypoint that checks FIPS with openssl, then runs
		// coreutils' sha256sum (libcrypto's SHA256_Init and friends).
		{name: "script-sha256sum", kind: inventory.KindOpenSSLLowLevel, paths: []string{"/usr/bin/sha256sum"}},
		// Node.js without --openssl-shared-config: its crypto ignores the
		// image's openssl_conf; the app checks FIPS with openssl.
		{name: "node-no-fips", node: true, kind: inventory.KindRuntimeNode,
			// The program, or the library that is Node.
			paths: []string{"/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libnode.so.115"}},
		// Nettle loaded at run time (dlopen): only observation sees it.
		{name: "dlopen-nettle", kind: inventory.KindCryptoLibrary, paths: []string{"/usr/lib/x86_64-linux-gnu/libnettle.so.8.10"}},
		// A worker that requires FIPS, then exits non-zero after seconds.
		{name: "late-failing-worker", fails: []string{"✗ [self-test] the application runs", "observed: exit status 3", "late-worker: the work failed"}},
		// A TLS server on libssl: contacted with a TLS handshake.
		{name: "tls-server", check: func(t *testing.T, p predicate.Predicate) {
			for _, c := range stage(p, "self-test", "").Checks {
				if c.Name == "app-runs" && (!c.Answered || !regexp.MustCompile(`a TLS handshake with \S+:8443 completed \(TLS 1\.[23], `).MatchString(c.Contact)) {
					t.Errorf("app-runs: the server was not answered a TLS handshake: %+v", c)
				}
			}
		}},
		// An honest C program on EVP, on the stock FIPS base.
		{name: "honest-c"},
		// Node.js following the image's FIPS configuration.
		{name: "node-fips", node: true},
	}
	start := time.Now()
	t.Cleanup(func() {
		t.Logf("TestReachPolicy: every build done in %s", time.Since(start).Round(100*time.Millisecond))
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := map[string]string{"BUILDER": gobuilder, "BASE": fipsBase()}
			if tc.node {
				args = map[string]string{"BASE": nodeBase()}
			}
			began := time.Now()
			b, r := reachBuild(t, tc.name, args)
			t.Logf("%s: built in %s", tc.name, time.Since(began).Round(100*time.Millisecond))
			for _, l := range regexp.MustCompile(`(?m)^.*(✗ .*|command: .*|observed: .*)$`).FindAllString(r.output, -1) {
				t.Log(strings.TrimSpace(l))
			}
			switch {
			case tc.kind != "":
				where := strings.Join(tc.paths, " or ")
				if r.err == nil {
					t.Fatalf("the build must fail with %s on %s; it passed. %s", tc.kind, where, findingsAt(t, b, r, tc.paths))
				}
				mustFailSaying(t, tc.name, r, "FIPS verification FAILED for linux/amd64")
				quoted := make([]string, len(tc.paths))
				for i, p := range tc.paths {
					quoted[i] = regexp.QuoteMeta(p)
				}
				if m := regexp.MustCompile(`(?m)^.*(` + strings.Join(quoted, "|") + `): .*\(` + regexp.QuoteMeta(tc.kind) + `\)`).FindString(r.output); m == "" {
					t.Errorf("the error does not name %s on %s:\n%s", tc.kind, where, r.output)
				} else {
					t.Log(strings.TrimSpace(m))
				}
				// The application behaves: only the policy fails it (what it
				// was seen to load is judged in its run as built).
				for _, m := range regexp.MustCompile(`✗ \[(self-test|negative[^\]]*)\][^\n]*`).FindAllString(r.output, -1) {
					if !strings.Contains(m, "the application was seen to load") {
						t.Errorf("one of the application's runs failed (%s): the image is not the case it stands for:\n%s", m, r.output)
					}
				}
			case len(tc.fails) > 0:
				mustFailSaying(t, tc.name, r, append([]string{"FIPS verification FAILED for linux/amd64"}, tc.fails...)...)
			default:
				mustSucceed(t, tc.name, r)
				_, preds := fipsgatePredicates(t, b.image, r.digest)
				p, ok := preds["linux/amd64"]
				if !ok || p.Result != predicate.Passed {
					t.Fatalf("no PASSED fipsgate attestation on the linux/amd64 manifest: %+v", preds)
				}
				for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
					if got := checkStatus(stage(p, "negative", m), "app-refuses"); got != "passed" {
						t.Errorf("negative %s: app-refuses %s", m, got)
					}
				}
				if got := checkStatus(stage(p, "self-test", ""), "app-runs"); got != "passed" {
					t.Errorf("self-test app-runs: %s", got)
				}
				for _, c := range stage(p, "self-test", "").Checks {
					if c.Name == "app-runs" {
						t.Logf("app-runs: %s; %s", c.Detail, c.Contact)
					}
				}
				// The reach holds the application, and what it loaded.
				if p.Inventory == nil || p.Inventory.Reach == nil || len(p.Inventory.Reach.Entries) == 0 {
					t.Fatalf("no reach in the predicate's inventory")
				}
				observed := false
				for _, e := range p.Inventory.Reach.Entries {
					observed = observed || e.Observed && strings.HasSuffix(e.Path, "/ossl-modules/fips.so")
				}
				if !observed {
					t.Errorf("the FIPS module, which libcrypto loads at run time, is not in the observed reach: %+v", p.Inventory.Reach.Entries)
				}
				if tc.check != nil {
					tc.check(t, p)
				}
			}
		})
	}
}

// findingsAt says, for an image that passed where it must fail, what its
// attestation says of paths and whether the application's runs passed.
func findingsAt(t *testing.T, b build, r result, paths []string) string {
	t.Helper()
	_, preds := fipsgatePredicates(t, b.image, r.digest)
	p, ok := preds["linux/amd64"]
	if !ok {
		return "(no attestation)"
	}
	var s []string
	if p.Inventory != nil {
		for _, f := range p.Inventory.Findings {
			if slices.Contains(paths, f.Path) {
				s = append(s, fmt.Sprintf("%s %s %s: %s", f.Severity, f.Kind, f.Path, f.Evidence))
			}
		}
	}
	if len(s) == 0 {
		s = append(s, "no finding")
	}
	runs := checkStatus(stage(p, "self-test", ""), "app-runs")
	for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
		runs += ", " + m + " " + checkStatus(stage(p, "negative", m), "app-refuses")
	}
	return fmt.Sprintf("The attestation says of %s: %s; the application's runs: app-runs %s", strings.Join(paths, " and "), strings.Join(s, "; "), runs)
}

// TestHelloserverLinksNoGoCrypto: the example's server speaks HTTP over
// package net, so that none of Go's own crypto (crypto/*, which net/http
// brings with crypto/tls) is in the binary: its crypto is OpenSSL's alone.
// The symbol table says so where `go version -m` would not (it lists
// modules, not standard-library packages).
func TestHelloserverLinksNoGoCrypto(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "helloserver")
	dockerfile := withSyntax(t, filepath.Join(dir, "Dockerfile"), "")
	dt, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	dt = append(dt, "\nFROM scratch AS binary\nCOPY --from=build /out/helloserver /helloserver\n"...)
	if err := os.WriteFile(dockerfile, dt, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r := execute(t, "", "buildctl", "build", "--progress=plain", "--frontend=dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+filepath.Dir(dockerfile),
		"--opt", "target=binary", "--opt", "build-arg:BUILDER="+registry+"/fipsgate/gobuilder:trixie",
		"--output", "type=local,dest="+out)
	mustSucceed(t, "the helloserver binary", r)
	f, err := elf.Open(filepath.Join(out, "helloserver"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil || len(syms) < 1000 {
		t.Fatalf("the binary's symbol table (%d symbols): %v", len(syms), err)
	}
	found := map[string]bool{}
	for _, s := range syms {
		for _, prefix := range []string{"crypto/", "net/http.", "vendor/golang.org/x/crypto/"} {
			if strings.HasPrefix(s.Name, prefix) {
				pkg, _, _ := strings.Cut(s.Name, ".")
				found[pkg] = true
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("helloserver links Go packages with crypto of their own: %v", slices.Sorted(maps.Keys(found)))
	}
	if !slices.ContainsFunc(syms, func(s elf.Symbol) bool { return s.Name == "net.(*TCPListener).Accept" }) {
		t.Errorf("no net.(*TCPListener).Accept in the symbol table: is this the server?")
	}
}
