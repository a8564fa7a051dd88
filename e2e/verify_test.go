//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/fipsgate/fipsgate/predicate"
)

func fipsBase() string  { return registry + "/fipsgate/debian-fips:trixie" }
func plainBase() string { return registry + "/fipsgate/debian:trixie" }

func repoRoot(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyBuild builds dir's Dockerfile through fipsgate with the given
// build-args and pushes it under a tag of its own.
func verifyBuild(t *testing.T, c cli, dir string, args map[string]string, platforms ...string) (build, result) {
	t.Helper()
	b := build{
		contextDir: dir,
		dockerfile: withSyntax(t, filepath.Join(dir, "Dockerfile"), frontendImage),
		buildArgs:  args,
		platforms:  platforms,
		image:      fmt.Sprintf("%s/fipsgate-e2e/%s:%s-%s-%s", registry, filepath.Base(dir), c.name(), strings.ReplaceAll(t.Name(), "/", "-"), uniqueTag),
	}
	r := c.run(t, b)
	mustBeFipsgate(t, r)
	return b, r
}

func repoOf(image string) string {
	repo := strings.TrimPrefix(image, registry+"/")
	repo, _, _ = strings.Cut(repo, ":")
	return repo
}

// fipsgatePredicates returns, per platform, the fipsgate predicate attached
// to that platform's manifest, checking that the statement's subject is
// that manifest.
func fipsgatePredicates(t *testing.T, image, digest string) (pushedImage, map[string]predicate.Predicate) {
	t.Helper()
	img := readPushedImage(t, repoOf(image), digest)
	out := map[string]predicate.Predicate{}
	for platform, manifest := range img.manifests {
		for _, st := range img.attestations[manifest] {
			if st.PredicateType != predicate.Type {
				continue
			}
			if st.Type != "https://in-toto.io/Statement/v1" && st.Type != "https://in-toto.io/Statement/v0.1" {
				t.Fatalf("statement type %q", st.Type)
			}
			if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != manifest {
				t.Fatalf("%s: statement subject %+v is not the platform manifest %s", platform, st.Subject, manifest)
			}
			// Every predicate the end-to-end tests read follows the
			// published schema, and the policy example can judge it.
			if err := predicate.Validate(st.Predicate); err != nil {
				t.Fatalf("%s: the predicate does not follow its schema: %v\n%s", platform, err, st.Predicate)
			}
			var p predicate.Predicate
			if err := json.Unmarshal(st.Predicate, &p); err != nil {
				t.Fatal(err)
			}
			policyExample(t, st.Predicate)
			out[platform] = p
		}
	}
	return img, out
}

// mustSummarize requires, for every platform of preds, one verification
// summary (VSA) beside the predicate, about the same manifest, that is the
// predicate's; it returns the digests of their layers.
func mustSummarize(t *testing.T, img pushedImage, preds map[string]predicate.Predicate) map[string]string {
	t.Helper()
	layers := map[string]string{}
	for platform, p := range preds {
		manifest := img.manifests[platform]
		for i, st := range img.attestations[manifest] {
			if st.PredicateType != predicate.VSAType {
				continue
			}
			if _, dup := layers[platform]; dup {
				t.Errorf("%s: two VSAs", platform)
			}
			layers[platform] = img.layers[manifest][i].Digest.String()
			if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != manifest {
				t.Errorf("%s: the VSA's subject %+v is not the platform manifest %s", platform, st.Subject, manifest)
			}
			var vsa predicate.VerificationSummary
			if err := json.Unmarshal(st.Predicate, &vsa); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vsa, predicate.Summarize(p, "")) {
				t.Errorf("%s: the VSA %+v is not the predicate's %+v", platform, vsa, predicate.Summarize(p, ""))
			}
		}
		if _, ok := layers[platform]; !ok {
			t.Errorf("%s: no VSA beside the predicate", platform)
		}
	}
	return layers
}

func stage(p predicate.Predicate, name, mutation string) *predicate.Stage {
	for i := range p.Stages {
		if p.Stages[i].Kind == name && p.Stages[i].Mutation == mutation {
			return &p.Stages[i]
		}
	}
	return nil
}

func checkStatus(s *predicate.Stage, name string) string {
	if s == nil {
		return "(no stage)"
	}
	for _, c := range s.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "(no check)"
}

// TestFIPSServerPasses builds the example FIPS server through both CLIs:
// every check passes, the attestation is on the image manifest, and the
// image is byte for byte what the built-in frontend builds.
func TestFIPSServerPasses(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "helloserver")
	args := map[string]string{"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase()}
	for _, c := range clis {
		t.Run(c.name(), func(t *testing.T) {
			b, r := verifyBuild(t, c, dir, args)
			mustSucceed(t, "the FIPS server build", r)
			if !strings.Contains(r.output, "[fipsgate linux/amd64] "+probe.RunTitle(probe.RunStatic)) {
				t.Errorf("progress output has no verification vertex")
			}
			cached := regexp.MustCompile(regexp.QuoteMeta(probe.RunTitle(probe.RunStatic)) + `\n#\d+ CACHED`).MatchString(r.output)
			for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
				if !cached && !strings.Contains(r.output, "PASSED   [negative/"+m+"] the application refuses to run") {
					t.Errorf("progress output does not show the negative test %s", m)
				}
			}
			img, preds := fipsgatePredicates(t, b.image, r.digest)
			p, ok := preds["linux/amd64"]
			if !ok {
				t.Fatalf("no fipsgate attestation on the linux/amd64 manifest; attestations: %+v", img.attestations)
			}
			if p.Result != predicate.Passed || p.Platform != "linux/amd64" || p.SchemaVersion != predicate.Version {
				t.Errorf("predicate header: %+v", p)
			}
			if p.Module == nil || !p.Module.MACVerified || p.Module.Layout != "fipsmodule.cnf" || p.Module.CMVP.Validated {
				t.Fatalf("module: %+v (Debian's provider is not a validated build)", p.Module)
			}
			checkDebianModule(t, p.Module, "amd64")
			raw, _ := json.Marshal(p)
			if j := policyExample(t, raw); !j.Allow || len(j.Deny) > 0 {
				t.Errorf("the policy example refuses the FIPS server: %+v", j)
			}
			if !p.Application.Checked || !slices.Equal(p.Application.Command, []string{"/usr/local/bin/helloserver"}) {
				t.Errorf("application: %+v", p.Application)
			}
			mustSummarize(t, img, map[string]predicate.Predicate{"linux/amd64": p})
			if s := predicate.Summarize(p, ""); !slices.Equal(s.VerifiedLevels, []string{predicate.LevelEnforcedApplication}) {
				t.Errorf("the VSA's levels %q, want the application's", s.VerifiedLevels)
			}
			self := stage(p, "self-test", "")
			for _, check := range []string{"provider-active", "module-identity", "algorithms", "fipsinstall-verify", "self-tests", "sha256-works", "md5-refused", "app-runs"} {
				if got := checkStatus(self, check); got != "passed" {
					t.Errorf("self-test %s: %s", check, got)
				}
			}
			checkEvidence(t, p)
			for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
				neg := stage(p, "negative", m)
				if got := checkStatus(neg, "app-refuses"); got != "passed" {
					t.Errorf("negative %s: app-refuses %s", m, got)
				}
			}

			// The exported image is the built-in frontend's.
			upstream := b
			upstream.dockerfile = withSyntax(t, filepath.Join(dir, "Dockerfile"), "")
			upstream.image = strings.Replace(b.image, ":"+c.name(), ":upstream-"+c.name(), 1)
			u := c.run(t, upstream)
			mustSucceed(t, "the built-in frontend build", u)
			// Without an attestation, the built-in frontend pushes the bare
			// manifest; through fipsgate it sits in an index beside it.
			uimg := readPushedImage(t, repoOf(upstream.image), u.digest)
			if img.manifests["linux/amd64"] == "" || img.manifests["linux/amd64"] != uimg.manifests["(single manifest)"] {
				t.Errorf("image manifest through fipsgate %s, built-in %s: verification must not change the image", img.manifests, uimg.manifests)
			}
		})
	}
}

// checkEvidence: the predicate holds the self-tests the module ran, all
// passed, and the algorithm matrix, with SHA-256 approved and MD5 refused.
func checkEvidence(t *testing.T, p predicate.Predicate) {
	t.Helper()
	if p.SelfTests == nil || len(p.SelfTests.Tests) == 0 {
		t.Errorf("no self-tests in the predicate: %+v", p.SelfTests)
	} else {
		kinds := map[string]bool{}
		for _, st := range p.SelfTests.Tests {
			kinds[st.Type] = true
			if st.Result != "Pass" {
				t.Errorf("self-test %+v", st)
			}
		}
		if !kinds["Module_Integrity"] || !kinds["KAT_Digest"] {
			t.Errorf("self-tests of kinds %v", kinds)
		}
	}
	if p.Algorithms == nil {
		t.Fatalf("no algorithm matrix in the predicate")
	}
	sha256 := false
	for _, a := range p.Algorithms.Served {
		if a.Category == "digest" && slices.Contains(a.Names, "SHA2-256") {
			sha256 = a.Approved && a.Provider == "fips"
		}
	}
	if !sha256 {
		t.Errorf("SHA2-256 is not served approved: %+v", p.Algorithms.Served)
	}
	md5 := false
	for _, n := range p.Algorithms.NonApproved {
		if n.Name == "MD5" {
			md5 = n.Refused
		}
	}
	if !md5 {
		t.Errorf("MD5 is not refused: %+v", p.Algorithms.NonApproved)
	}
}

// TestNotEnforcingFails: an application that carries on without FIPS fails
// the build, and the error says so with the evidence.
func TestNotEnforcingFails(t *testing.T) {
	dir := testdata(t, "verify", "tolerant-app")
	for _, c := range clis {
		t.Run(c.name(), func(t *testing.T) {
			_, r := verifyBuild(t, c, dir, map[string]string{"BASE": fipsBase()})
			mustFailSaying(t, "an image whose application runs without FIPS", r,
				"FIPS verification FAILED for linux/amd64",
				"the application refuses to run without a valid FIPS module",
				"THE IMAGE DOES NOT ENFORCE FIPS",
				"command: /bin/sh -c echo fipsgate",
				"observed: exit status 0",
				"digest failed; carrying on",
			)
		})
	}
}

// TestDaemonLeftBehindFails: an application that leaves a detached helper
// behind, holding its output open, neither hangs the probe nor escapes the
// verdict. (That such helpers are gone before the next step is
// probe.TestKillStrays.)
func TestDaemonLeftBehindFails(t *testing.T) {
	_, r := verifyBuild(t, buildxCLI{}, testdata(t, "verify", "leaves-a-daemon"), map[string]string{"BASE": fipsBase()})
	mustFailSaying(t, "an application that leaves a daemon behind and does not use OpenSSL", r,
		"FIPS verification FAILED for linux/amd64",
		"THE IMAGE DOES NOT ENFORCE FIPS",
		"still running when its time ran out",
	)
}

// TestNonFIPSBaseFails: the FIPS server on a base without FIPS refuses to
// start, and the static checks say why.
func TestNonFIPSBaseFails(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "helloserver")
	_, r := verifyBuild(t, buildxCLI{}, dir, map[string]string{"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": plainBase()})
	mustFailSaying(t, "the FIPS server on a base without FIPS", r,
		"[static] the FIPS provider is configured and activated",
		"[static] default_properties require fips=yes",
		"[self-test] the application runs",
		"can't enable FIPS mode",
	)
}

// mustFailSaying requires the build to have failed with every one of wants
// in its output.
func mustFailSaying(t *testing.T, what string, r result, wants ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("the build of %s must fail:\n%s", what, r.output)
	}
	for _, want := range wants {
		if !strings.Contains(r.output, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.output)
		}
	}
}

// TestSilentConfigFailureFails: without config_diagnostics, removing
// fipsmodule.cnf leaves OpenSSL running without FIPS; the negative test
// must catch it even with no application to check.
func TestSilentConfigFailureFails(t *testing.T) {
	_, r := verifyBuild(t, buildctlCLI{}, testdata(t, "verify", "no-diagnostics"), map[string]string{"BASE": fipsBase()})
	if r.err == nil {
		t.Fatalf("the build must fail:\n%s", r.output)
	}
	if !regexp.MustCompile(`\[negative/fipsmodule-cnf-removed\] an OpenSSL digest fails`).MatchString(r.output) {
		t.Errorf("the error does not name the negative test that caught it:\n%s", r.output)
	}
}

// TestBaseImageTwoPlatforms verifies an image with no application on
// OpenSSL alone, for two platforms, and rebuilds it: unchanged, every
// verification step is cached and every digest the same; with --no-cache
// the checks run again.
func TestBaseImageTwoPlatforms(t *testing.T) {
	dir := testdata(t, "verify", "base-image")
	args := map[string]string{"BASE": fipsBase()}
	b, r := verifyBuild(t, buildxCLI{}, dir, args, "linux/amd64", "linux/386")
	mustSucceed(t, "the two-platform base image build", r)
	img, preds := fipsgatePredicates(t, b.image, r.digest)
	vsas := mustSummarize(t, img, preds)
	for _, platform := range []string{"linux/amd64", "linux/386"} {
		p, ok := preds[platform]
		if !ok || p.Result != predicate.Passed {
			t.Fatalf("%s: no PASSED fipsgate attestation (%+v)", platform, preds)
		}
		if p.Application.Checked {
			t.Errorf("%s: the predicate says an application was checked: %+v", platform, p.Application)
		}
		// linux/386 runs natively beside linux/amd64: nothing is scaled.
		machine := map[string]string{"linux/amd64": "x86_64", "linux/386": "i386"}[platform]
		if e := p.Emulation; e == nil || e.Emulated || e.TimeScale != 1 || e.Machine != machine || !strings.Contains(e.How, "openssl command") {
			t.Errorf("%s: the predicate's emulation is %+v, want %s run natively", platform, e, machine)
		}
		// Each platform's module is its own package, of its architecture.
		if p.Module == nil {
			t.Fatalf("%s: no module in the predicate", platform)
		}
		checkDebianModule(t, p.Module, map[string]string{"linux/amd64": "amd64", "linux/386": "i386"}[platform])
		checkEvidence(t, p)
	}
	if !strings.Contains(r.output, "[fipsgate linux/386] "+probe.RunTitle(probe.RunStatic)) {
		t.Errorf("no verification vertex for linux/386")
	}

	again := buildxCLI{}.run(t, b)
	mustSucceed(t, "the unchanged rebuild", again)
	if again.digest != r.digest {
		t.Errorf("an unchanged rebuild changed the index digest: %s, then %s", r.digest, again.digest)
	}
	for _, platform := range []string{"linux/amd64", "linux/386"} {
		// No application: the static run is the platform's one container.
		for _, run := range (probe.Spec{}).Runs() {
			vertex := "[fipsgate " + platform + "] " + probe.RunTitle(run)
			if !regexp.MustCompile(regexp.QuoteMeta(vertex) + `\n#\d+ CACHED`).MatchString(again.output) {
				t.Errorf("the unchanged rebuild did not show %q CACHED:\n%s", vertex, again.output)
			}
		}
	}

	nocache := b
	nocache.noCache = true
	fresh := buildxCLI{}.run(t, nocache)
	mustSucceed(t, "the --no-cache rebuild", fresh)
	if !regexp.MustCompile(`\[fipsgate linux/amd64\] ` + regexp.QuoteMeta(probe.RunTitle(probe.RunStatic)) + `\n(#\d+ [0-9.]+ .*\n)*#\d+ DONE`).MatchString(fresh.output) {
		t.Errorf("--no-cache did not re-run the checks:\n%s", fresh.output)
	}
	// The checks ran again; the summary of what they found is the same.
	freshImg, freshPreds := fipsgatePredicates(t, b.image, fresh.digest)
	if rerun := mustSummarize(t, freshImg, freshPreds); !reflect.DeepEqual(rerun, vsas) {
		t.Errorf("the --no-cache rebuild changed the VSAs: %v, then %v", vsas, rerun)
	}
	// And the self-tests and the algorithm matrix are the same. (Not the
	// whole predicate: OpenSSL's error lines in the checks' output carry
	// the thread's id.)
	for _, platform := range []string{"linux/amd64", "linux/386"} {
		was, _ := json.Marshal([]any{preds[platform].SelfTests, preds[platform].Algorithms})
		now, _ := json.Marshal([]any{freshPreds[platform].SelfTests, freshPreds[platform].Algorithms})
		if string(was) != string(now) {
			t.Errorf("%s: the self-tests or the algorithm matrix changed when the checks ran again:\n%s\nthen\n%s", platform, was, now)
		}
	}
	// The negative tests run one after the other in the check container,
	// each on its own breakage: each shows in the progress output.
	for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
		if n := strings.Count(fresh.output, "PASSED   [negative/"+m+"] an OpenSSL digest fails"); n != 2 {
			t.Errorf("the negative test %s shows %d times in the progress output, want once per platform", m, n)
		}
	}
}

// TestModes covers FIPSGATE_MODE=warn and off, a global ARG default, and an
// invalid value.
func TestModes(t *testing.T) {
	dir := testdata(t, "verify", "tolerant-app")
	t.Run("warn", func(t *testing.T) {
		b, r := verifyBuild(t, buildxCLI{}, dir, map[string]string{"BASE": fipsBase(), "FIPSGATE_MODE": "warn"})
		mustSucceed(t, "a warn-mode build", r)
		if !strings.Contains(r.output, "THE IMAGE DOES NOT ENFORCE FIPS") || !strings.Contains(r.output, "exported without an attestation") {
			t.Errorf("warn mode must say why there is no attestation:\n%s", r.output)
		}
		if _, preds := fipsgatePredicates(t, b.image, r.digest); len(preds) != 0 {
			t.Errorf("warn mode attached an attestation to a failing image: %+v", preds)
		}
	})
	t.Run("off", func(t *testing.T) {
		_, r := verifyBuild(t, buildxCLI{}, dir, map[string]string{"BASE": fipsBase(), "FIPSGATE_MODE": "off"})
		mustSucceed(t, "an off-mode build", r)
		if strings.Contains(r.output, "[fipsgate ") {
			t.Errorf("FIPSGATE_MODE=off ran verification:\n%s", r.output)
		}
	})
	t.Run("ARG default", func(t *testing.T) {
		withArg := filepath.Join(t.TempDir(), "ctx")
		if err := os.MkdirAll(withArg, 0o755); err != nil {
			t.Fatal(err)
		}
		dt, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(withArg, "Dockerfile"), append([]byte("ARG FIPSGATE_MODE=warn\n"), dt...), 0o644); err != nil {
			t.Fatal(err)
		}
		_, r := verifyBuild(t, buildxCLI{}, withArg, map[string]string{"BASE": fipsBase()})
		mustSucceed(t, "a build with ARG FIPSGATE_MODE=warn", r)
		if !strings.Contains(r.output, "FIPSGATE_MODE=warn") {
			t.Errorf("the Dockerfile's ARG default was not applied:\n%s", r.output)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		_, r := verifyBuild(t, buildctlCLI{}, dir, map[string]string{"BASE": fipsBase(), "FIPSGATE_MODE": "strict"})
		if r.err == nil || !strings.Contains(r.output, `--build-arg FIPSGATE_MODE="strict": invalid value; accepted: enforce, warn or off`) {
			t.Errorf("an invalid mode must fail naming the option and the accepted values:\n%s", r.output)
		}
	})
	t.Run("expect failure", func(t *testing.T) {
		helloserver := filepath.Join(repoRoot(t), "examples", "helloserver")
		_, r := verifyBuild(t, buildxCLI{}, helloserver, map[string]string{
			"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase(),
			"FIPSGATE_EXPECT_FAILURE": "this text is never printed",
		})
		if r.err == nil || !strings.Contains(r.output, "does not match FIPSGATE_EXPECT_FAILURE") {
			t.Errorf("a failure whose output does not match FIPSGATE_EXPECT_FAILURE must fail the build:\n%s", r.output)
		}
	})
}

// TestNoOpenSSLCommand: without the openssl command the command-line checks
// are reported as not run, and the application and static checks decide.
func TestNoOpenSSLCommand(t *testing.T) {
	b := build{
		contextDir: filepath.Join(repoRoot(t), "examples", "helloserver"),
		dockerfile: withSyntax(t, testdata(t, "verify", "no-openssl-cli", "Dockerfile"), frontendImage),
		buildArgs:  map[string]string{"BUILDER": registry + "/fipsgate/gobuilder:trixie", "BASE": fipsBase()},
		image:      fmt.Sprintf("%s/fipsgate-e2e/no-openssl-cli:%s", registry, uniqueTag),
	}
	r := buildxCLI{}.run(t, b)
	mustBeFipsgate(t, r)
	mustSucceed(t, "the build without the openssl command", r)
	_, preds := fipsgatePredicates(t, b.image, r.digest)
	p, ok := preds["linux/amd64"]
	if !ok {
		t.Fatal("no fipsgate attestation")
	}
	self := stage(p, "self-test", "")
	for check, want := range map[string]string{"provider-active": "not-run", "algorithms": "not-run", "self-tests": "not-run", "md5-refused": "not-run", "app-runs": "passed", "module-identity": "(no check)"} {
		if got := checkStatus(self, check); got != want {
			t.Errorf("self-test %s: %s, want %s", check, got, want)
		}
	}
	// No openssl to report the provider: the identity is the module's
	// strings' reading, and says so.
	if m := p.Module; m == nil || m.Identity.Confirmed || m.Identity.Name != "OpenSSL FIPS Provider" ||
		!strings.Contains(m.Identity.How, "not confirmed at run time") || !strings.Contains(m.CMVP.Reasoning, "not confirmed at run time") {
		t.Errorf("module without openssl: %+v", m)
	}
	if p.SelfTests != nil || p.Algorithms != nil {
		t.Errorf("evidence of checks that did not run: self-tests %+v, algorithms %+v", p.SelfTests, p.Algorithms)
	}
	if got := checkStatus(stage(p, "negative", "module-corrupted"), "app-refuses"); got != "passed" {
		t.Errorf("negative app-refuses: %s", got)
	}
}

// checkDebianModule: the predicate names Debian's provider, confirmed by
// what the active provider reported at run time, the package that
// installed it by its purl, and why it is not taken for validated: its
// name is upstream's, whose certificates cover other releases.
func checkDebianModule(t *testing.T, m *predicate.Module, arch string) {
	t.Helper()
	id := m.Identity
	if id.Name != "OpenSSL FIPS Provider" || !regexp.MustCompile(`^3\.\d+\.\d+$`).MatchString(id.Version) || id.Build != id.Version || !id.Confirmed ||
		!strings.Contains(id.How, "reported by the active FIPS provider at run time") {
		t.Errorf("module identity: %+v", id)
	}
	pkg := m.Package
	if !pkg.Found || pkg.Manager != "dpkg" || pkg.Name != "openssl-provider-fips" ||
		pkg.PURL != "pkg:deb/debian/openssl-provider-fips@"+pkg.Version+"?arch="+arch+"&distro=debian-13" ||
		!strings.HasPrefix(pkg.Version, id.Version+"-") || !strings.Contains(pkg.Reason, "evidence, not proof") {
		t.Errorf("module package: %+v", pkg)
	}
	c := m.CMVP
	if c.Validated || c.Certificate != nil || c.TableReviewed == "" ||
		!strings.Contains(c.Reasoning, `provider "OpenSSL FIPS Provider" is the module of certificates #4985 (3.1.2), #4282 (3.0.8, 3.0.9), but this module reports version `+id.Version) ||
		!strings.Contains(c.Reasoning, "Package: the image's dpkg database") {
		t.Errorf("module CMVP status: %+v", c)
	}
}

// TestRequireValidated: Debian's provider is not a CMVP-validated release,
// which FIPSGATE_REQUIRE_VALIDATED=true turns from a warning into a failure
// that says why.
func TestRequireValidated(t *testing.T) {
	_, r := verifyBuild(t, buildctlCLI{}, testdata(t, "verify", "base-image"), map[string]string{"BASE": fipsBase(), "FIPSGATE_REQUIRE_VALIDATED": "true"})
	if r.err == nil || !strings.Contains(r.output, "[static] the module is a CMVP-validated release") ||
		!strings.Contains(r.output, `provider "OpenSSL FIPS Provider" is the module of certificates #4985 (3.1.2), #4282 (3.0.8, 3.0.9)`) {
		t.Errorf("an unvalidated module must fail with FIPSGATE_REQUIRE_VALIDATED=true:\n%s", r.output)
	}
}

// TestLazyServerPasses: a server that sets up its crypto at its first
// request listens with the FIPS module broken as well; contacted, it dies
// in each negative test and answers on the image as built, so it passes.
func TestLazyServerPasses(t *testing.T) {
	b, r := verifyBuild(t, buildctlCLI{}, testdata(t, "verify", "lazy-server"), map[string]string{"BASE": fipsBase(), "BUILDER": registry + "/fipsgate/gobuilder:trixie"})
	mustSucceed(t, "the lazy server", r)
	_, preds := fipsgatePredicates(t, b.image, r.digest)
	p, ok := preds["linux/amd64"]
	if !ok {
		t.Fatal("no fipsgate attestation")
	}
	self := stage(p, "self-test", "")
	for _, c := range self.Checks {
		if c.Name == "app-runs" && (!c.Answered || !strings.Contains(c.Contact, `was answered "HTTP/1.0 200 OK"`)) {
			t.Errorf("app-runs: %+v", c)
		}
	}
	for _, m := range []string{"fipsmodule-cnf-removed", "module-mac-corrupted", "module-corrupted"} {
		for _, c := range stage(p, "negative", m).Checks {
			if c.Name == "app-refuses" && (c.Status != "passed" || !c.DiedOnContact) {
				t.Errorf("%s app-refuses: %+v", m, c)
			}
		}
	}
}
