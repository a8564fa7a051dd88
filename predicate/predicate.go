// Package predicate defines fipsgate's in-toto predicate: the evidence that
// one platform of an image enforces FIPS cryptography, attached to that
// platform's image manifest only when every required check passed.
//
// The format is documented in docs/predicate.md and published as a JSON
// Schema (Schema). Fields are added in compatible releases; anything
// incompatible gets a new Type. Decode reads every type fipsgate has
// written, as the current one.
package predicate

import "reflect"

// Type is the predicate type of fipsgate's attestations.
const Type = "https://fipsgate.github.io/predicate/fips-verification/v2"

// Version is the predicate's schema version within Type; readers may
// require a minimum.
const Version = "2.0"

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
	// SelfTests are the FIPS module's self-tests as OpenSSL ran them, and
	// Algorithms what the image's configuration serves and refuses: the
	// evidence of the self-test stage's self-tests and algorithms checks.
	// Absent when those checks did not run (no openssl command, a module
	// that embeds its MAC).
	SelfTests  *SelfTests  `json:"selfTests,omitempty"`
	Algorithms *Algorithms `json:"algorithms,omitempty"`
	Stages     []Stage     `json:"stages"`
	// Warnings are the checks that did not pass but are not required.
	Warnings []Warning `json:"warnings"`
}

// DigestSet is an in-toto DigestSet: digests of one artifact by
// algorithm ("sha256").
type DigestSet map[string]string

// Verifier names what produced the predicate.
type Verifier struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Module is the FIPS provider module that was verified.
type Module struct {
	// Identity, Package and CMVP say why the module is or is not taken for
	// CMVP-validated: what it reports of itself and what that rests on,
	// the package that installed it, and the certificate matched.
	Identity    ModuleIdentity `json:"identity"`
	Path        string         `json:"path"`
	Digest      DigestSet      `json:"digest"`
	Size        int64          `json:"size"`
	Layout      string         `json:"layout"`
	Config      string         `json:"config,omitempty"`
	MACVerified bool           `json:"macVerified"`
	Package     ModulePackage  `json:"package"`
	CMVP        CMVP           `json:"cmvp"`
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
	Databases    []string `json:"databases"`
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
	Evidence   []CMVPEvidence `json:"evidence"`
}

// CMVPProvider is what a provider must report of itself to be the
// certificate's module.
type CMVPProvider struct {
	Names    []string `json:"names"`
	Versions []string `json:"versions"`
	Builds   []string `json:"builds"`
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
	Files             []string `json:"files"`
	ConfigDiagnostics bool     `json:"configDiagnostics"`
	ActiveProviders   []string `json:"activeProviders"`
	DefaultProperties string   `json:"defaultProperties"`
}

// Application says which application check ran, if any.
type Application struct {
	Checked bool     `json:"checked"`
	Command []string `json:"command"`
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
	// ID is the stage's stable identifier, the name progress output and
	// errors show: "static", "self-test", "negative/<mutation>".
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Mutation string  `json:"mutation,omitempty"`
	Checks   []Check `json:"checks"`
}

// Stage kinds.
const (
	KindStatic   = "static"
	KindSelfTest = "self-test"
	KindNegative = "negative"
)

// StageID is the stable identifier of a stage of kind, with mutation for
// a negative test.
func StageID(kind, mutation string) string {
	if mutation == "" {
		return kind
	}
	return kind + "/" + mutation
}

// Warning is a check that did not pass but is not required.
type Warning struct {
	Stage  string `json:"stage"`
	Check  string `json:"check"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// Options are the build options in force (docs/predicate.md, the README's
// Options section).
type Options struct {
	Mode             string   `json:"mode"`
	Check            []string `json:"check"`
	ReadySeconds     float64  `json:"readySeconds,omitempty"`
	TimeoutSeconds   float64  `json:"timeoutSeconds"`
	ExpectFailure    string   `json:"expectFailure,omitempty"`
	ProbeRequest     string   `json:"probeRequest,omitempty"`
	RequireValidated bool     `json:"requireValidated"`
	Strict           bool     `json:"strict"`
	Exceptions       string   `json:"exceptions,omitempty"`
}

// Check is one verified claim, with the evidence for it: the command, what
// was expected, and what was observed.
type Check struct {
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Required      bool     `json:"required"`
	Status        string   `json:"status"`
	Detail        string   `json:"detail,omitempty"`
	Command       []string `json:"command"`
	Expect        string   `json:"expect,omitempty"`
	ExitCode      *int     `json:"exitCode,omitempty"`
	Signal        string   `json:"signal,omitempty"`
	TimedOut      bool     `json:"timedOut,omitempty"`
	Listening     bool     `json:"listening,omitempty"`
	Contact       string   `json:"contact,omitempty"`
	Answered      bool     `json:"answered,omitempty"`
	DiedOnContact bool     `json:"diedOnContact,omitempty"`
	StillRunning  bool     `json:"stillRunning,omitempty"`
	// OutputDigest is the digest of everything the command wrote.
	OutputDigest DigestSet `json:"outputDigest,omitempty"`
	Output       string    `json:"output,omitempty"`
}

// Inventory is the crypto found in the image besides the module
// (docs/inventory.md), and what the application reaches
// (docs/verdict.md).
type Inventory struct {
	Summary    map[string]int `json:"summary"`
	Findings   []Finding      `json:"findings"`
	Stats      Stats          `json:"stats"`
	Strict     bool           `json:"strict"`
	Exceptions []Exception    `json:"exceptions"`
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
	Unresolved []string     `json:"unresolved"`
	Incomplete string       `json:"incomplete,omitempty"`
}

// ReachEntry is one file the application can run or load.
type ReachEntry struct {
	Path         string `json:"path"`
	Via          string `json:"via"`
	Observed     bool   `json:"observed,omitempty"`
	DependencyOf string `json:"dependencyOf,omitempty"`
}

// Normalize makes every list and map of p that is nil an empty one, so that
// the predicate says [] or {} where a reader expects a list or a map,
// never null.
func (p *Predicate) Normalize() {
	normalize(reflect.ValueOf(p).Elem())
}

func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	}
}

// SelfTests are the self-tests the FIPS module ran when openssl fipsinstall
// loaded it, each with its result, in the order they ran.
type SelfTests struct {
	// Check names the check they are the evidence of, in the self-test
	// stage.
	Check string     `json:"check"`
	Tests []SelfTest `json:"tests"`
}

// Self-test results, as OpenSSL names them.
const (
	SelfTestPass = "Pass"
	SelfTestFail = "Fail"
)

// SelfTest is one self-test: what it tested ("SHA2"), the kind of test
// ("KAT_Digest"), and its result (SelfTestPass or SelfTestFail).
type SelfTest struct {
	Description string `json:"description"`
	Type        string `json:"type"`
	Result      string `json:"result"`
}

// Algorithms is the algorithm matrix under the image's configuration:
// every algorithm OpenSSL serves there, and the non-approved algorithms
// looked for.
type Algorithms struct {
	// Check names the check they are the evidence of, in the self-test
	// stage.
	Check       string        `json:"check"`
	Served      []Algorithm   `json:"served"`
	NonApproved []NonApproved `json:"nonApproved"`
}

// Algorithm is one algorithm the configuration serves: its category
// (digest, kdf, mac, cipher, signature, asymmetric-cipher, key-exchange,
// kem; cipher-or-public-key for OpenSSL 3.0, which does not tell them
// apart), its names, the provider that serves it, and whether it is
// approved (served by the FIPS provider under default properties that
// require fips=yes).
type Algorithm struct {
	Category string   `json:"category"`
	Names    []string `json:"names"`
	Provider string   `json:"provider"`
	Approved bool     `json:"approved"`
}

// NonApproved is a non-approved algorithm looked for, and whether the
// configuration refuses it (serves nothing by that name).
type NonApproved struct {
	Category string `json:"category"`
	Name     string `json:"name"`
	Refused  bool   `json:"refused"`
}
