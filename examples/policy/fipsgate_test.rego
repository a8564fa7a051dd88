package fipsgate_test

import data.fipsgate
import rego.v1

# A predicate as fipsgate writes it for an image that passed, cut to what
# the policy reads.
passing := {
	"schemaVersion": "2.0",
	"result": "PASSED",
	"platform": "linux/amd64",
	"verifier": {"name": "fipsgate", "version": "v2.0.0"},
	"application": {"checked": true, "command": ["/usr/local/bin/helloserver"]},
	"module": {
		"macVerified": true,
		"cmvp": {"validated": false, "reasoning": "version 3.5.9 is not covered"},
	},
	"emulation": {"emulated": false},
	"selfTests": {"check": "self-tests", "tests": [{"description": "HMAC", "type": "Module_Integrity", "result": "Pass"}]},
	"algorithms": {
		"check": "algorithms",
		"served": [{"category": "digest", "names": ["SHA-256", "SHA2-256", "SHA256"], "provider": "fips", "approved": true}],
		"nonApproved": [{"category": "digest", "name": "MD5", "refused": true}],
	},
	"inventory": {
		"findings": [{"path": "/usr/bin/md5sum", "kind": "openssl-low-level-api", "severity": "warning", "evidence": "MD5_Init"}],
		"reach": {"entries": [], "unresolved": []},
	},
	"stages": [
		{"id": "static", "checks": [{"name": "module-mac", "required": true, "status": "passed"}]},
		{"id": "self-test", "checks": [{"name": "cmvp-validated", "required": false, "status": "warning"}]},
		{"id": "negative/fipsmodule-cnf-removed", "checks": []},
		{"id": "negative/module-mac-corrupted", "checks": []},
		{"id": "negative/module-corrupted", "checks": []},
	],
	"warnings": [{"stage": "static", "check": "cmvp-validated", "title": "the module is a CMVP-validated release", "detail": "not validated"}],
}

test_passing_predicate_is_allowed if {
	fipsgate.allow with input as passing
	count(fipsgate.warn) == 1 with input as passing
}

test_statement_is_read if {
	fipsgate.allow with input as {"_type": "https://in-toto.io/Statement/v1", "predicateType": fipsgate.predicate_type, "predicate": passing}
}

test_other_predicate_type_is_denied if {
	some msg in fipsgate.deny with input as {"predicateType": "https://slsa.dev/provenance/v1", "predicate": passing}
	contains(msg, "not fipsgate's schema 2")
}

test_schema_1_is_denied if {
	some msg in fipsgate.deny with input as object.union(passing, {"schemaVersion": "1.0"})
	contains(msg, "is not 2.x")
}

test_no_application_is_denied if {
	some msg in fipsgate.deny with input as object.union(passing, {"application": {"checked": false, "command": []}})
	contains(msg, "OpenSSL alone")
}

test_no_application_allowed_when_not_required if {
	fipsgate.allow with input as object.union(passing, {"application": {"checked": false, "command": []}})
		with data.fipsgate_settings as {"require_application": false}
}

test_missing_negative_test_is_denied if {
	p := object.union(passing, {"stages": [s | some s in passing.stages; s.id != "negative/module-corrupted"]})
	"the negative test negative/module-corrupted did not run" in fipsgate.deny with input as p
}

test_failed_required_check_is_denied if {
	p := object.union(passing, {"stages": array.concat(passing.stages, [{"id": "static", "checks": [{"name": "x", "required": true, "status": "failed"}]}])})
	"[static] required check x is failed" in fipsgate.deny with input as p
}

test_unvalidated_module_denied_when_required if {
	some msg in fipsgate.deny with input as passing with data.fipsgate_settings as {"require_validated": true}
	contains(msg, "version 3.5.9 is not covered")
}

test_failing_finding_is_denied_unless_accepted if {
	failing := {"path": "/app", "kind": "imports-crypto-library", "severity": "failure", "evidence": "nettle_sha256_init"}
	some msg in fipsgate.deny with input as object.union(passing, {"inventory": {"findings": [failing]}})
	contains(msg, "imports-crypto-library at /app")
	fipsgate.allow with input as object.union(passing, {"inventory": {"findings": [object.union(failing, {"accepted": "reviewed"})]}})
}

test_emulated_denied_when_not_allowed if {
	p := object.union(passing, {"emulation": {"emulated": true}})
	fipsgate.allow with input as p
	not fipsgate.allow with input as p with data.fipsgate_settings as {"allow_emulated": false}
}

test_nothing_is_not_allowed if {
	not fipsgate.allow with input as {}
}

test_failed_self_test_is_denied if {
	p := object.union(passing, {"selfTests": {"check": "self-tests", "tests": [{"description": "SHA2", "type": "KAT_Digest", "result": "Fail"}]}})
	"self-test SHA2 (KAT_Digest): Fail" in fipsgate.deny with input as p
}

test_unapproved_or_unrefused_algorithm_is_denied if {
	p := object.union(passing, {"algorithms": {
		"check": "algorithms",
		"served": [{"category": "digest", "names": ["MD5"], "provider": "default", "approved": false}],
		"nonApproved": [{"category": "digest", "name": "MD5", "refused": false}],
	}})
	"digest MD5 is served by default, not approved" in fipsgate.deny with input as p
	"the non-approved digest MD5 is not refused" in fipsgate.deny with input as p
}

test_no_self_tests_denied_when_required if {
	p := object.remove(passing, {"selfTests", "algorithms"})
	fipsgate.allow with input as p
	not fipsgate.allow with input as p with data.fipsgate_settings as {"require_self_tests": true}
}
