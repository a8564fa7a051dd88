package frontend

import (
	"fmt"
	"strings"

	"github.com/fipsgate/fipsgate/internal/probe"
)

// Finding is a check that did not pass, with where it ran.
type Finding struct {
	Stage string // probe.StageName: "static", "self-test", "negative/module-mac-corrupted"…
	Check probe.Check
}

// Verdict is the decision for one platform.
type Verdict struct {
	Platform string
	Passed   bool
	Failures []Finding // required checks that failed: each alone fails the platform
	Warnings []Finding
}

func stageName(r *probe.Report) string { return probe.StageName(r.Kind, r.Mutation) }

// Decide judges one platform: it passes when every required check passed,
// the self-test ran, at least one negative test ran, and each negative test
// showed something — an application or OpenSSL that refused to work.
func Decide(r probe.Reports) Verdict {
	v := Verdict{Platform: r.Platform}
	fail := func(stage, name, title, detail string) {
		v.Failures = append(v.Failures, Finding{Stage: stage, Check: probe.Check{Name: name, Title: title, Required: true, Status: probe.Failed, Detail: detail}})
	}
	all := []*probe.Report{r.Static, r.SelfTest}
	all = append(all, r.Negatives...)
	for _, rep := range all {
		if rep == nil {
			continue
		}
		for _, c := range rep.Checks {
			switch {
			case c.Status == probe.Failed && c.Required:
				v.Failures = append(v.Failures, Finding{stageName(rep), c})
			case c.Status == probe.Failed || c.Status == probe.Warning:
				v.Warnings = append(v.Warnings, Finding{stageName(rep), c})
			}
		}
	}
	if r.Static == nil {
		fail("static", "report", "the static checks reported", "no static report")
	}
	if r.SelfTest == nil {
		fail("self-test", "report", "the self-test ran", "no self-test report")
	} else if !anyPassed(r.SelfTest) && len(v.Failures) == 0 {
		fail("self-test", "something-verified", "the self-test verified something",
			"nothing could be run: the image has no openssl command and no application to check; set FIPSGATE_CHECK to a command that uses OpenSSL")
	}
	if len(r.Negatives) == 0 && len(v.Failures) == 0 {
		fail("negative", "negative-tests", "negative tests ran", "no negative test applied to this image")
	}
	for _, n := range r.Negatives {
		// With the static checks failed, a test that had nothing to break
		// adds nothing to say.
		if !anyPassed(n) && len(v.Failures) == 0 {
			fail(stageName(n), "something-refused", "something refused to work with the FIPS module broken",
				"the image has no openssl command and no application to check; set FIPSGATE_CHECK to a command that uses OpenSSL")
		}
	}
	v.Passed = len(v.Failures) == 0
	return v
}

// anyPassed tells whether any check of a report ran and passed.
func anyPassed(r *probe.Report) bool {
	for _, c := range r.Checks {
		if c.Status == probe.Passed {
			return true
		}
	}
	return false
}

// Explain renders the failures of verdicts for a build error or warning:
// the platform, the check, the command, what it did, its last output.
func Explain(vs []Verdict) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Passed {
			continue
		}
		fmt.Fprintf(&b, "fipsgate: FIPS verification FAILED for %s\n", v.Platform)
		for _, f := range v.Failures {
			c := f.Check
			fmt.Fprintf(&b, "  ✗ [%s] %s\n", f.Stage, c.Title)
			for _, l := range strings.Split(c.Detail, "\n") {
				if l != "" {
					fmt.Fprintf(&b, "      %s\n", l)
				}
			}
			if len(c.Command) > 0 {
				fmt.Fprintf(&b, "      command: %s\n", strings.Join(c.Command, " "))
				fmt.Fprintf(&b, "      expected: %s; observed: %s\n", c.Expect, observed(c))
			}
			if c.Output != "" {
				b.WriteString("      output (last lines):\n")
				for _, l := range strings.Split(c.Output, "\n") {
					fmt.Fprintf(&b, "        | %s\n", l)
				}
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func observed(c probe.Check) string {
	switch {
	case c.Listening && c.DiedOnContact && c.Signal != "":
		return "listening, then signal " + c.Signal + " when contacted"
	case c.Listening && c.DiedOnContact && c.ExitCode != nil:
		return fmt.Sprintf("listening, then exit status %d when contacted", *c.ExitCode)
	case c.Listening && c.Answered:
		return "listening, and answered when contacted"
	case c.Listening:
		return "listening on a socket"
	case c.StillRunning:
		return "still running"
	case c.TimedOut:
		return "timed out"
	case c.Signal != "":
		return "signal " + c.Signal
	case c.ExitCode != nil:
		return fmt.Sprintf("exit status %d", *c.ExitCode)
	}
	return "did not run"
}
