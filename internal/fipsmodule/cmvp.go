package fipsmodule

import "strconv"

// Certificate is a NIST CMVP certificate for upstream OpenSSL FIPS provider
// releases.
type Certificate struct {
	Number   int      `json:"number"`
	Standard string   `json:"standard"` // "FIPS 140-2" or "FIPS 140-3"
	Versions []string `json:"versions"`
	// Active is false for certificates on CMVP's historical list, which
	// no longer count for new procurement.
	Active bool   `json:"active"`
	Note   string `json:"note,omitempty"`
	Source string `json:"source"`
}

// Certificates lists the CMVP validations of upstream OpenSSL FIPS
// providers. Keep it in step with https://openssl-library.org/source/ and
// CMVP; vendors' own validations (distribution builds under their own
// certificates) are not in it.
var Certificates = []Certificate{
	{
		Number:   4985,
		Standard: "FIPS 140-3",
		Versions: []string{"3.1.2"},
		Active:   true,
		Note:     "validated 2025-03 (announced 2025-03-11)",
		Source:   "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/4985",
	},
	{
		Number:   4282,
		Standard: "FIPS 140-2",
		Versions: []string{"3.0.8", "3.0.9"},
		Active:   false,
		Note:     "FIPS 140-2: CMVP moved all FIPS 140-2 certificates to the historical list on 2026-09-21",
		Source:   "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/4282",
	},
}

// Validation is what the table says of one module version.
type Validation struct {
	Validated   bool         `json:"validated"`
	Certificate *Certificate `json:"certificate,omitempty"`
	Reason      string       `json:"reason"`
}

// Validate looks a provider version up in Certificates. Only an active
// FIPS 140-3 certificate counts as validated. A matching version says the
// source release was validated; whether this binary was built as that
// certificate's security policy prescribes cannot be seen in the file.
func Validate(version string) Validation {
	if version == "" {
		return Validation{Reason: "the module's version could not be read"}
	}
	for i := range Certificates {
		c := &Certificates[i]
		for _, v := range c.Versions {
			if v != version {
				continue
			}
			if !c.Active || c.Standard != "FIPS 140-3" {
				return Validation{Certificate: c, Reason: "version " + version + " is covered by a certificate that is not an active FIPS 140-3 validation: " + c.Note}
			}
			return Validation{Validated: true, Certificate: c, Reason: "version " + version + " is the release validated under CMVP certificate #" + strconv.Itoa(c.Number) + " (" + c.Standard + "); the build procedure of this binary is not verifiable from the file"}
		}
	}
	return Validation{Reason: "version " + version + " is not a CMVP-validated OpenSSL FIPS provider release"}
}
