package frontend

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/fipsgate/fipsgate/internal/probe"
	"github.com/moby/buildkit/util/suggest"
)

// Modes of FIPSGATE_MODE.
const (
	ModeEnforce = "enforce"
	ModeWarn    = "warn"
	ModeOff     = "off"
)

// Options are fipsgate's build options: build-args named FIPSGATE_*, which
// a Dockerfile may also default with a global ARG.
type Options struct {
	Mode string `json:"mode"`
	// Check replaces the image's ENTRYPOINT and CMD as the application
	// check; CheckSet tells it was given, and an empty Check with CheckSet
	// ("none") checks no application.
	Check    []string `json:"check,omitempty"`
	CheckSet bool     `json:"-"`
	// ReadySeconds, when set, is when an application that neither exits
	// nor listens counts as up; 0: not before TimeoutSeconds.
	ReadySeconds   float64 `json:"readySeconds,omitempty"`
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	ExpectFailure  string  `json:"expectFailure,omitempty"`
	// ProbeRequest is sent to a server once it listens, in place of
	// probe.DefaultRequest.
	ProbeRequest     string `json:"probeRequest,omitempty"`
	RequireValidated bool   `json:"requireValidated"`
	// Strict makes inventory warnings failures.
	Strict bool `json:"strict"`
	// Exceptions names the file of accepted inventory findings:
	// "PATH" in the build context, or "NAME:PATH" in named context NAME.
	Exceptions string `json:"exceptions,omitempty"`
	// ResourceURI is the resourceUri of the verification summary (VSA):
	// where consumers will fetch the image from, which a frontend is not
	// told; empty: predicate.UnboundResourceURI. It changes nothing that
	// is verified, so the predicate's options leave it out: the VSA
	// carries it.
	ResourceURI string `json:"-"`
}

// DefaultOptions are the values in force when nothing is set.
var DefaultOptions = Options{
	Mode:           ModeEnforce,
	TimeoutSeconds: probe.DefaultTimeout.Seconds(),
}

type option struct {
	accepted string
	set      func(o *Options, v string) error
}

var options = map[string]option{
	"FIPSGATE_MODE": {"enforce, warn or off", func(o *Options, v string) error {
		switch v {
		case ModeEnforce, ModeWarn, ModeOff:
			o.Mode = v
			return nil
		}
		return errInvalid
	}},
	"FIPSGATE_CHECK": {`a command line (run with /bin/sh -c), a JSON array (exec form), or "none"`, func(o *Options, v string) error {
		cmd, err := parseCheck(v)
		if err != nil {
			return err
		}
		o.Check, o.CheckSet = cmd, true
		return nil
	}},
	"FIPSGATE_READY_SECONDS": {"a number of seconds greater than 0 and at most 600", func(o *Options, v string) error {
		return setSeconds(&o.ReadySeconds, v)
	}},
	"FIPSGATE_TIMEOUT_SECONDS": {"a number of seconds greater than 0 and at most 600", func(o *Options, v string) error {
		return setSeconds(&o.TimeoutSeconds, v)
	}},
	"FIPSGATE_PROBE_REQUEST": {`the bytes to send a server once it listens, with Go string escapes (\r\n)`, func(o *Options, v string) error {
		req, err := strconv.Unquote(`"` + strings.ReplaceAll(v, `"`, `\"`) + `"`)
		if err != nil || req == "" {
			return errInvalid
		}
		o.ProbeRequest = req
		return nil
	}},
	"FIPSGATE_EXPECT_FAILURE": {"a regular expression (Go RE2 syntax)", func(o *Options, v string) error {
		if _, err := regexp.Compile(v); err != nil {
			return err
		}
		o.ExpectFailure = v
		return nil
	}},
	"FIPSGATE_REQUIRE_VALIDATED": {"true or false", func(o *Options, v string) error {
		return setBool(&o.RequireValidated, v)
	}},
	"FIPSGATE_STRICT": {"true or false", func(o *Options, v string) error {
		return setBool(&o.Strict, v)
	}},
	"FIPSGATE_EXCEPTIONS": {"a file in the build context, or NAME:PATH for a file in the named context NAME", func(o *Options, v string) error {
		if strings.TrimSpace(v) == "" {
			return errInvalid
		}
		o.Exceptions = v
		return nil
	}},
	"FIPSGATE_RESOURCE_URI": {"an absolute URI (scheme:…), e.g. pkg:docker/registry.example/app or https://registry.example/app", func(o *Options, v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || len(v) > 2048 || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return errInvalid
		}
		o.ResourceURI = v
		return nil
	}},
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errInvalid
	}
	*dst = b
	return nil
}

// errInvalid is what a setter returns when the option's accepted values
// say all there is to say.
var errInvalid = errors.New("invalid value")

func setSeconds(dst *float64, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 600) {
		return errInvalid
	}
	*dst = f
	return nil
}

// parseCheck reads FIPSGATE_CHECK: "none", a JSON array (exec form), or a
// shell command line, as Dockerfile's CMD reads its two forms.
func parseCheck(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil, fmt.Errorf("empty command")
	case v == "none":
		return nil, nil
	case strings.HasPrefix(v, "["):
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil || len(args) == 0 {
			return nil, fmt.Errorf("not a JSON array of strings")
		}
		return args, nil
	}
	return []string{"/bin/sh", "-c", v}, nil
}

// ParseOptions reads the options from the build's build-args and the
// Dockerfile's global ARG defaults; a build-arg wins over a default. An
// invalid value, or an unknown FIPSGATE_ name, is an *OptionError that
// names the option, where it was set and what it accepts.
//
// An unknown name is an error, not a warning: fipsgate is a gate, and an
// option that tightens it (FIPSGATE_REQUIRE_VALIDATED, FIPSGATE_STRICT)
// silently ignored for a typo would let through what it was set to stop.
// Any name that starts with FIPSGATE_, in any case, is fipsgate's.
func ParseOptions(buildArgs, argDefaults map[string]string) (Options, error) {
	o := DefaultOptions
	type setting struct {
		value          string
		fromDockerfile bool
	}
	merged := map[string]setting{}
	for k, v := range argDefaults {
		merged[k] = setting{v, true}
	}
	for k, v := range buildArgs {
		merged[k] = setting{v, false}
	}
	names := make([]string, 0, len(merged))
	for k := range merged {
		if IsOptionName(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		v := merged[name]
		opt, ok := options[name]
		if !ok {
			return Options{}, &OptionError{Name: name, Value: v.value, FromDockerfile: v.fromDockerfile, Unknown: true, Suggestion: suggestOption(name)}
		}
		if err := opt.set(&o, v.value); err != nil {
			oe := &OptionError{Name: name, Value: v.value, FromDockerfile: v.fromDockerfile, Accepted: opt.accepted}
			if !errors.Is(err, errInvalid) {
				oe.Reason = err
			}
			return Options{}, oe
		}
	}
	return o, nil
}

// IsOptionName tells whether a build-arg or ARG name is fipsgate's.
func IsOptionName(name string) bool {
	return len(name) >= len(optionPrefix) && strings.EqualFold(name[:len(optionPrefix)], optionPrefix)
}

const optionPrefix = "FIPSGATE_"

// OptionError is an unknown FIPSGATE_* name, or an invalid value of a
// known one.
type OptionError struct {
	Name, Value string
	// FromDockerfile tells the value came from a global ARG of the
	// Dockerfile, not a build-arg.
	FromDockerfile bool
	// Unknown: no option has that name; Suggestion, when not empty, is
	// the one likely meant.
	Unknown    bool
	Suggestion string
	// Accepted says what the option accepts; Reason, when not nil, why
	// the value is not that.
	Accepted string
	Reason   error
}

func (e *OptionError) Error() string {
	from := "--build-arg " + e.Name
	if e.FromDockerfile {
		from = "the Dockerfile's ARG " + e.Name
	}
	if e.Unknown {
		if e.Suggestion != "" {
			return fmt.Sprintf("%s: unknown fipsgate option (did you mean %s?)", from, e.Suggestion)
		}
		return fmt.Sprintf("%s: unknown fipsgate option; known options: %s", from, strings.Join(optionNames(), ", "))
	}
	msg := fmt.Sprintf("%s=%q: invalid value", from, e.Value)
	if e.Reason != nil {
		msg += " (" + e.Reason.Error() + ")"
	}
	return msg + "; accepted: " + e.Accepted
}

func (e *OptionError) Unwrap() error { return e.Reason }

// suggestOption names the option an unknown name most likely meant, or
// "": the same name in another case, then a typo (BuildKit's suggest, as
// for a misspelt stage name), then the one option that shares the most
// words with it (FIPSGATE_TIMEOUT: FIPSGATE_TIMEOUT_SECONDS).
func suggestOption(name string) string {
	names := optionNames()
	upper := strings.ToUpper(name)
	for _, n := range names {
		if n == upper {
			return n
		}
	}
	if m, ok := suggest.Search(upper, names, true); ok {
		return m
	}
	words := strings.Split(upper[len(optionPrefix):], "_")
	best, bestShared := "", 0
	for _, n := range names {
		shared := 0
		for _, w := range strings.Split(n[len(optionPrefix):], "_") {
			if w != "" && slices.Contains(words, w) {
				shared++
			}
		}
		switch {
		case shared > bestShared:
			best, bestShared = n, shared
		case shared == bestShared:
			// A tie (FIPSGATE_SECONDS) suggests nothing.
			best = ""
		}
	}
	return best
}

func optionNames() []string {
	names := make([]string, 0, len(options))
	for k := range options {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// AppCommand is what the application check runs for an image, and where
// that came from: FIPSGATE_CHECK, or ENTRYPOINT followed by CMD (CMD
// alone without an ENTRYPOINT), as `docker run` starts it.
func AppCommand(o Options, entrypoint, cmd []string) ([]string, string) {
	if o.CheckSet {
		if len(o.Check) == 0 {
			return nil, "FIPSGATE_CHECK=none"
		}
		return o.Check, "FIPSGATE_CHECK"
	}
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 {
		return nil, ""
	}
	return args, "ENTRYPOINT and CMD"
}
