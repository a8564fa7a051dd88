package main

import "testing"

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
