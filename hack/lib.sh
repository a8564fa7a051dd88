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

# Binaries are cached outside git and reused when present.
CACHE_DIR=${FIPSGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fipsgate}
TOOLS_BIN=$CACHE_DIR/bin
# Daemon state (buildkit cache, registry storage, logs) survives dev-down.
STATE_DIR=${FIPSGATE_STATE_DIR:-/var/lib/fipsgate}
RUN_DIR=${FIPSGATE_RUN_DIR:-/run/fipsgate}
LOG_DIR=$STATE_DIR/logs

BUILDKIT_SOCK=$RUN_DIR/buildkitd.sock
BUILDKIT_HOST_ADDR=unix://$BUILDKIT_SOCK
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

export PATH="$TOOLS_BIN:$PATH"
export BUILDKIT_HOST=$BUILDKIT_HOST_ADDR
