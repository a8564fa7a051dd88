package frontend

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
)

// Only a frontend that is exactly an image pinned to a digest names the
// index whose other platforms' probes are the same build.
func TestFrontendImageRef(t *testing.T) {
	pinned := "example.com/fipsgate/fipsgate:1@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		st   llb.State
		ref  string
		why  string
	}{
		{"an image pinned to a digest", llb.Image(pinned), pinned, ""},
		{"a tag", llb.Image("example.com/fipsgate/fipsgate:1"), "", "is not pinned to a digest"},
		{"a local directory (a named context)", llb.Local("frontend"), "", "not an image from a registry (local://frontend)"},
		{"an image changed", llb.Image(pinned).File(llb.Mkdir("/x", 0o755)), "", "not an image from a registry"},
		{"an OCI layout", llb.OCILayout("fipsgate@sha256:" + strings.Repeat("ab", 32)), "", "not an image from a registry (oci-layout://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, why := frontendImageRef(context.Background(), tc.st)
			if ref != tc.ref || !strings.Contains(why, tc.why) || (tc.ref == "") == (why == "") {
				t.Errorf("got %q (%q), want %q (%q)", ref, why, tc.ref, tc.why)
			}
		})
	}
}
