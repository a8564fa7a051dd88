// Package predicate defines fipsgate's in-toto predicate: the evidence that
// one platform of an image enforces FIPS cryptography, attached to that
// platform's image manifest only when every required check passed.
//
// The format is documented in docs/predicate.md. Fields are added in
// compatible releases; anything incompatible gets a new Type.
package predicate

// Type is the predicate type of fipsgate's attestations.
const Type = "https://fipsgate.github.io/predicate/fips-verification/v1"

// Version is the predicate's schema version within Type; readers may
// require a minimum.
const Version = "1.0"

// Result values.
const Passed = "PASSED"

// Predicate is the attestation's predicate. It holds no wall-clock time, so
// that an unchanged rebuild yields the same attestation.
type Predicate struct {
	SchemaVersion string      `json:"schemaVersion"`
	Result        string      `json:"result"`
	Platform      string      `json:"platform"`
	Verifier      Verifier    `json:"verifier"`
	Options       Options     `json:"options"`
	Module        *Module     `json:"module,omitempty"`
	OpenSSL       *OpenSSL    `json:"openssl,omitempty"`
	Application   Application `json:"application"`
	// Emulation says whether the image's programs ran emulated in the
	// checks, and by how much the time limits were scaled for it.
	Emulation *Emulation `json:"emulation,omitempty"`
	// Inventory is the crypto found in the image besides the module.
	Inventory *Inventory `json:"inventory,omitempty"`
	Stages    []Stage    `json:"stages"`
	Warnings  []string   `json:"warnings,omitempty"`
}

// Verifier names what produced the predicate.
type Verifier struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Module is the FIPS provider module that was verified.
type Module struct {
	Name          string       `json:"name,omitempty"`
	Version       string       `json:"version,omitempty"`
	Path          string       `json:"path"`
	SHA256        string       `json:"sha256"`
	Size          int64        `json:"size"`
	Layout        string       `json:"layout"`
	Config        string       `json:"config,omitempty"`
	MACVerified   bool         `json:"macVerified"`
	Validated     bool         `json:"validated"`
	Certificate   *Certificate `json:"certificate,omitempty"`
	ValidationMsg string       `json:"validation"`
	// Identity, Package and CMVP say why the module is or is not taken for
	// CMVP-validated: what it reports of itself and what that rests on,
	// the package that installed it, and the certificate matched.
	Identity *ModuleIdentity `json:"identity,omitempty"`
	Package  *ModulePackage  `json:"package,omitempty"`
	CMVP     *CMVP           `json:"cmvp,omitempty"`
}

// ModuleIdentity is what the FIPS provider reports of itself (its name,
// version and build information), confirmed when the active provider
// reported it at run time and the module carries each of its strings;
// How says what it rests on.
type ModuleIdentity struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Build     string `json:"build,omitempty"`
	Confirmed bool   `json:"confirmed"`
	How       string `json:"how"`
}

// ModulePackage is the package the image's package database says
// installed the module (Found), with its package URL, or why none is
// named (Reason). The database is the image's: its claim is evidence,
// not proof.
type ModulePackage struct {
	Found        bool     `json:"found"`
	Manager      string   `json:"manager,omitempty"`
	Name         string   `json:"name,omitempty"`
	Version      string   `json:"version,omitempty"`
	Architecture string   `json:"architecture,omitempty"`
	PURL         string   `json:"purl,omitempty"`
	Distro       string   `json:"distro,omitempty"`
	Databases    []string `json:"databases,omitempty"`
	Reason       string   `json:"reason"`
}

// CMVP is the module's CMVP status: validated only when its identity
// matches an active FIPS 140-3 certificate of fipsgate's table (reviewed
// on TableReviewed), with the certificate matched (if any), what matched,
// and the reasoning.
type CMVP struct {
	Validated     bool             `json:"validated"`
	Certificate   *CMVPCertificate `json:"certificate,omitempty"`
	Match         string           `json:"match,omitempty"`
	TableReviewed string           `json:"tableReviewed"`
	Reasoning     string           `json:"reasoning"`
}

// CMVPCertificate is an entry of fipsgate's CMVP table (docs/cmvp.md).
type CMVPCertificate struct {
	Number     int            `json:"number"`
	Standard   string         `json:"standard"`
	Status     string         `json:"status"`
	SunsetDate string         `json:"sunsetDate,omitempty"`
	Vendor     string         `json:"vendor"`
	Module     string         `json:"module"`
	Provider   CMVPProvider   `json:"provider"`
	Source     string         `json:"source"`
	Note       string         `json:"note,omitempty"`
	Evidence   []CMVPEvidence `json:"evidence,omitempty"`
}

// CMVPProvider is what a provider must report of itself to be the
// certificate's module.
type CMVPProvider struct {
	Names    []string `json:"names"`
	Versions []string `json:"versions"`
	Builds   []string `json:"builds,omitempty"`
}

// CMVPEvidence is a public source of a certificate entry's facts.
type CMVPEvidence struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Says string `json:"says"`
}

// OpenSSL summarises the configuration in force.
type OpenSSL struct {
	Libcrypto         string   `json:"libcrypto,omitempty"`
	ConfigFile        string   `json:"configFile,omitempty"`
	ConfigSource      string   `json:"configSource,omitempty"`
	Files             []string `json:"files,omitempty"`
	ConfigDiagnostics bool     `json:"configDiagnostics"`
	ActiveProviders   []string `json:"activeProviders"`
	DefaultProperties string   `json:"defaultProperties"`
}

// Application says which application check ran, if any.
type Application struct {
	Checked bool     `json:"checked"`
	Command []string `json:"command,omitempty"`
	Source  string   `json:"source,omitempty"`
}

// Emulation is how the platform's programs ran in the checks: natively, or
// through an emulator with every time limit multiplied by TimeScale.
type Emulation struct {
	Emulated  bool    `json:"emulated"`
	Machine   string  `json:"machine,omitempty"`
	Host      string  `json:"host"`
	TimeScale float64 `json:"timeScale"`
	How       string  `json:"how"`
}

// Stage is one probe run: the static checks, the self-test, or one
// negative test with the mutation it applied.
type Stage struct {
	Name     string  `json:"name"`
	Mutation string  `json:"mutation,omitempty"`
	Checks   []Check `json:"checks"`
}

// Options are the build options in force (docs/predicate.md, the README's
// Options section).
type Options struct {
	Mode             string   `json:"mode"`
	Check            []string `json:"check,omitempty"`
	ReadySeconds     float64  `json:"readySeconds,omitempty"`
	TimeoutSeconds   float64  `json:"timeoutSeconds"`
	ExpectFailure    string   `json:"expectFailure,omitempty"`
	ProbeRequest     string   `json:"probeRequest,omitempty"`
	RequireValidated bool     `json:"requireValidated"`
	Strict           bool     `json:"strict"`
	Exceptions       string   `json:"exceptions,omitempty"`
}

// Certificate is the CMVP certificate the module matched, in the form of
// schema 1.0 (CMVP has the full entry).
type Certificate struct {
	Number   int      `json:"number"`
	Standard string   `json:"standard"`
	Versions []string `json:"versions"`
	Active   bool     `json:"active"`
	Note     string   `json:"note,omitempty"`
	Source   string   `json:"source"`
}

// Check is one verified claim, with the evidence for it: the command, what
// was expected, and what was observed.
type Check struct {
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Required      bool     `json:"required"`
	Status        string   `json:"status"`
	Detail        string   `json:"detail,omitempty"`
	Command       []string `json:"command,omitempty"`
	Expect        string   `json:"expect,omitempty"`
	ExitCode      *int     `json:"exitCode,omitempty"`
	Signal        string   `json:"signal,omitempty"`
	TimedOut      bool     `json:"timedOut,omitempty"`
	Listening     bool     `json:"listening,omitempty"`
	Contact       string   `json:"contact,omitempty"`
	Answered      bool     `json:"answered,omitempty"`
	DiedOnContact bool     `json:"diedOnContact,omitempty"`
	StillRunning  bool     `json:"stillRunning,omitempty"`
	OutputSHA256  string   `json:"outputSha256,omitempty"`
	Output        string   `json:"output,omitempty"`
}

// Inventory is the crypto found in the image besides the module
// (docs/inventory.md), and what the application reaches
// (docs/verdict.md).
type Inventory struct {
	Summary    map[string]int `json:"summary"`
	Findings   []Finding      `json:"findings"`
	Stats      Stats          `json:"stats"`
	Strict     bool           `json:"strict"`
	Exceptions []Exception    `json:"exceptions,omitempty"`
	Reach      *Reach         `json:"reach,omitempty"`
}

// Finding is one thing the inventory found.
type Finding struct {
	Path     string `json:"path"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Evidence string `json:"evidence"`
	Remedy   string `json:"remedy,omitempty"`
	Reach    string `json:"reach,omitempty"`
	Accepted string `json:"accepted,omitempty"`
}

// Stats count what the inventory scanned.
type Stats struct {
	Files     int   `json:"files"`
	ELFFiles  int   `json:"elfFiles"`
	GoFiles   int   `json:"goBinaries"`
	Bytes     int64 `json:"bytes"`
	ReadBytes int64 `json:"readBytes"`
}

// Exception is an accepted kind of finding at matching paths.
type Exception struct {
	Path   string `json:"path"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason"`
}

// Reach is what the application can run and load.
type Reach struct {
	Entries    []ReachEntry `json:"entries"`
	Unresolved []string     `json:"unresolved,omitempty"`
	Incomplete string       `json:"incomplete,omitempty"`
}

// ReachEntry is one file the application can run or load.
type ReachEntry struct {
	Path         string `json:"path"`
	Via          string `json:"via"`
	Observed     bool   `json:"observed,omitempty"`
	DependencyOf string `json:"dependencyOf,omitempty"`
}
