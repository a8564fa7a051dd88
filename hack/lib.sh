# Shared settings and helpers for the dev-environment scripts. Sourced, not run.
#
# Everything the scripts print for humans goes to stderr: stdout is reserved
# for the `export NAME=value` lines that `eval "$(make -s dev-up)"` reads.

set -euo pipefail

FIPSGATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Pinned versions of everything built from the Go module proxy.
BUILDKIT_VERSION=v0.34.2
BUILDX_VERSION=v0.38.2
REGISTRY_VERSION=v3.1.2
REGCLIENT_VERSION=v0.11.7
COSIGN_VERSION=v2.6.5
ACTIONLINT_VERSION=v1.7.12
OPA_VERSION=v1.22.3

# Binaries are cached outside git and reused when present.
CACHE_DIR=${FIPSGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fipsgate}
TOOLS_BIN=$CACHE_DIR/bin
# Daemon state (buildkit cache, registry storage, logs) survives dev-down.
STATE_DIR=${FIPSGATE_STATE_DIR:-/var/lib/fipsgate}
RUN_DIR=${FIPSGATE_RUN_DIR:-/run/fipsgate}
LOG_DIR=$STATE_DIR/logs

BUILDKIT_SOCK=$RUN_DIR/buildkitd.sock
BUILDKIT_HOST_ADDR=unix://$BUILDKIT_SOCK
# A second buildkitd, for the multi-node builder tests (buildx builders of
# two nodes): its own socket, state and cache.
BUILDKIT_NODE2_ADDR=unix://$RUN_DIR/buildkitd-node2.sock
REGISTRY_PORT=${FIPSGATE_REGISTRY_PORT:-5000}
REGISTRY_ADDR=127.0.0.1:$REGISTRY_PORT
BUILDX_BUILDER_NAME=${FIPSGATE_BUILDX_BUILDER:-fipsgate}

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# retry N CMD...: run CMD up to N times with a growing pause; mirrors and the
# module proxy fail transiently often enough that one failure must not end a run.
retry() {
	local n=$1 i=1; shift
	until "$@"; do
		[ "$i" -ge "$n" ] && return 1
		log "  (attempt $i of $n failed; retrying in $((i * 5))s)"
		sleep $((i * 5)); i=$((i + 1))
	done
}

MANIFEST_ACCEPT=(
	-H 'Accept: application/vnd.oci.image.index.v1+json'
	-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json'
	-H 'Accept: application/vnd.oci.image.manifest.v1+json'
)

# in_registry REPO TAG: whether the dev registry holds that tag.
in_registry() {
	curl -fsS -o /dev/null --head "${MANIFEST_ACCEPT[@]}" \
		"http://${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}/v2/$1/manifests/$2" 2>/dev/null
}

# registry_digest REPO TAG: the digest the tag names in the dev registry, or
# nothing.
registry_digest() {
	curl -fsS -o /dev/null --head -w '%header{docker-content-digest}' "${MANIFEST_ACCEPT[@]}" \
		"http://${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}/v2/$1/manifests/$2" 2>/dev/null || true
}

# retag REPO FROM TO: points the tag TO at the manifest FROM names.
retag() {
	local url="http://${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}/v2/$1/manifests" body type rc
	body=$(mktemp)
	type=$(curl -fsS "${MANIFEST_ACCEPT[@]}" -o "$body" -w '%{content_type}' "$url/$2") &&
		curl -fsS -o /dev/null -X PUT -H "Content-Type: $type" --data-binary "@$body" "$url/$3"
	rc=$?
	rm -f "$body"
	return $rc
}

export PATH="$TOOLS_BIN:$PATH"
export BUILDKIT_HOST=$BUILDKIT_HOST_ADDR

# build_tool NAME VERSION MODULE PKG...: builds PKG... from MODULE@VERSION in a
# throw-away module (`go install pkg@version` refuses modules with excludes or
# replaces) into TOOLS_BIN, unless this version is already there. The version
# is linked in: buildx enables features by the buildkitd version it reports.
build_tool() {
	local name=$1 version=$2 module=$3; shift 3
	local ldflags="-s -w -X $module/version.Version=$version"
	local stamp=$TOOLS_BIN/.$name-$version
	[ -f "$stamp" ] && return
	log "building $name $version from the Go module proxy (once; cached in $CACHE_DIR)"
	local src=$CACHE_DIR/src/$name-$version pkgs=() p
	mkdir -p "$src" "$TOOLS_BIN"
	printf 'module fipsgate.local/tools/%s\n\ngo 1.26.8\n' "$name" >"$src/go.mod"
	for p in "$@"; do pkgs+=("$p@$version"); done
	mkdir -p "$LOG_DIR"
	local logf=$LOG_DIR/build-$name.log
	if ! (cd "$src" && retry 3 go get "${pkgs[@]}" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$TOOLS_BIN/" "$@") >"$logf" 2>&1; then
		tail -n 20 "$logf" >&2
		die "building $name $version failed; see $logf"
	fi
	touch "$stamp"
}
