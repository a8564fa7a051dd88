// Command sbom-scanner is an SBOM generator image's program for BuildKit's
// `--sbom=generator=IMAGE` (BuildKit's docs/attestations/sbom-protocol.md):
// it scans the root filesystem at BUILDKIT_SCAN_SOURCE, and each one in the
// directory BUILDKIT_SCAN_SOURCE_EXTRAS (the build stages that
// BUILDKIT_SBOM_SCAN_STAGE names), with syft, and writes one in-toto
// statement per filesystem holding an SPDX JSON document to
// BUILDKIT_SCAN_DESTINATION/<name>.spdx.json, where <name> is the last
// component of the filesystem's path.
//
// It does what docker/buildkit-syft-scanner does, built from syft's module
// so that the dev environment, which can pull no image, can make one
// (hack/sbom-scanner.sh). It lives in a module of its own so that syft's
// dependencies stay out of fipsgate's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging/filecataloging"
	"github.com/anchore/syft/syft/cataloging/pkgcataloging"
	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/source"
	intoto "github.com/in-toto/in-toto-golang/in_toto"

	// syft reads RPM databases (Red Hat's, SUSE's, Amazon's FIPS images)
	// through database/sql and registers no driver of its own.
	_ "modernc.org/sqlite"
)

// The protocol's environment.
const (
	envDestination = "BUILDKIT_SCAN_DESTINATION"
	envSource      = "BUILDKIT_SCAN_SOURCE"
	envExtras      = "BUILDKIT_SCAN_SOURCE_EXTRAS"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "sbom-scanner: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dest, err := dirFromEnv(envDestination)
	if err != nil {
		return err
	}
	core, err := dirFromEnv(envSource)
	if err != nil {
		return err
	}
	targets := []string{core}
	extras, err := extraTargets(os.Getenv(envExtras))
	if err != nil {
		return err
	}
	targets = append(targets, extras...)
	// syft unpacks what it reads into a temporary directory; BuildKit
	// mounts a tmpfs at /tmp, but a scanner run by hand may have none.
	if err := os.MkdirAll(os.TempDir(), 0o1777); err != nil {
		return err
	}
	for _, t := range targets {
		if err := scan(ctx, t, dest); err != nil {
			return err
		}
	}
	return nil
}

func dirFromEnv(name string) (string, error) {
	p := os.Getenv(name)
	if p == "" {
		return "", fmt.Errorf("%s is not set: this program is run by BuildKit as an SBOM generator (--sbom=generator=IMAGE)", name)
	}
	if fi, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("%s: %s is not a directory", name, p)
	}
	return p, nil
}

// extraTargets lists the filesystems in dir. The protocol: no extras when
// the variable is unset, empty, or names no directory.
func extraTargets(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envExtras, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// scan writes the SPDX statement of the filesystem at root.
func scan(ctx context.Context, root, dest string) error {
	name := filepath.Base(root)
	src, err := syft.GetSource(ctx, root, syft.DefaultGetSourceConfig().
		WithSources("dir").
		WithBasePath(root).
		WithAlias(source.Alias{Name: name}))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer src.Close()
	// The catalogers syft runs on a container image, and the file
	// catalogers (digests of the files packages own, which is what a
	// reader joins fipsgate's module digest on), as buildkit-syft-scanner.
	sel := pkgcataloging.NewSelectionRequest().
		WithDefaults(pkgcataloging.ImageTag, filecataloging.FileTag).
		WithAdditions("sbom-cataloger")
	s, err := syft.CreateSBOM(ctx, src, syft.DefaultCreateSBOMConfig().WithCatalogerSelection(sel))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.Descriptor.Name = "syft"
	s.Descriptor.Version = syftVersion()
	enc, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	if err != nil {
		return err
	}
	doc, err := format.Encode(*s, enc)
	if err != nil {
		return fmt.Errorf("%s: encoding SPDX: %w", name, err)
	}
	st := intoto.Statement{
		StatementHeader: intoto.StatementHeader{Type: intoto.StatementInTotoV1, PredicateType: intoto.PredicateSPDX},
		Predicate:       json.RawMessage(doc),
	}
	dt, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dest, name+".spdx.json"), dt, 0o644)
}

// syftVersion is the version of syft's module linked in.
func syftVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/anchore/syft" {
				return d.Version
			}
		}
	}
	return "unknown"
}
