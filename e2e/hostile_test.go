//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// hostileBound is how long the build of a hostile image may take: each
// fails closed well within it, never waiting out the verification's limit
// (several minutes at the default timeouts).
const hostileBound = 2 * time.Minute

// TestHostileImages builds images made to fool each check, each through
// fipsgate: every one must fail, for the reason that closes its hole, in
// bounded time. (The classes are those of docs/threat-model.md.)
func TestHostileImages(t *testing.T) {
	gobuilder := registry + "/fipsgate/gobuilder:trixie"
	for _, tc := range []struct {
		name string
		args map[string]string
		want []string
		// bound, when set, is tighter than hostileBound: below the
		// default FIPSGATE_TIMEOUT_SECONDS, which nothing may wait out.
		bound time.Duration
	}{
		{
			// Evidence written where the application can reach it.
			name: "forges-evidence",
			want: []string{"THE IMAGE DOES NOT ENFORCE FIPS", "served without OpenSSL"},
		},
		{
			// Runs told apart: by what an earlier run left, a saved copy of
			// the module, or what the probe says. It refuses alike in every
			// run, the one on the image as built included.
			name: "tells-runs-apart",
			want: []string{"[self-test] the application runs", "run 1: refusing, as under test"},
		},
		{
			// An openssl that answers the self-test as a FIPS OpenSSL would.
			name: "stand-in-openssl",
			want: []string{"[static] the image's openssl command is an OpenSSL program on the verified libcrypto", "/usr/bin/openssl is not an ELF program"},
		},
		{
			// An image program that changes the configuration once it runs:
			// the static checks read the image as built, and OpenSSL's own
			// account of its providers is held against theirs.
			name: "rewrites-config",
			args: map[string]string{"BUILDER": gobuilder},
			want: []string{"[static] no provider other than fips and base is activated", "also activated: default",
				"OpenSSL does not use the configuration they judged"},
		},
		{
			// The configuration read differently from OpenSSL: a byte that
			// makes OpenSSL drop all of it and run the default provider.
			name: "config-dropped",
			want: []string{"[static] the OpenSSL configuration loads", "missing equal sign",
				"OpenSSL refuses the whole configuration"},
		},
		{
			// A configuration whose meaning depends on the environment of
			// the process that loads it ($ENV::HOME, from /etc/passwd).
			name: "env-config",
			want: []string{"[static] what the configuration activates does not depend on the loading process's environment", "(HOME)",
				"[static] no provider other than fips and base is activated"},
		},
		{
			// Files that would block a reader.
			name:  "fifo-module",
			want:  []string{"fips.so", "not a regular file"},
			bound: 20 * time.Second,
		},
		{
			name:  "device-config",
			want:  []string{"/etc/ssl/fipsmodule.cnf", "is in /dev"},
			bound: 20 * time.Second,
		},
		{
			// Resources: a fork bomb stops at the probe's process limit.
			name: "fork-bomb",
			want: []string{"processes at once; the probe killed them all"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]string{"BASE": fipsBase()}
			for k, v := range tc.args {
				args[k] = v
			}
			start := time.Now()
			_, r := verifyBuild(t, buildctlCLI{}, testdata(t, "hostile", tc.name), args)
			took := time.Since(start)
			mustFailSaying(t, tc.name, r, append([]string{"FIPS verification FAILED for linux/amd64"}, tc.want...)...)
			bound := hostileBound
			if tc.bound != 0 {
				bound = tc.bound
			}
			if took > bound {
				t.Errorf("the build took %s, over the %s bound", took.Round(time.Second), bound)
			}
			t.Logf("%s: failed closed in %s", tc.name, took.Round(100*time.Millisecond))
		})
	}
}
