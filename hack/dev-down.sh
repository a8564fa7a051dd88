#!/usr/bin/env bash
# Stops the dev buildkitds and registry started by dev-up, and removes the
# buildx builder. Idempotent. Caches and registry contents are kept.
source "$(dirname "$0")/lib.sh"

stop() {
	local name=$1 pidfile=$RUN_DIR/$1.pid pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

if command -v docker >/dev/null && docker buildx inspect "$BUILDX_BUILDER_NAME" >/dev/null 2>&1; then
	docker buildx rm "$BUILDX_BUILDER_NAME" >/dev/null 2>&1 || true
fi
stop buildkitd
stop buildkitd-node2
stop registry
