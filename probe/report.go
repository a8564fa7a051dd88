// Package probe is the half of fipsgate that runs inside check containers:
// the frontend's own binary, mounted read-only, started as `fipsgate probe`.
// It reads a Spec, runs its steps (static checks, self-test, negative
// tests) and writes a Report for each. It always exits 0 when it could
// write its reports: the frontend reads them and decides.
package probe

import (
	"encoding/json"
	"fmt"

	"github.com/fipsgate/fipsgate/fipsmodule"
	"github.com/fipsgate/fipsgate/inventory"
	"github.com/fipsgate/fipsgate/opensslconf"
)

// Kinds of report: one for each step of a probe run.
const (
	KindStatic   = "static"
	KindSelfTest = "self-test"
	KindNegative = "negative"
)

// Mutations the negative tests apply to the probe's copy of the image.
const (
	MutationConfigRemoved = "fipsmodule-cnf-removed"
	MutationMACCorrupted  = "module-mac-corrupted"
	MutationModuleChanged = "module-corrupted"
)

// ReportVersion changes when Report changes incompatibly.
const ReportVersion = 1

// Image is the part of an image config that decides how its processes run.
type Image struct {
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
}

// Spec is what the frontend asks of one probe run.
type Spec struct {
	Platform string `json:"platform"`
	// Root is where the image's root filesystem is: "/", the container's
	// root, for anything that runs the image's programs.
	Root string `json:"root"`
	// ReportDir is where the reports go, named by ReportName.
	ReportDir string `json:"reportDir"`
	Image     Image  `json:"image"`
	// App is the application check's command (exec form), empty for none.
	App []string `json:"app,omitempty"`
	// AppSource says where App came from, for the report.
	AppSource        string  `json:"appSource,omitempty"`
	ReadySeconds     float64 `json:"readySeconds"`
	TimeoutSeconds   float64 `json:"timeoutSeconds"`
	ExpectFailure    string  `json:"expectFailure,omitempty"`
	RequireValidated bool    `json:"requireValidated,omitempty"`
	// For the crypto inventory of the static checks.
	Strict     bool                  `json:"strict,omitempty"`
	Exceptions []inventory.Exception `json:"exceptions,omitempty"`
}

// Status of a check.
const (
	Passed  = "passed"
	Failed  = "failed"
	Warning = "warning" // failed, but not required
	NotRun  = "not-run" // could not apply to this image; Detail says why
)

// Check is one verified claim, with the evidence for it.
type Check struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Required bool     `json:"required"`
	Status   string   `json:"status"`
	Detail   string   `json:"detail,omitempty"`
	Command  []string `json:"command,omitempty"`
	Expect   string   `json:"expect,omitempty"`
	// Observed: exit code or signal, whether the command hit its timeout,
	// and for servers whether it was listening or still running.
	ExitCode     *int   `json:"exitCode,omitempty"`
	Signal       string `json:"signal,omitempty"`
	TimedOut     bool   `json:"timedOut,omitempty"`
	Listening    bool   `json:"listening,omitempty"`
	StillRunning bool   `json:"stillRunning,omitempty"`
	OutputSHA256 string `json:"outputSha256,omitempty"`
	Output       string `json:"output,omitempty"` // the last lines, capped
}

// OpenSSLFacts is what the static checks found of OpenSSL in the image.
type OpenSSLFacts struct {
	Libcrypto    string              `json:"libcrypto,omitempty"`
	OpenSSLDir   string              `json:"opensslDir,omitempty"`
	ModulesDir   string              `json:"modulesDir,omitempty"`
	ConfigFile   string              `json:"configFile,omitempty"`
	ConfigSource string              `json:"configSource,omitempty"` // OPENSSL_CONF or OPENSSLDIR
	Files        []string            `json:"files,omitempty"`
	Errors       []string            `json:"errors,omitempty"`
	Summary      opensslconf.Summary `json:"summary"`
}

// ModuleFacts is what the static checks found of the FIPS module.
type ModuleFacts struct {
	Path string `json:"path"`
	fipsmodule.Info
	// Config is the file holding the provider's section (fipsmodule.cnf),
	// Section its name, and ConfiguredMAC its module-mac.
	Config        string                `json:"config,omitempty"`
	Section       string                `json:"section,omitempty"`
	ConfiguredMAC string                `json:"configuredMac,omitempty"`
	MACVerified   bool                  `json:"macVerified"`
	Layout        string                `json:"layout"`
	Validation    fipsmodule.Validation `json:"validation"`
	// Where the negative tests break things: the real paths (symlinks
	// resolved inside the image) and the configuration's text.
	RealPath      string `json:"realPath,omitempty"`
	RealConfig    string `json:"realConfig,omitempty"`
	ConfigContent string `json:"configContent,omitempty"`
}

// Module layouts.
const (
	LayoutConfigMAC   = "fipsmodule.cnf" // module-mac in a configuration file
	LayoutEmbeddedMAC = "embedded"       // no module-mac: the vendor embeds the MAC in the module
)

// Report is one probe run's result.
type Report struct {
	Version  int    `json:"version"`
	Kind     string `json:"kind"`
	Platform string `json:"platform"`
	Mutation string `json:"mutation,omitempty"`
	// Broken says what a negative test changed before its checks.
	Broken  string        `json:"broken,omitempty"`
	Checks  []Check       `json:"checks"`
	OpenSSL *OpenSSLFacts `json:"openssl,omitempty"`
	Module  *ModuleFacts  `json:"module,omitempty"`
	// Inventory is the static checks' crypto inventory of the image.
	Inventory *inventory.Inventory `json:"inventory,omitempty"`
	// App is the application command that was checked, empty if none.
	App       []string `json:"app,omitempty"`
	AppSource string   `json:"appSource,omitempty"`
}

// MaxReportSize bounds what the frontend reads back.
const MaxReportSize = 4 << 20

// DecodeReport parses a report, refusing what the frontend cannot trust.
func DecodeReport(dt []byte) (*Report, error) {
	if len(dt) > MaxReportSize {
		return nil, fmt.Errorf("report is %d bytes, over the %d limit", len(dt), MaxReportSize)
	}
	var r Report
	if err := json.Unmarshal(dt, &r); err != nil {
		return nil, fmt.Errorf("report is malformed: %w", err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("report version %d, want %d", r.Version, ReportVersion)
	}
	switch r.Kind {
	case KindStatic, KindSelfTest, KindNegative:
	default:
		return nil, fmt.Errorf("report of unknown kind %q", r.Kind)
	}
	for _, c := range r.Checks {
		switch c.Status {
		case Passed, Failed, Warning, NotRun:
		default:
			return nil, fmt.Errorf("check %q has unknown status %q", c.Name, c.Status)
		}
	}
	return &r, nil
}
