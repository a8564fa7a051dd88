package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fipsgate/fipsgate/attestation"
	"github.com/fipsgate/fipsgate/predicate"
)

const verifyUsage = `usage: fipsgate verify [flags] IMAGE

Answers "may this image ship?" from its fipsgate attestations. IMAGE is a
registry reference (tag or digest; credentials from the Docker config and its
credential helpers), an OCI layout directory, or an OCI tar.

Exit status: 0 every required platform passed, 1 a policy failure,
2 the image could not be verified.

Flags:
`

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// runVerify is `fipsgate verify`.
func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var policy attestation.Policy
	var plats listFlag
	fs.Var(&plats, "platform", "require only these platforms (repeat or comma-separate; default: every platform of the image)")
	fs.BoolVar(&policy.RequireValidated, "require-validated", false, "require a CMVP-validated (FIPS 140-3) module")
	fs.BoolVar(&policy.RequireApp, "require-app", false, "require that an application check ran (not OpenSSL alone)")
	fs.BoolVar(&policy.RequireNegative, "require-negative", true, "require that negative tests ran")
	fs.StringVar(&policy.MinVersion, "min-version", predicate.Version, "the oldest predicate schema version accepted (MAJOR.MINOR)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	show := fs.Bool("show", false, "also print each platform's predicate in a readable form")
	plainHTTP := fs.Bool("plain-http", false, "talk plain HTTP to the registry (loopback registries always are)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	policy.Platforms = plats
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	src, err := attestation.Open(ctx, fs.Arg(0), *plainHTTP)
	if err != nil {
		return verifyFailed(stderr, fs.Arg(0), *timeout, err)
	}
	res, err := attestation.Verify(ctx, src, policy)
	if err != nil {
		return verifyFailed(stderr, fs.Arg(0), *timeout, err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Verify turns what a platform could not read into that platform's
		// ERROR; say why, once, whatever the output format.
		fmt.Fprintf(stderr, "fipsgate verify timed out (--timeout %s) before it read every attestation of %s: platforms in ERROR say what was being read\n", *timeout, fs.Arg(0))
	}
	if *asJSON {
		if !*show {
			for i := range res.Platforms {
				res.Platforms[i].Predicate = nil
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return 2
		}
		return res.ExitCode()
	}
	fmt.Fprintf(stdout, "%s (%s)\n", res.Image, res.Digest)
	for _, p := range res.Platforms {
		fmt.Fprintf(stdout, "  %-14s %-5s %s\n", p.Platform, p.Status, p.Reason)
	}
	fmt.Fprintf(stdout, "%s\n", res.Status)
	if *show {
		for _, p := range res.Platforms {
			if p.Predicate != nil {
				printPredicate(stdout, p.Platform, p.Predicate)
			}
		}
	}
	return res.ExitCode()
}

// verifyFailed reports why image could not be verified and returns the
// exit status; a timeout says what verify was reading.
func verifyFailed(w io.Writer, image string, timeout time.Duration, err error) int {
	var te *attestation.TimeoutError
	switch {
	case errors.As(err, &te) && errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(w, "fipsgate verify %s (--timeout %s): give it longer with --timeout, or see what makes the read slow\n", te, timeout)
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(w, "fipsgate verify timed out (--timeout %s) while reading %s: %v\n", timeout, image, err)
	default:
		fmt.Fprintf(w, "fipsgate verify: could not verify %s: %v\n", image, err)
	}
	return 2
}

func printPredicate(w io.Writer, platform string, p *predicate.Predicate) {
	fmt.Fprintf(w, "\n%s — %s (fipsgate %s, schema %s)\n", platform, p.Result, p.Verifier.Version, p.SchemaVersion)
	if m := p.Module; m != nil {
		fmt.Fprintf(w, "  module       %s %s at %s\n", m.Name, m.Version, m.Path)
		fmt.Fprintf(w, "               sha256 %s, MAC verified: %v, layout: %s\n", m.SHA256, m.MACVerified, m.Layout)
		fmt.Fprintf(w, "               validated: %v — %s\n", m.Validated, m.ValidationMsg)
	}
	if o := p.OpenSSL; o != nil {
		fmt.Fprintf(w, "  openssl      %s (from %s); providers %s; default_properties %q; config_diagnostics %v\n",
			o.ConfigFile, o.ConfigSource, strings.Join(o.ActiveProviders, ", "), o.DefaultProperties, o.ConfigDiagnostics)
	}
	if p.Application.Checked {
		fmt.Fprintf(w, "  application  %s (%s)\n", strings.Join(p.Application.Command, " "), p.Application.Source)
	} else {
		fmt.Fprintf(w, "  application  none checked (verified on OpenSSL alone)\n")
	}
	for _, s := range p.Stages {
		name := s.Name
		if s.Mutation != "" {
			name += " (" + s.Mutation + ")"
		}
		fmt.Fprintf(w, "  %s\n", name)
		for _, c := range s.Checks {
			fmt.Fprintf(w, "    %-8s %s\n", c.Status, c.Title)
		}
	}
	if inv := p.Inventory; inv != nil {
		fmt.Fprintf(w, "  inventory    %d files, %d ELF, %d Go binaries; %d findings\n", inv.Stats.Files, inv.Stats.ELFFiles, inv.Stats.GoFiles, len(inv.Findings))
		for _, f := range inv.Findings {
			sev := f.Severity
			if f.Accepted != "" {
				sev = "accepted"
			}
			fmt.Fprintf(w, "    %-8s %s %s\n", sev, f.Kind, f.Path)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "  warning      %s\n", strings.SplitN(warn, "\n", 2)[0])
	}
}
