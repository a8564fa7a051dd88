// Package probe is the half of fipsgate that runs inside check containers:
// the frontend's own binary, mounted read-only, started as `fipsgate probe`.
// Each check container does one Run of a platform's verification: it reads
// its Spec from a file, runs its steps and writes one Result, which holds a
// Report for each step. It exits 0 whenever it could write its result: the
// frontend reads them and decides.
package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"github.com/fipsgate/fipsgate/internal/opensslconf"
	"github.com/fipsgate/fipsgate/internal/pkgdb"
	"github.com/fipsgate/fipsgate/predicate"
)

// Kinds of report: one for each step of a probe run.
const (
	KindStatic   = "static"
	KindSelfTest = "self-test"
	KindNegative = "negative"
)

// Mutations the negative tests apply to the probe's copy of the image.
const (
	MutationConfigRemoved   = "fipsmodule-cnf-removed"
	MutationMACCorrupted    = "module-mac-corrupted"
	MutationModuleCorrupted = "module-corrupted"
)

// What each check container of a platform does: RunStatic, RunOpenSSL,
// RunApp, or one of the mutations, which runs the application with that
// one thing broken.
const (
	// RunStatic reads the image, on a read-only root where nothing of the
	// image runs: the static checks and the crypto inventory.
	RunStatic = "static"
	// RunOpenSSL runs the image's openssl command on the image as built
	// (the self-test), then with each breakage in turn. It never starts
	// the application.
	RunOpenSSL = "openssl"
	// RunApp runs the application on the image as built.
	RunApp = "app"
)

// Runs lists every check container of one platform: the application runs
// once as built and once for each mutation, each in a container of its own
// from the image as built, so that no run can see what another left.
func Runs() []string {
	return []string{RunStatic, RunOpenSSL, RunApp, MutationConfigRemoved, MutationMACCorrupted, MutationModuleCorrupted}
}

// Runs lists the check containers this spec needs: with no application to
// check, the static and OpenSSL runs alone, whose self-test and negative
// tests are then the whole of the dynamic evidence.
func (s Spec) Runs() []string {
	if len(s.App) == 0 {
		return []string{RunStatic, RunOpenSSL}
	}
	return Runs()
}

// StageName is how a report's stage is named wherever it is shown, the
// predicate's stable stage identifier: its kind, and for a negative test
// its mutation ("negative/module-corrupted").
func StageName(kind, mutation string) string { return predicate.StageID(kind, mutation) }

// IsApplicationRun tells whether run starts the application.
func IsApplicationRun(run string) bool { return run == RunApp || IsMutation(run) }

// IsMutation tells whether run breaks something.
func IsMutation(run string) bool {
	switch run {
	case MutationConfigRemoved, MutationMACCorrupted, MutationModuleCorrupted:
		return true
	}
	return false
}

// DefaultTimeout bounds each command of a check when the spec sets no
// timeout (FIPSGATE_TIMEOUT_SECONDS).
const DefaultTimeout = 30 * time.Second

// ReportVersion changes when Report or Result changes incompatibly.
const ReportVersion = 2

// Image is the part of an image config that decides how its processes run.
type Image struct {
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
}

// Spec is what the frontend asks of one check container.
type Spec struct {
	Platform string `json:"platform"`
	// Run is what this container does: one of Runs().
	Run string `json:"run"`
	// Root is where the image's root filesystem is: "/", the container's
	// root, for anything that runs the image's programs.
	Root  string `json:"root"`
	Image Image  `json:"image"`
	// App is the application check's command (exec form), empty for none.
	App []string `json:"app,omitempty"`
	// AppSource says where App came from, for the report.
	AppSource      string  `json:"appSource,omitempty"`
	ReadySeconds   float64 `json:"readySeconds"`
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	ExpectFailure  string  `json:"expectFailure,omitempty"`
	// ProbeRequest is sent to a server once it listens; DefaultRequest
	// when empty.
	ProbeRequest     string `json:"probeRequest,omitempty"`
	RequireValidated bool   `json:"requireValidated,omitempty"`
	// For the crypto inventory of the static checks.
	Strict     bool                  `json:"strict,omitempty"`
	Exceptions []inventory.Exception `json:"exceptions,omitempty"`
	// Mounts are the container's paths that are not the image's: the
	// probe's and the output directory. The probe knows them itself.
	Mounts []string `json:"-"`
	// Emulation is how the image's programs run, which the probe finds
	// itself (DetectEmulation); nil: natively.
	Emulation *Emulation `json:"-"`
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
	ExitCode  *int   `json:"exitCode,omitempty"`
	Signal    string `json:"signal,omitempty"`
	TimedOut  bool   `json:"timedOut,omitempty"`
	Listening bool   `json:"listening,omitempty"`
	// For a server: how it was contacted and what it did.
	Contact       string `json:"contact,omitempty"`
	Answered      bool   `json:"answered,omitempty"`
	DiedOnContact bool   `json:"diedOnContact,omitempty"`
	StillRunning  bool   `json:"stillRunning,omitempty"`
	OutputSHA256  string `json:"outputSha256,omitempty"`
	Output        string `json:"output,omitempty"` // the last lines, capped
}

// OpenSSLFacts is what the static checks found of OpenSSL in the image.
type OpenSSLFacts struct {
	Libcrypto    string   `json:"libcrypto,omitempty"`
	OpenSSLDir   string   `json:"opensslDir,omitempty"`
	ModulesDir   string   `json:"modulesDir,omitempty"`
	ConfigFile   string   `json:"configFile,omitempty"`
	ConfigSource string   `json:"configSource,omitempty"` // OPENSSL_CONF or OPENSSLDIR
	Files        []string `json:"files,omitempty"`
	Errors       []string `json:"errors,omitempty"`
	// Unreadable says why the configuration could not be read as OpenSSL
	// would read it (a FIFO, a device, a file over fipsgate's limits).
	Unreadable string              `json:"unreadable,omitempty"`
	Summary    opensslconf.Summary `json:"summary"`
	// NodeSection is the section Node.js initialises from (nodejs_conf),
	// "" when the configuration names none.
	NodeSection string `json:"nodeSection,omitempty"`
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
	// Identity is the module's identity as the verdict takes it, set when
	// the reports of a platform are assembled (judgeModuleIdentity).
	Identity *ModuleIdentity `json:"identity,omitempty"`
	// Package is the package the image's package database says installed
	// the module (the static run only).
	Package *ModulePackage `json:"package,omitempty"`
	// Where the negative tests break things: the real paths (symlinks
	// resolved inside the image) and the configuration's text.
	RealPath      string `json:"realPath,omitempty"`
	RealConfig    string `json:"realConfig,omitempty"`
	ConfigContent string `json:"configContent,omitempty"`
	// Unreadable says why the module at Path could not be read.
	Unreadable string `json:"unreadable,omitempty"`
}

// ModuleIdentity is the identity the module's CMVP status is judged on:
// what the active FIPS provider reported at run time, where the module
// carries each of its strings (Confirmed), else what the module's strings
// say. How says which, and why.
type ModuleIdentity struct {
	fipsmodule.Identity
	Confirmed bool   `json:"confirmed"`
	How       string `json:"how"`
}

// ModulePackage is what the image's package databases say of the module's
// file: its package (Found), or why none is named (Reason). A database's
// claim is evidence, not proof: the image wrote it.
type ModulePackage struct {
	Found bool `json:"found"`
	pkgdb.Package
	PURL   string `json:"purl,omitempty"`
	Distro string `json:"distro,omitempty"`
	// Databases are the database files read.
	Databases []string `json:"databases,omitempty"`
	Reason    string   `json:"reason"`
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
	// Provider is what the active FIPS provider reported of itself in
	// `openssl list -providers -verbose` (the OpenSSL run's self-test).
	Provider *fipsmodule.Identity `json:"provider,omitempty"`
	// Inventory is the static checks' crypto inventory of the image.
	Inventory *inventory.Inventory `json:"inventory,omitempty"`
	// Observed is what the application's processes were seen executing and
	// mapping while it ran on the image as built (the positive run only),
	// and, as Unresolved, what could not be observed.
	Observed *inventory.Reach `json:"observed,omitempty"`
	// App is the application command that was checked, empty if none.
	App       []string `json:"app,omitempty"`
	AppSource string   `json:"appSource,omitempty"`
	// Emulation says whether the image's programs ran emulated, and by
	// how much the time limits were scaled.
	Emulation *Emulation `json:"emulation,omitempty"`
	// SelfTests are the FIPS module's self-tests as openssl fipsinstall
	// printed them, and Algorithms the algorithm matrix (the OpenSSL
	// run's self-test report; nil when they did not run or could not be
	// read).
	SelfTests  *SelfTests  `json:"selfTests,omitempty"`
	Algorithms *Algorithms `json:"algorithms,omitempty"`
}

// Result is what one check container writes, once, after every process of
// the image in it is gone: the reports of its steps.
type Result struct {
	Version  int       `json:"version"`
	Platform string    `json:"platform"`
	Run      string    `json:"run"`
	Reports  []*Report `json:"reports"`
}

// MaxResultSize bounds what the frontend reads back.
const MaxResultSize = 8 << 20

// ResultFile is where, in the merged outputs of every check container, the
// result of one run of one platform lies.
func ResultFile(platform, run string) string {
	return path.Join("/", strings.NewReplacer("/", "-", ":", "-").Replace(platform), run+".json")
}

// DecodeResult parses a result, refusing what the frontend cannot trust:
// anything but the result of that run of that platform.
func DecodeResult(dt []byte, platform, run string) (*Result, error) {
	if len(dt) > MaxResultSize {
		return nil, fmt.Errorf("result is %d bytes, over the %d limit", len(dt), MaxResultSize)
	}
	var r Result
	if err := json.Unmarshal(dt, &r); err != nil {
		return nil, fmt.Errorf("result is malformed: %w", err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("result version %d, want %d", r.Version, ReportVersion)
	}
	if r.Platform != platform || r.Run != run {
		return nil, fmt.Errorf("result is of run %q of %s, want run %q of %s", r.Run, r.Platform, run, platform)
	}
	for _, rep := range r.Reports {
		if rep == nil {
			return nil, errors.New("result holds a null report")
		}
		switch rep.Kind {
		case KindStatic, KindSelfTest, KindNegative:
		default:
			return nil, fmt.Errorf("report of unknown kind %q", rep.Kind)
		}
		if (rep.Kind == KindNegative) != (rep.Mutation != "") || (rep.Mutation != "" && !IsMutation(rep.Mutation)) {
			return nil, fmt.Errorf("%s report with mutation %q", rep.Kind, rep.Mutation)
		}
		for _, c := range rep.Checks {
			switch c.Status {
			case Passed, Failed, Warning, NotRun:
			default:
				return nil, fmt.Errorf("check %q has unknown status %q", c.Name, c.Status)
			}
		}
		if err := validEvidence(rep); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// validEvidence refuses self-tests and an algorithm matrix the probe would
// not have written: over its bounds, or with a result it does not give.
func validEvidence(rep *Report) error {
	if st := rep.SelfTests; st != nil {
		if len(st.Tests) > MaxSelfTests {
			return fmt.Errorf("%d self-tests, over the %d limit", len(st.Tests), MaxSelfTests)
		}
		for _, t := range st.Tests {
			if t.Result != SelfTestPass && t.Result != SelfTestFail {
				return fmt.Errorf("self-test %q has unknown result %q", t.Description, t.Result)
			}
		}
	}
	if a := rep.Algorithms; a != nil && (len(a.Served) > maxListed || len(a.NonApproved) > len(nonApproved)) {
		return fmt.Errorf("an algorithm matrix of %d served and %d non-approved algorithms, over the limits", len(a.Served), len(a.NonApproved))
	}
	return nil
}
