#!/usr/bin/env bash
# Brings up the dev environment, idempotently: installs what is missing, builds
# the pinned BuildKit, buildx and registry binaries (cached), starts a rootful
# buildkitd (OCI worker, runc, overlayfs) on a private unix socket, a second
# one for the multi-node builder tests, and a registry on loopback, and
# registers a buildx "remote" builder for the first.
# Ends by printing the export lines a shell needs: eval "$(make -s dev-up)".
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "dev-up needs root: buildkitd runs rootful with runc and overlayfs"

build_tools() {
	build_tool buildkit "$BUILDKIT_VERSION" github.com/moby/buildkit \
		github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
	build_tool buildx "$BUILDX_VERSION" github.com/docker/buildx github.com/docker/buildx/cmd/buildx
	build_tool registry "$REGISTRY_VERSION" github.com/distribution/distribution/v3 \
		github.com/distribution/distribution/v3/cmd/registry
	# A third-party OCI client, for the tests that read attestations the
	# way supply-chain tools do.
	build_tool regclient "$REGCLIENT_VERSION" github.com/regclient/regclient \
		github.com/regclient/regclient/cmd/regctl
	# cosign signs images in the tests of fipsgate verify --key. v2 stores a
	# signature as the sha256-<digest>.sig tag, which every registry serves.
	build_tool cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2 \
		github.com/sigstore/cosign/v2/cmd/cosign
	# OPA runs the Rego policy example (examples/policy) over every
	# predicate the end-to-end tests produce.
	build_tool opa "$OPA_VERSION" github.com/open-policy-agent/opa github.com/open-policy-agent/opa
	mkdir -p "$HOME/.docker/cli-plugins"
	if ! cmp -s "$TOOLS_BIN/buildx" "$HOME/.docker/cli-plugins/docker-buildx"; then
		install -m 0755 "$TOOLS_BIN/buildx" "$HOME/.docker/cli-plugins/docker-buildx"
	fi
}

# running PIDFILE: whether the process recorded in PIDFILE is alive.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

registry_up() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }

start_registry() {
	if running "$RUN_DIR/registry.pid" && registry_up; then return; fi
	if registry_up; then
		die "something else already serves a registry on $REGISTRY_ADDR; stop it or set FIPSGATE_REGISTRY_PORT"
	fi
	mkdir -p "$STATE_DIR/registry" "$RUN_DIR" "$LOG_DIR"
	cat >"$RUN_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
	log "starting registry on $REGISTRY_ADDR (log: $LOG_DIR/registry.log)"
	OTEL_TRACES_EXPORTER=none setsid "$TOOLS_BIN/registry" serve "$RUN_DIR/registry.yml" \
		>>"$LOG_DIR/registry.log" 2>&1 </dev/null &
	echo $! >"$RUN_DIR/registry.pid"
	for _ in $(seq 100); do registry_up && return; sleep 0.1; done
	die "registry did not come up on $REGISTRY_ADDR; see $LOG_DIR/registry.log"
}

buildkitd_up() { buildctl --addr "$1" debug workers >/dev/null 2>&1; }

# start_buildkitd NAME ADDR STATE: a buildkitd serving ADDR, with its pid
# file and configuration at $RUN_DIR/NAME.*, its log at $LOG_DIR/NAME.log,
# its state and cache in the directory STATE.
start_buildkitd() {
	local name=$1 addr=$2 state=$3
	if running "$RUN_DIR/$name.pid" && buildkitd_up "$addr"; then return; fi
	mkdir -p "$state" "$RUN_DIR" "$LOG_DIR"
	# ghcr.io is mirrored to the dev registry so that Dockerfiles can name the
	# published frontend and base images (`# syntax=ghcr.io/fipsgate/fipsgate:1`)
	# and resolve them here, where no outside registry can be reached.
	cat >"$RUN_DIR/$name.toml" <<EOF
root = "$state"

[grpc]
  address = ["$addr"]

[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  binary = "runc"
  gc = true

[worker.containerd]
  enabled = false

[registry."$REGISTRY_ADDR"]
  http = true
  insecure = true

[registry."ghcr.io"]
  mirrors = ["$REGISTRY_ADDR"]
EOF
	log "starting $name on $addr (log: $LOG_DIR/$name.log)"
	setsid "$TOOLS_BIN/buildkitd" --config "$RUN_DIR/$name.toml" \
		>>"$LOG_DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN_DIR/$name.pid"
	for _ in $(seq 300); do
		buildkitd_up "$addr" && return
		running "$RUN_DIR/$name.pid" || break
		sleep 0.1
	done
	tail -n 20 "$LOG_DIR/$name.log" >&2 || true
	die "$name did not come up on $addr; see $LOG_DIR/$name.log"
}

create_builder() {
	local want="$BUILDKIT_HOST_ADDR"
	if docker buildx inspect "$BUILDX_BUILDER_NAME" 2>/dev/null | grep -q "Endpoint: *$want\$"; then return; fi
	docker buildx rm "$BUILDX_BUILDER_NAME" >/dev/null 2>&1 || true
	log "creating buildx builder $BUILDX_BUILDER_NAME (remote driver, $want)"
	docker buildx create --name "$BUILDX_BUILDER_NAME" --driver remote "$want" >&2
	docker buildx inspect --bootstrap "$BUILDX_BUILDER_NAME" >/dev/null
}

"$(dirname "$0")/packages.sh"
# Before buildkitd starts, which lists the platforms it runs as it starts.
"$(dirname "$0")/binfmt.sh"
build_tools
start_registry
start_buildkitd buildkitd "$BUILDKIT_HOST_ADDR" "$STATE_DIR/buildkit"
# A second node, for the multi-node builder tests.
start_buildkitd buildkitd-node2 "$BUILDKIT_NODE2_ADDR" "$STATE_DIR/buildkit-node2"
create_builder

cat <<EOF
export BUILDKIT_HOST=$BUILDKIT_HOST_ADDR
export FIPSGATE_REGISTRY=$REGISTRY_ADDR
export BUILDX_BUILDER=$BUILDX_BUILDER_NAME
export FIPSGATE_BUILDKIT_NODE2=$BUILDKIT_NODE2_ADDR
export PATH=$TOOLS_BIN:"\$PATH"
EOF
