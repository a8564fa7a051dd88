package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/containerd/platforms"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/ocilayout"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

const scanUsage = `usage: fipsgate scan [flags] PATH

Scans an image for cryptography that bypasses the OpenSSL FIPS module, as
the build does. PATH is an unpacked root filesystem, an OCI image layout
directory, or an OCI layout tar (what -o type=oci writes).

Exit status: 0 no failure, 1 a failure was found, 2 the scan could not run.

Flags:
`

// runScan is `fipsgate scan`.
func runScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the inventory as JSON")
	strict := fs.Bool("strict", false, "treat warnings as failures (FIPSGATE_STRICT)")
	exceptionsFile := fs.String("exceptions", "", "a file of accepted findings (the FIPSGATE_EXCEPTIONS format)")
	command := fs.String("command", "", "the application's command, as words or a JSON array, whose reach is judged harder (docs/verdict.md); default: an OCI layout's ENTRYPOINT and CMD")
	platform := fs.String("platform", "", "the platform to scan in a multi-platform layout (default: the only one, or this machine's)")
	fs.Usage = func() { fmt.Fprint(stderr, scanUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "fipsgate scan: %v\n", err); return 2 }

	opts := inventory.Options{Strict: *strict}
	if *exceptionsFile != "" {
		dt, err := readInput(*exceptionsFile)
		if err != nil {
			return fail(fmt.Errorf("--exceptions: %w", err))
		}
		if opts.Exceptions, err = inventory.ParseExceptions(*exceptionsFile, dt); err != nil {
			return fail(err)
		}
	}
	var p *ocispecs.Platform
	if *platform != "" {
		pp, err := platforms.Parse(*platform)
		if err != nil {
			return fail(fmt.Errorf("--platform: %w", err))
		}
		p = &pp
	}
	rootDir, cfg, cleanup, err := scanRoot(context.Background(), fs.Arg(0), p)
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	opts.Env = cfg.env
	root := imagefs.Root{Dir: rootDir}
	opts.VerifiedLibcrypto = inventory.FindLibrary(root, "libcrypto.so.3", nil, "/", inventory.LibraryDirs(root, cfg.env))
	if *command != "" {
		cfg.command = strings.Fields(*command)
		if strings.HasPrefix(*command, "[") {
			if err := json.Unmarshal([]byte(*command), &cfg.command); err != nil {
				return fail(fmt.Errorf("--command: %w (want words, or a JSON array of strings as in an exec-form ENTRYPOINT)", err))
			}
		}
	}
	if len(cfg.command) > 0 {
		opts.AppArgs = cfg.command
		opts.Reach = inventory.ResolveReach(root, cfg.command, cfg.env, cfg.workDir)
	}
	inv, err := inventory.Scan(root, opts)
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(inv); err != nil {
			return fail(err)
		}
	} else {
		printInventory(stdout, inv, opts.VerifiedLibcrypto)
	}
	if len(inv.Failures()) > 0 {
		return 1
	}
	return 0
}

// readInput reads a small file named on the command line under the rules
// for an image's files: a FIFO or a device is refused, not waited on.
func readInput(p string) ([]byte, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	return imagefs.Root{Dir: "/"}.ReadFile(abs)
}

// imageConfig is what a scan takes from an image's config.
type imageConfig struct {
	env     map[string]string
	command []string
	workDir string
}

// scanRoot turns PATH into a root directory to scan, unpacking an OCI
// layout into a temporary directory.
func scanRoot(ctx context.Context, p string, platform *ocispecs.Platform) (string, imageConfig, func(), error) {
	cfg := imageConfig{env: map[string]string{}}
	st, err := os.Stat(p)
	if err != nil {
		return "", cfg, nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(p, ocispecs.ImageLayoutFile)); err != nil {
			return p, cfg, func() {}, nil
		}
	}
	l, err := ocilayout.Open(ctx, p)
	if err != nil {
		return "", cfg, nil, err
	}
	defer l.Close()
	img, err := l.ResolveImage(ctx, platform)
	if err != nil {
		return "", cfg, nil, err
	}
	dir, err := os.MkdirTemp("", "fipsgate-scan-")
	if err != nil {
		return "", cfg, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := l.Unpack(ctx, img, dir); err != nil {
		cleanup()
		return "", cfg, nil, err
	}
	for _, kv := range img.Config.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg.env[k] = v
	}
	cfg.command = append(append([]string{}, img.Config.Config.Entrypoint...), img.Config.Config.Cmd...)
	cfg.workDir = img.Config.Config.WorkingDir
	return dir, cfg, cleanup, nil
}

func printInventory(w io.Writer, inv *inventory.Inventory, libcrypto string) {
	fmt.Fprintf(w, "scanned %d files (%d ELF, %d Go binaries); verified libcrypto: %s\n\n",
		inv.Stats.Files, inv.Stats.ELFFiles, inv.Stats.GoFiles, orNone(libcrypto))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tKIND\tPATH\tEVIDENCE")
	for _, f := range inv.Findings {
		sev := strings.ToUpper(f.Severity)
		if f.Accepted != "" {
			sev = "accepted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sev, f.Kind, f.Path, f.Evidence)
	}
	tw.Flush()
	failures := len(inv.Failures())
	fmt.Fprintf(w, "\n%d findings, %d failures\n", len(inv.Findings), failures)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
