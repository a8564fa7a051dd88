//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/fipsgate/fipsgate/predicate"
)

// emulationBuild builds a target of testdata/emulation through fipsgate
// with docker buildx build and pushes it.
func emulationBuild(t *testing.T, target string, args map[string]string, platforms ...string) build {
	t.Helper()
	dir := testdata(t, "emulation")
	if args == nil {
		args = map[string]string{}
	}
	args["BASE"], args["PLAIN"] = fipsBase(), plainBase()
	return build{
		contextDir: dir,
		dockerfile: withSyntax(t, filepath.Join(dir, "Dockerfile"), frontendImage),
		target:     target,
		buildArgs:  args,
		platforms:  platforms,
		image:      fmt.Sprintf("%s/fipsgate-e2e/emulation:%s-%s-%s", registry, target, strings.ReplaceAll(t.Name(), "/", "-"), uniqueTag),
	}
}

// TestEmulatedPlatform builds a FIPS image for linux/amd64 and linux/arm64
// on this x86_64 builder, whose kernel runs linux/arm64 programs only
// through qemu-user (hack/binfmt.sh): both platforms are verified and
// attested, linux/arm64 by the frontend image's own linux/arm64 probe, with
// every time limit scaled, as its predicate records; fipsgate verify accepts
// both. An application that fails a moment after its crypto, with
// FIPSGATE_READY_SECONDS=1, fails on linux/arm64 as it does natively: its
// limit is scaled too.
func TestEmulatedPlatform(t *testing.T) {
	b := emulationBuild(t, "hasher", nil, "linux/amd64", "linux/arm64")
	start := time.Now()
	r := buildxCLI{}.run(t, b)
	mustSucceed(t, "the linux/amd64 and linux/arm64 build", r)
	t.Logf("linux/amd64 + linux/arm64 on one node: %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(r.output, "[fipsgate linux/arm64] resolve the probe") || strings.Contains(r.output, "[fipsgate linux/amd64] resolve the probe") {
		t.Errorf("the probe of linux/arm64 alone is to be resolved from the frontend image:\n%s", r.output)
	}
	checkPlatformsVerified(t, b, r, map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"})

	late := emulationBuild(t, "late-failure", map[string]string{"FIPSGATE_READY_SECONDS": "1"}, "linux/arm64")
	r = buildxCLI{}.run(t, late)
	mustFailSaying(t, "an emulated application that fails after its crypto", r,
		"FIPS verification FAILED for linux/arm64",
		// As the build error says it, whether the checks ran or came
		// from the cache (progress output shows the first form only).
		"✗ [self-test] the application runs\n", "the application exited with status 3",
		fmt.Sprintf("still running after %s", time.Duration(probe.EmulationTimeScale)*time.Second),
	)
}

// checkPlatformsVerified requires a passing fipsgate attestation on each
// platform of the pushed image, its predicate recording how that platform's
// programs ran (want: platform → machine; every machine but the builder's,
// x86_64, emulated, by the platform's own probe), and fipsgate verify to
// accept every one of them on the digest the build reported.
func checkPlatformsVerified(t *testing.T, b build, r result, want map[string]string) {
	t.Helper()
	_, preds := fipsgatePredicates(t, b.image, r.digest)
	var plats []string
	for platform, machine := range want {
		plats = append(plats, "--platform", platform)
		p, ok := preds[platform]
		if !ok || p.Result != predicate.Passed {
			t.Errorf("%s: no PASSED fipsgate attestation (%+v)", platform, preds)
			continue
		}
		if !p.Application.Checked {
			t.Errorf("%s: no application was checked: %+v", platform, p.Application)
		}
		// The module's self-tests ran, emulated too, and the matrix was
		// listed.
		checkEvidence(t, p)
		e := p.Emulation
		if e == nil {
			t.Errorf("%s: the predicate does not say how its programs ran", platform)
			continue
		}
		emulated := machine != "x86_64"
		if e.Machine != machine || e.Emulated != emulated || e.Host != "x86_64" {
			t.Errorf("%s: the predicate's emulation is %+v, want %s programs on x86_64, emulated %v", platform, e, machine, emulated)
		}
		wantScale := 1.0
		if emulated {
			wantScale = probe.EmulationTimeScale
		}
		ownProbe := strings.Contains(e.How, "the probe itself is "+machine+" and runs emulated too")
		if e.TimeScale != wantScale || ownProbe != emulated {
			t.Errorf("%s: time scale %g, how %q; want the scale %g, and the platform's own probe %v", platform, e.TimeScale, e.How, wantScale, emulated)
		}
	}
	bin := fipsgateBinary(t)
	ref := fmt.Sprintf("%s/%s@%s", registry, repoOf(b.image), r.digest)
	if code, out, _ := runVerify(t, bin, append(append(plats, "--require-app"), ref)...); code != 0 {
		t.Errorf("fipsgate verify %s %s: exit %d\n%s", strings.Join(plats, " "), ref, code, out)
	}
}
