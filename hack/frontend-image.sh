#!/usr/bin/env bash
# Builds the frontend image from the root Dockerfile and pushes it to the dev
# registry. The binary is compiled on the host and handed to the Dockerfile as
# the `build` stage (a named context), so nothing is pulled. The last line of
# output is the pushed image reference.
source "$(dirname "$0")/lib.sh"

REGISTRY=${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}
# The major-version tag is the one example Dockerfiles name
# (# syntax=ghcr.io/fipsgate/fipsgate:1, mirrored to the dev registry).
IMAGE=${FIPSGATE_FRONTEND_IMAGE:-$REGISTRY/fipsgate/fipsgate:1}
VERSION=$(git -C "$FIPSGATE_ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)

out=$FIPSGATE_ROOT/_output/frontend-stage
mkdir -p "$out/out"
log "compiling fipsgate $VERSION (static, linux/amd64)"
(cd "$FIPSGATE_ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=$VERSION" -o "$out/out/fipsgate" ./cmd/fipsgate)

log "building and pushing $IMAGE"
buildctl build --progress=plain \
	--frontend dockerfile.v0 \
	--local context="$FIPSGATE_ROOT" --local dockerfile="$FIPSGATE_ROOT" \
	--local prebuilt="$out" --opt context:build=local:prebuilt \
	--opt platform=linux/amd64 \
	--output "type=image,name=$IMAGE,push=true,oci-mediatypes=true" \
	>"$LOG_DIR/frontend-image.log" 2>&1 ||
	{ tail -n 30 "$LOG_DIR/frontend-image.log" >&2; die "building the frontend image failed; see $LOG_DIR/frontend-image.log"; }
echo "$IMAGE"
