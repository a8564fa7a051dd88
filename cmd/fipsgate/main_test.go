package main

import (
	"runtime/debug"
	"testing"
)

func TestRunCommandExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"version"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"help"}, 0},
		{[]string{"-h"}, 0},
		{[]string{"frobnicate"}, 2},
	} {
		if got := runCommand(tc.args); got != tc.want {
			t.Errorf("runCommand(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}

func TestBuildVersion(t *testing.T) {
	info := func(v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: "github.com/fipsgate/fipsgate", Version: v}}, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name   string
		linked string
		read   func() (*debug.BuildInfo, bool)
		want   string
	}{
		{"linked in wins", "v1.2.3", info("v1.2.0"), "v1.2.3"},
		{"go install @version", "", info("v1.2.3"), "v1.2.3"},
		{"build from a checkout", "", info("v0.0.0-20260101000000-0123456789ab+dirty"), "v0.0.0-20260101000000-0123456789ab+dirty"},
		{"no VCS information", "", info("(devel)"), "dev"},
		{"no build information", "", none, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildVersion(tc.linked, tc.read); got != tc.want {
				t.Errorf("buildVersion(%q) = %q, want %q", tc.linked, got, tc.want)
			}
		})
	}
}
