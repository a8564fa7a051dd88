//go:build e2e

// Package e2e tests fipsgate the way users meet it: a real buildkitd with
// runc, a real registry, the frontend image selected by the Dockerfile's
// `# syntax=` line, driven by buildctl and by docker buildx build.
//
// It needs the dev environment (make e2e brings it up); without it every test
// fails, never skips.
package e2e

import (
	"fmt"
	"os"
	"testing"
)

// The dev environment, from `eval "$(make -s dev-up)"` and make frontend-image.
var (
	registry      = os.Getenv("FIPSGATE_REGISTRY")
	frontendImage = os.Getenv("FIPSGATE_FRONTEND_IMAGE")
	buildxBuilder = os.Getenv("BUILDX_BUILDER")
	buildkitHost  = os.Getenv("BUILDKIT_HOST")
	// A second buildkitd, for builders of two nodes.
	buildkitNode2 = os.Getenv("FIPSGATE_BUILDKIT_NODE2")
)

func TestMain(m *testing.M) {
	for name, v := range map[string]string{
		"FIPSGATE_REGISTRY":       registry,
		"FIPSGATE_FRONTEND_IMAGE": frontendImage,
		"BUILDX_BUILDER":          buildxBuilder,
		"BUILDKIT_HOST":           buildkitHost,
		"FIPSGATE_BUILDKIT_NODE2": buildkitNode2,
	} {
		if v == "" {
			fmt.Fprintf(os.Stderr, "e2e: %s is not set; run the end-to-end tests with `make e2e` (or `make test`)\n", name)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
