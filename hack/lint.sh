#!/usr/bin/env bash
# Lints the GitHub Actions workflows: the repository's own (.github/workflows)
# and the ones users copy (examples/github-actions). They cannot run here, so
# this is what checks them: actionlint (expressions, action inputs and outputs,
# permissions, untrusted input in scripts) with shellcheck over every `run:`
# script. Exits non-zero on any finding.
source "$(dirname "$0")/lib.sh"

"$(dirname "$0")/packages.sh" # installs shellcheck if missing
build_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint \
	github.com/rhysd/actionlint/cmd/actionlint

# actionlint skips its shellcheck checks when it finds no shellcheck; here a
# missing one is an error, not a silent pass.
SHELLCHECK=$(command -v shellcheck) || die "shellcheck not found (hack/packages.sh installs it)"
lint() { "$TOOLS_BIN/actionlint" -no-color -oneline -shellcheck "$SHELLCHECK" -pyflakes= "$@"; }

cd "$FIPSGATE_ROOT"
shopt -s nullglob
workflows=(.github/workflows/*.y*ml examples/github-actions/*.y*ml)
[ "${#workflows[@]}" -gt 0 ] || die "no workflows found to lint"

# A workflow with one known mistake of each kind must be rejected, or a
# clean run below would prove nothing (a linter that checks nothing passes all).
canary=hack/testdata/lint-canary.yml
if out=$(lint "$canary" 2>&1); then
	die "actionlint passed $canary, which has errors in it: the lint checks nothing"
fi
for want in 'input "no-such-input" is not defined' 'property "no-such-output" is not defined' SC2086; do
	grep -qF -- "$want" <<<"$out" || die "actionlint did not report $want in $canary:
$out"
done

log "actionlint $ACTIONLINT_VERSION (with $("$SHELLCHECK" --version | sed -n 's/^version: //p' | sed 's/^/shellcheck /')): ${workflows[*]}"
lint "${workflows[@]}"
