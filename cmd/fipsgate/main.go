// Command fipsgate is the fipsgate BuildKit frontend. Started by BuildKit with
// no arguments it serves the gateway API; with a subcommand it is the CLI.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/fipsgate/fipsgate/frontend"
	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	"github.com/moby/buildkit/util/bklog"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto"
)

// version is set at link time (-X main.version=...) by the frontend image's
// build and the release; a binary built without it reports what the Go
// toolchain recorded (buildVersion).
var version string

func main() {
	version = buildVersion(version, debug.ReadBuildInfo)
	frontend.Version = version
	if len(os.Args) > 1 {
		os.Exit(runCommand(os.Args[1:]))
	}
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		bklog.L.Errorf("fatal error: %+v", err)
		os.Exit(1)
	}
}

// buildVersion is the version fipsgate reports and writes into predicates:
// the one linked in, else the main module's version as the Go toolchain
// recorded it — v1.2.3 for `go install github.com/fipsgate/fipsgate/cmd/fipsgate@v1.2.3`,
// a pseudo-version for a build from a checkout — else "dev".
func buildVersion(linked string, readBuildInfo func() (*debug.BuildInfo, bool)) string {
	if linked != "" {
		return linked
	}
	if bi, ok := readBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `fipsgate — a BuildKit frontend that builds a Dockerfile and proves the image enforces FIPS.

Use it from a Dockerfile:

    # syntax=ghcr.io/fipsgate/fipsgate:1

Commands:
    fipsgate verify IMAGE
                        check an image's fipsgate attestations against a policy
                        (registry reference, OCI layout or OCI tar); --show prints them
    fipsgate scan PATH  scan an image (root filesystem, OCI layout or OCI tar) for
                        cryptography that bypasses the OpenSSL FIPS module
    fipsgate version    print the version
    fipsgate help       print this text
`

func runCommand(args []string) int {
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Printf("fipsgate %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Print(usage)
		return 0
	case "probe":
		return runProbe(args[1:])
	case "scan":
		return runScan(args[1:], os.Stdout, os.Stderr)
	case "verify":
		return runVerify(args[1:], os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "fipsgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// runProbe is the check-container side: `fipsgate probe SPEC-FILE`, run by
// the frontend inside the verification graph. It exits 0 whenever it wrote
// its result, whatever the result says.
func runProbe(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "fipsgate probe: want one argument, the spec file the frontend mounts")
		return 2
	}
	if err := probe.Main(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "fipsgate probe: %v\n", err)
		return 1
	}
	return 0
}
