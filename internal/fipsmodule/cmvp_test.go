package fipsmodule

import (
	"strings"
	"testing"
)

// The embedded table is well formed: ParseTable's checks (unique numbers,
// dates, standards, statuses, NIST sources, evidence, matchers) pass, and
// the entries every other test relies on are there.
func TestEmbeddedTable(t *testing.T) {
	tab, err := ParseTable(cmvpJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4985, 4282} {
		found := false
		for _, c := range tab.Certificates {
			found = found || c.Number == n
		}
		if !found {
			t.Errorf("certificate #%d is not in the table", n)
		}
	}
}

func TestParseTableRefuses(t *testing.T) {
	good := func(edit string) string {
		entry := `{"number": 4985, "standard": "FIPS 140-3", "status": "active", "sunsetDate": "2030-03-10", "vendor": "V", "module": "M",
			"provider": {"names": ["N"], "versions": ["3.1.2"]},
			"source": "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/4985",
			"evidence": [{"kind": "vendor", "url": "https://example.com/a", "says": "s"}]}`
		return strings.NewReplacer(strings.Split(edit, "=>")...).Replace(`{"reviewed": "2026-12-02", "certificates": [` + entry + `]}`)
	}
	if _, err := ParseTable([]byte(good("=>"))); err != nil {
		t.Fatalf("the base table must parse: %v", err)
	}
	for _, tc := range []struct{ edit, want string }{
		{`"reviewed": "2026-12-02"=>"reviewed": "2026-13-02"`, "reviewed"},
		{`"number": 4985=>"number": 0`, "no certificate number"},
		{`"FIPS 140-3"=>"FIPS 140-4"`, "standard"},
		{`"active"=>"valid"`, "status"},
		{`2030-03-10=>10/03/2030`, "sunsetDate"},
		{`"vendor": "V"=>"vendor": ""`, "vendor"},
		{`certificate/4985=>certificate/4986`, "source"},
		{`"names": ["N"]=>"names": []`, "matcher"},
		{`"versions": ["3.1.2"]=>"versions": [" 3.1.2"]`, "surrounding space"},
		{`"evidence": [{"kind": "vendor", "url": "https://example.com/a", "says": "s"}]=>"evidence": []`, "no evidence"},
		{`https://example.com/a=>http://example.com/a`, "https"},
		{`"kind": "vendor"=>"kind": "blog"`, "kind"},
		{`"says": "s"=>"says": " "`, "says nothing"},
		{`"module": "M"=>"module": "M", "extra": 1`, "unknown field"},
	} {
		if _, err := ParseTable([]byte(good(tc.edit))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.edit, err, tc.want)
		}
	}
	if _, err := ParseTable([]byte(good("=>") + " {}")); err == nil || !strings.Contains(err.Error(), "data after") {
		t.Errorf("trailing data: %v", err)
	}
	// Two entries: the same number twice, and the same provider version
	// covered by two certificates.
	two := func(n2, version2 string) string {
		e := func(n, v string) string {
			return `{"number": ` + n + `, "standard": "FIPS 140-3", "status": "active", "vendor": "V", "module": "M",
				"provider": {"names": ["N"], "versions": ["` + v + `"]},
				"source": "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/` + n + `",
				"evidence": [{"kind": "nist", "url": "https://example.com/", "says": "s"}]}`
		}
		return `{"reviewed": "2026-12-02", "certificates": [` + e("1", "3.1.2") + `, ` + e(n2, version2) + `]}`
	}
	if _, err := ParseTable([]byte(two("1", "3.4.0"))); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate number: %v", err)
	}
	if _, err := ParseTable([]byte(two("2", "3.1.2"))); err == nil || !strings.Contains(err.Error(), "also covered by #1") {
		t.Errorf("overlapping matchers: %v", err)
	}
}

// Modules read from testdata/modules, matched against the embedded table:
// a vendor's certificate, upstream's, a vendor rebuild of upstream's
// validated release (not upstream's module), a maintenance build, a
// historical certificate, and a module whose name cannot be read.
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		id        Identity
		validated bool
		cert      int
		reason    string
	}{
		{"upstream 3.1.2", fixtureIdentity(t, "upstream-3.1.2.so"), true, 4985, "matched on the provider's name and version; what a module reports of itself is evidence, not proof"},
		{"vendor certificate", fixtureIdentity(t, "chainguard-3.4.0.so"), true, 5132, "CMVP certificate #5132 (FIPS 140-3, active; Chainguard FIPS Provider for OpenSSL, Chainguard)"},
		{"vendor's build info", Identity{"Chainguard FIPS Provider for OpenSSL", "3.4.0", "3.4.0-r5"}, true, 5132, `"Chainguard FIPS Provider for OpenSSL" version 3.4.0 (build 3.4.0-r5)`},
		{"vendor rebuild of upstream's release", fixtureIdentity(t, "chainguard-3.1.2.so"), false, 0,
			`version 3.1.2 is covered by certificate #4985 ("OpenSSL FIPS Provider"), but this module names itself "Chainguard FIPS Provider for OpenSSL": a rebuild under another name is not that module`},
		// Red Hat's certificate is not in the table: no NIST or Red Hat
		// source could be read for its number. A vendor module the table
		// does not hold is not validated, whatever its version.
		{"vendor module not in the table", fixtureIdentity(t, "rhel9-certified.so"), false, 0, `no certificate in fipsgate's CMVP table (`},
		{"Debian's build", fixtureIdentity(t, "debian-3.5.9.so"), false, 0,
			`provider "OpenSSL FIPS Provider" is the module of certificates #4985 (3.1.2), #4282 (3.0.8, 3.0.9), but this module reports version 3.5.9, which none of them covers`},
		{"historical", Identity{"OpenSSL FIPS Provider", "3.0.9", "3.0.9"}, false, 4282, "FIPS 140-2, historical"},
		{"no name", fixtureIdentity(t, "nameless-3.1.2.so"), false, 0, "provider name could not be read; version 3.1.2 is that of certificate #4985"},
		{"no version", Identity{Name: "OpenSSL FIPS Provider"}, false, 0, "version could not be read"},
		{"unknown", Identity{"Example FIPS Provider", "9.9.9", ""}, false, 0, `no certificate in fipsgate's CMVP table (`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Validate(tc.id)
			cert := 0
			if v.Certificate != nil {
				cert = v.Certificate.Number
			}
			if v.Validated != tc.validated || cert != tc.cert || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("Validate(%+v) = validated %v, #%d, %q\nwant %v, #%d, containing %q", tc.id, v.Validated, cert, v.Reason, tc.validated, tc.cert, tc.reason)
			}
			if v.Validated != (v.Match != "") && v.Certificate != nil && v.Certificate.Counts() {
				t.Errorf("match %q for a validated %v", v.Match, v.Validated)
			}
		})
	}
}

// A certificate that pins a build matches that build only.
func TestMatchPinnedBuild(t *testing.T) {
	tab, err := ParseTable([]byte(`{"reviewed": "2026-12-02", "certificates": [{"number": 7, "standard": "FIPS 140-3", "status": "active", "vendor": "V", "module": "M",
		"provider": {"names": ["V FIPS Provider"], "versions": ["1.0.0"], "builds": ["1.0.0-b1"]},
		"source": "https://csrc.nist.gov/projects/cryptographic-module-validation-program/certificate/7",
		"evidence": [{"kind": "vendor", "url": "https://example.com/", "says": "s"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := tab.Match(Identity{"V FIPS Provider", "1.0.0", "1.0.0-b1"}); !v.Validated || v.Match != "name, version and build" {
		t.Errorf("pinned build: %+v", v)
	}
	if v := tab.Match(Identity{"V FIPS Provider", "1.0.0", "1.0.0-b2"}); v.Validated || !strings.Contains(v.Reason, "pins build 1.0.0-b1") {
		t.Errorf("another build: %+v", v)
	}
}

func fixtureIdentity(t *testing.T, file string) Identity {
	id, _ := inspectFixture(t, file).StaticIdentity()
	return id
}
