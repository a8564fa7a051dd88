package probe

import (
	"fmt"
	"strings"

	"github.com/fipsgate/fipsgate/internal/fipsmodule"
	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/pkgdb"
)

// Why a module's CMVP status is what it is rests on three things, each
// recorded with what it rests on: the module's identity (what the provider
// reports of itself, read from the file and confirmed at run time), the
// package that installed it, and the certificate that identity matches in
// fipsgate's table (internal/fipsmodule/cmvp.json, docs/cmvp.md).

// staticValidation is the module's CMVP status from its strings alone, as
// the static run sees it; judgeModuleIdentity settles it once the
// provider's own report is in.
func staticValidation(info fipsmodule.Info) fipsmodule.Validation {
	id, doubt := info.StaticIdentity()
	if doubt != "" {
		return fipsmodule.Validation{Reason: "the module's identity cannot be read from its strings alone (" + doubt + "), and no certificate is matched on a guess"}
	}
	return fipsmodule.Validate(id)
}

// moduleIdentityCheck names the check that the provider OpenSSL loaded
// reports an identity its module carries.
const moduleIdentityCheck = "module-identity"

// judgeModuleIdentity settles the identity of the module the static checks
// read, and its CMVP status, from what the active FIPS provider reported in
// the OpenSSL run (`openssl list -providers -verbose`, already run for the
// provider-active check: no process is added for it). Each of the name,
// version and build the provider reports must be a string the module
// carries: one it does not carry comes from another module than the one
// judged, or from an openssl that does not tell the truth, and fails the
// platform. Without that report the identity is the module's strings'
// best reading, and says so.
func judgeModuleIdentity(r *Reports) {
	m := r.Static.Module
	if m == nil || m.Path == "" || m.Size == 0 {
		return
	}
	static, doubt := m.StaticIdentity()
	id := &ModuleIdentity{Identity: static}
	var listed *fipsmodule.Identity
	if r.SelfTest != nil {
		listed = r.SelfTest.Provider
	}
	switch {
	case listed == nil:
		id.How = "read from the module's strings; not confirmed at run time: " + unconfirmed(r.SelfTest)
	case m.Truncated:
		// A module stuffed with names and versions cannot show that it
		// carries the reported ones; no certificate is matched either.
		id.How = "read from the module's strings; what the provider reported at run time (" + listed.String() + ") cannot be confirmed: the module carries more name and version strings than fipsgate reads"
		doubt = "the module carries more name and version strings than fipsgate reads"
	case len(m.Carries(*listed)) == 0:
		id.Identity, id.Confirmed, doubt = *listed, true, ""
		id.How = fmt.Sprintf("reported by the active FIPS provider at run time (openssl list -providers -verbose), each string of it carried by the module %s (sha256 %s)", m.Path, m.SHA256)
		r.SelfTest.Checks = append(r.SelfTest.Checks, Check{Name: moduleIdentityCheck, Title: "the active FIPS provider reports an identity its module carries", Required: true, Status: Passed,
			Detail: fmt.Sprintf("openssl lists the active FIPS provider as %s; the module %s carries each of these strings", listed, m.Path)})
	default:
		missing := m.Carries(*listed)
		r.SelfTest.Checks = append(r.SelfTest.Checks, Check{Name: moduleIdentityCheck, Title: "the active FIPS provider reports an identity its module carries", Required: true, Status: Failed,
			Detail: fmt.Sprintf("openssl lists the active FIPS provider as %s, but the module %s (sha256 %s) carries no %s: OpenSSL loads another module than the one judged, or the image's openssl does not report what it loads",
				listed, m.Path, m.SHA256, strings.Join(missing, ", "))})
		id.How = "read from the module's strings; the provider openssl listed at run time reported another identity (" + listed.String() + ")"
		doubt = "the provider reported an identity the module does not carry"
	}
	m.Identity = id
	if doubt != "" {
		m.Validation = fipsmodule.Validation{Reason: "the module's identity is in doubt (" + doubt + "), and no certificate is matched on a guess"}
	} else {
		m.Validation = fipsmodule.Validate(id.Identity)
	}
	for i, c := range r.Static.Checks {
		if c.Name == cmvpCheckName {
			r.Static.Checks[i] = cmvpCheck(m.Validation, c.Required)
		}
	}
}

// unconfirmed says why the OpenSSL run did not report the provider.
func unconfirmed(self *Report) string {
	if self == nil {
		return "the OpenSSL run did not report"
	}
	for _, c := range self.Checks {
		if c.Name == "provider-active" && c.Detail != "" {
			return "openssl did not list the active provider (" + c.Detail + ")"
		}
	}
	return "openssl did not list the active provider"
}

// modulePackage asks the image's package databases which package installed
// the module, under its configured path or its real one.
func modulePackage(root imagefs.Root, m *ModuleFacts) *ModulePackage {
	db := pkgdb.Read(root)
	p := &ModulePackage{Databases: db.Databases}
	var owners []pkgdb.Package
	for _, name := range []string{m.RealPath, m.Path} {
		if name != "" {
			if owners = db.Owners(name); len(owners) > 0 {
				break
			}
		}
	}
	problems := ""
	if len(db.Problems) > 0 {
		problems = " (not read: " + strings.Join(db.Problems, "; ") + ")"
	}
	switch {
	case len(owners) == 1:
		o, err := pkgdb.ReadOSRelease(root)
		p.Found, p.Package, p.Distro = true, owners[0], o.Distro()
		p.PURL = owners[0].PURL(o)
		p.Reason = fmt.Sprintf("the image's %s database (%s) lists %s as a file of %s", owners[0].Manager, strings.Join(db.Databases, ", "), m.Path, describePackage(owners[0]))
		if err != nil || o.File == "" {
			p.Reason += "; the distribution is unknown (no readable os-release)"
		}
		p.Reason += ": the database is the image's, so its claim is evidence, not proof"
	case len(owners) > 1:
		names := make([]string, len(owners))
		for i, o := range owners {
			names[i] = describePackage(o)
		}
		p.Reason = fmt.Sprintf("the image's package databases list %s as a file of several packages (%s): no one package is named", m.Path, strings.Join(names, ", "))
	case db.HasFiles():
		p.Reason = fmt.Sprintf("no package in the image's databases (%s) lists %s: it was installed by other means (a COPY, a build step)%s", strings.Join(db.Databases, ", "), m.Path, problems)
	case db.RPM != "":
		p.Reason = "the image has an rpm database (" + db.RPM + "), which fipsgate does not read (it has no reader of rpm's databases), so the module's package is not named"
	default:
		p.Reason = "the image has no package database (dpkg, apk) that lists files, so the module's package is not named" + problems
	}
	return p
}

func describePackage(p pkgdb.Package) string {
	s := p.Name
	if p.Version != "" {
		s += " " + p.Version
	}
	if p.Architecture != "" {
		s += " (" + p.Architecture + ")"
	}
	return s
}

// Reasoning says why the module is or is not taken for CMVP-validated:
// what matched (or did not) in fipsgate's table, what the identity rests
// on, and what the image's package database says.
func (m *ModuleFacts) Reasoning() string {
	parts := []string{m.Validation.Reason}
	if m.Identity != nil {
		parts = append(parts, "Identity: "+m.Identity.How)
	}
	if m.Package != nil {
		parts = append(parts, "Package: "+m.Package.Reason)
	}
	return strings.Join(parts, ". ") + "."
}
