// Package frontend holds fipsgate's gateway BuildFunc: it builds the
// Dockerfile with the upstream Dockerfile builder, unchanged, and returns its
// result. Verification of the built filesystem hangs off this one entry point.
package frontend

import (
	"context"

	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/client"
)

// Build is the gateway BuildFunc. Everything the upstream Dockerfile frontend
// supports — subrequests (--print, --check), multi-platform results, SBOM
// attestations, named contexts, secrets, ssh and cache mounts — is handled by
// the upstream builder; the result is returned as it produced it.
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	return dockerfile.Build(ctx, c)
}
