package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/log"
	"github.com/fipsgate/fipsgate/attestation"
	"github.com/fipsgate/fipsgate/predicate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

const verifyUsage = `usage: fipsgate verify [flags] IMAGE

Answers "may this image ship?" from its fipsgate attestations. IMAGE is a
registry reference (tag or digest; credentials from the Docker config and its
credential helpers), or an OCI layout directory or OCI tar (PATH, or
PATH@DIGEST for one entry of its index.json).

Trust is bound to one digest: a tag is resolved once, and only the
attestations that digest covers (the index's attestation manifests) count.
Attestations that only the OCI referrers API lists need --referrers. With
--key, or the --certificate-* flags, a cosign signature over that digest is
required too (read from the sha256-<hex>.sig tag that cosign sign writes),
with its transparency-log entry checked against the logs of --trusted-root
unless --insecure-ignore-tlog.

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
	fs.BoolVar(&policy.Referrers, "referrers", false, "also accept attestations found only through the OCI referrers API (the image's digest does not cover them: anyone who can push to the repository can add one)")
	var sig signatureFlags
	fs.StringVar(&sig.key, "key", "", "require a cosign signature over the image's digest that verifies with this public key (a PEM file, such as cosign.pub; no KMS)")
	fs.StringVar(&sig.identity, "certificate-identity", "", "require a keyless cosign signature whose certificate names this identity (email or URI)")
	fs.StringVar(&sig.identityRegexp, "certificate-identity-regexp", "", "as --certificate-identity, a regular expression")
	fs.StringVar(&sig.issuer, "certificate-oidc-issuer", "", "the OIDC issuer the keyless signature's certificate must name")
	fs.StringVar(&sig.issuerRegexp, "certificate-oidc-issuer-regexp", "", "as --certificate-oidc-issuer, a regular expression")
	fs.StringVar(&sig.trustedRoot, "trusted-root", "", "the Sigstore trusted root (JSON): the certificate authorities keyless certificates must chain to, and the transparency logs' keys")
	fs.BoolVar(&sig.ignoreTlog, "insecure-ignore-tlog", false, "accept a signature without a transparency-log entry (a keyless certificate must then be valid now)")
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	policy.Platforms = plats
	sp, err := sig.policy()
	if err != nil {
		fmt.Fprintf(stderr, "fipsgate verify: %v\n", err)
		return 2
	}
	policy.Signature = sp
	// containerd's resolver logs every 404 at info level; a missing
	// signature tag is an answer, said in the result, not a log line.
	if err := log.SetLevel("warn"); err != nil {
		fmt.Fprintf(stderr, "fipsgate verify: %v\n", err)
		return 2
	}
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
	if res.Tag != "" {
		fmt.Fprintf(stdout, "%s: the tag %s resolved to %s; every answer below is bound to that digest (%s), whatever the tag names later\n",
			res.Image, res.Tag, res.Digest, res.Pinned)
	} else {
		fmt.Fprintf(stdout, "%s (%s)\n", res.Image, res.Digest)
	}
	if s := res.Signature; s != nil {
		fmt.Fprintf(stdout, "  %-14s %-5s %s\n", "signature", s.Status, s.Reason)
	}
	for _, p := range res.Platforms {
		reason := p.Reason
		switch p.Source {
		case attestation.FromIndex:
			reason += " (from the index)"
		case attestation.FromReferrers:
			reason += " (from the referrers API, not covered by the digest)"
		}
		fmt.Fprintf(stdout, "  %-14s %-5s %s\n", p.Platform, p.Status, reason)
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
		fmt.Fprintf(w, "  module       %s %s at %s\n", m.Identity.Name, m.Identity.Version, m.Path)
		if m.Package.PURL != "" {
			fmt.Fprintf(w, "               package %s\n", m.Package.PURL)
		}
		fmt.Fprintf(w, "               sha256 %s, MAC verified: %v, layout: %s\n", m.Digest["sha256"], m.MACVerified, m.Layout)
		fmt.Fprintf(w, "               validated: %v — %s\n", m.CMVP.Validated, m.CMVP.Reasoning)
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
		fmt.Fprintf(w, "  %s\n", s.ID)
		for _, c := range s.Checks {
			fmt.Fprintf(w, "    %-8s %s\n", c.Status, c.Title)
		}
	}
	if st := p.SelfTests; st != nil {
		passed := 0
		for _, t := range st.Tests {
			if t.Result == predicate.SelfTestPass {
				passed++
			}
		}
		fmt.Fprintf(w, "  self-tests   %d ran, %d passed\n", len(st.Tests), passed)
	}
	if a := p.Algorithms; a != nil {
		var order []string
		counts := map[string]int{}
		approved, refused := 0, 0
		for _, s := range a.Served {
			if counts[s.Category]++; counts[s.Category] == 1 {
				order = append(order, s.Category)
			}
			if s.Approved {
				approved++
			}
		}
		for i, c := range order {
			order[i] = fmt.Sprintf("%s %d", c, counts[c])
		}
		for _, n := range a.NonApproved {
			if n.Refused {
				refused++
			}
		}
		fmt.Fprintf(w, "  algorithms   %d served, %d approved (%s); %d of %d non-approved looked for refused\n",
			len(a.Served), approved, strings.Join(order, ", "), refused, len(a.NonApproved))
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
		fmt.Fprintf(w, "  warning      [%s] %s: %s\n", warn.Stage, warn.Title, strings.SplitN(warn.Detail, "\n", 2)[0])
	}
}

// signatureFlags are the cosign-style flags that require a signature.
type signatureFlags struct {
	key                      string
	identity, identityRegexp string
	issuer, issuerRegexp     string
	trustedRoot              string
	ignoreTlog               bool
}

// policy is the signature policy the flags ask for, nil for none.
func (f signatureFlags) policy() (*attestation.SignaturePolicy, error) {
	keyless := f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
	switch {
	case f.key == "" && !keyless:
		if f.trustedRoot != "" {
			return nil, errors.New("--trusted-root needs --key, or --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp)")
		}
		return nil, nil
	case f.key != "" && keyless:
		return nil, errors.New("--key and the --certificate-* flags are exclusive: a signature is made with a key or with a certificate")
	case keyless && (f.identity == "") == (f.identityRegexp == ""):
		return nil, errors.New("keyless verification needs one of --certificate-identity and --certificate-identity-regexp")
	case keyless && (f.issuer == "") == (f.issuerRegexp == ""):
		return nil, errors.New("keyless verification needs one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp")
	case keyless && f.trustedRoot == "":
		// The public Sigstore instance's root comes by TUF from the network;
		// fipsgate fetches nothing, so the root is always given.
		return nil, errors.New("keyless verification needs --trusted-root (the Sigstore trusted root JSON, as cosign trusted-root create writes)")
	case !f.ignoreTlog && f.trustedRoot == "":
		return nil, errors.New("a signature's transparency-log entry is checked with the log's key from --trusted-root (the Sigstore trusted root JSON, as cosign trusted-root create writes): give one, or --insecure-ignore-tlog to accept a signature without a log entry")
	}
	p := &attestation.SignaturePolicy{IgnoreTlog: f.ignoreTlog}
	if f.trustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(f.trustedRoot)
		if err != nil {
			return nil, fmt.Errorf("--trusted-root %s: %w", f.trustedRoot, err)
		}
		p.TrustedRoot = tr
	}
	if keyless {
		id, err := verify.NewShortCertificateIdentity(f.issuer, f.issuerRegexp, f.identity, f.identityRegexp)
		if err != nil {
			return nil, fmt.Errorf("certificate identity: %w", err)
		}
		p.Identity = id
		return p, nil
	}
	if strings.Contains(f.key, "://") {
		return nil, fmt.Errorf("--key %s: only a PEM public key file is supported (no KMS or other key references)", f.key)
	}
	dt, err := os.ReadFile(f.key)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if p.Key, err = cryptoutils.UnmarshalPEMToPublicKey(dt); err != nil {
		return nil, fmt.Errorf("--key %s is not a PEM public key: %w", f.key, err)
	}
	p.KeyName = f.key
	return p, nil
}
