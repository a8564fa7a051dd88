# A policy over fipsgate's predicate (schema 2) for a platform team to copy:
# may this platform of an image ship? `deny` says why not; `warn` is what a
# reviewer should see but does not block. Judge one predicate at a time, as
# fipsgate attaches one per platform.
#
#   opa eval -d fipsgate.rego -i predicate.json 'data.fipsgate.deny'
#   conftest test --namespace fipsgate -p fipsgate.rego statement.json
#
# The input is the predicate, or the whole in-toto statement (the policy
# then checks its predicateType). Settings come from data.fipsgate_settings
# (opa eval -d settings.json, conftest --data settings.json):
#
#   {"fipsgate_settings": {"require_validated": true, "require_application": true,
#    "allow_emulated": true, "min_schema_minor": 0, "require_self_tests": true}}
package fipsgate

import rego.v1

predicate_type := "https://fipsgate.github.io/predicate/fips-verification/v2"

default given_settings := {}

given_settings := data.fipsgate_settings

settings := object.union(
	{"require_validated": false, "require_application": true, "allow_emulated": true, "min_schema_minor": 0, "require_self_tests": false},
	given_settings,
)

# The predicate: the input itself, or the predicate of an in-toto statement.
predicate := input.predicate if input.predicateType == predicate_type

predicate := input if not input.predicateType

negative_stages := {"negative/fipsmodule-cnf-removed", "negative/module-mac-corrupted", "negative/module-corrupted"}

default allow := false

allow if {
	predicate
	count(deny) == 0
}

deny contains msg if {
	input.predicateType
	input.predicateType != predicate_type
	msg := sprintf("the statement's predicate type is %q, not fipsgate's schema 2", [input.predicateType])
}

deny contains msg if {
	predicate.result != "PASSED"
	msg := sprintf("the result is %q, not PASSED", [predicate.result])
}

deny contains msg if {
	parts := split(predicate.schemaVersion, ".")
	not parts[0] == "2"
	msg := sprintf("schema version %s is not 2.x", [predicate.schemaVersion])
}

deny contains msg if {
	parts := split(predicate.schemaVersion, ".")
	to_number(parts[1]) < settings.min_schema_minor
	msg := sprintf("schema version %s is older than 2.%d", [predicate.schemaVersion, settings.min_schema_minor])
}

deny contains "the image was verified on OpenSSL alone: no application check ran" if {
	settings.require_application
	not predicate.application.checked
}

deny contains msg if {
	some id in negative_stages
	not id in {s.id | some s in predicate.stages}
	msg := sprintf("the negative test %s did not run", [id])
}

# fipsgate attests only when every required check passed; a predicate
# that says otherwise was not written by it.
deny contains msg if {
	some s in predicate.stages
	some c in s.checks
	c.required
	c.status != "passed"
	msg := sprintf("[%s] required check %s is %s", [s.id, c.name, c.status])
}

deny contains "no FIPS module was verified" if not predicate.module

deny contains "the module's MAC was not verified" if {
	predicate.module
	not predicate.module.macVerified
}

deny contains msg if {
	settings.require_validated
	not predicate.module.cmvp.validated
	msg := sprintf("the module is not taken for CMVP-validated: %s", [object.get(predicate, ["module", "cmvp", "reasoning"], "no module")])
}

deny contains msg if {
	some f in predicate.inventory.findings
	f.severity == "failure"
	not f.accepted
	msg := sprintf("inventory: %s at %s: %s", [f.kind, f.path, f.evidence])
}

# The module's self-tests and the algorithm matrix, where the image's
# openssl could show them (an image without one has neither).
deny contains "the module's self-tests were not shown (no openssl command to run them)" if {
	settings.require_self_tests
	not predicate.selfTests
}

deny contains msg if {
	some t in predicate.selfTests.tests
	t.result != "Pass"
	msg := sprintf("self-test %s (%s): %s", [t.description, t.type, t.result])
}

deny contains msg if {
	some a in predicate.algorithms.served
	not a.approved
	msg := sprintf("%s %s is served by %s, not approved", [a.category, a.names[0], a.provider])
}

deny contains msg if {
	some n in predicate.algorithms.nonApproved
	not n.refused
	msg := sprintf("the non-approved %s %s is not refused", [n.category, n.name])
}

deny contains msg if {
	not settings.allow_emulated
	predicate.emulation.emulated
	msg := sprintf("%s was verified under emulation", [predicate.platform])
}

warn contains msg if {
	some w in predicate.warnings
	msg := sprintf("[%s] %s: %s", [w.stage, w.title, w.detail])
}

warn contains msg if {
	some f in predicate.inventory.findings
	f.accepted
	msg := sprintf("accepted: %s at %s (%s)", [f.kind, f.path, f.accepted])
}

warn contains msg if {
	some u in predicate.inventory.reach.unresolved
	msg := sprintf("reach not followed: %s", [u])
}
