#!/usr/bin/env bash
# Builds the frontend image from the root Dockerfile for every platform of
# hack/frontend-platforms (FIPSGATE_FRONTEND_PLATFORMS=a,b overrides the list
# for a quicker build while developing) and pushes the index to the dev
# registry. The binaries are cross-compiled on the host
# (hack/build-fipsgate.sh) and handed to the Dockerfile as its `build` stage
# (a named context), so nothing is pulled. Reproducible: the version, the
# revision and the timestamps come from the git checkout, so an unchanged
# rebuild pushes the same digest. The last line of output is the pushed
# image reference.
source "$(dirname "$0")/lib.sh"

REGISTRY=${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}
# The major-version tag is the one example Dockerfiles name
# (# syntax=ghcr.io/fipsgate/fipsgate:1, mirrored to the dev registry).
IMAGE=${FIPSGATE_FRONTEND_IMAGE:-$REGISTRY/fipsgate/fipsgate:1}
PLATFORMS=${FIPSGATE_FRONTEND_PLATFORMS:-$(grep -v -e '^#' -e '^$' "$FIPSGATE_ROOT/hack/frontend-platforms" | paste -sd, -)}

git=(git -C "$FIPSGATE_ROOT")
VERSION=$("${git[@]}" describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION=$("${git[@]}" rev-parse HEAD 2>/dev/null || true)
EPOCH=$("${git[@]}" log -1 --format=%ct 2>/dev/null || echo 0)

out=$FIPSGATE_ROOT/_output/frontend-stage
# Binaries of platforms no longer listed must not linger in the context.
rm -rf "$out"
mkdir -p "$out/out" "$LOG_DIR"
log "compiling fipsgate $VERSION (static) for $PLATFORMS"
for p in ${PLATFORMS//,/ }; do
	"$FIPSGATE_ROOT/hack/build-fipsgate.sh" "$p" "$out/out/$p/fipsgate" "$VERSION" >&2 ||
		die "compiling fipsgate for $p failed"
done

log "building and pushing $IMAGE"
md=$out/metadata.json
buildctl build --progress=plain \
	--frontend dockerfile.v0 \
	--local context="$FIPSGATE_ROOT" --local dockerfile="$FIPSGATE_ROOT" \
	--local prebuilt="$out" --opt context:build=local:prebuilt \
	--opt platform="$PLATFORMS" \
	--opt build-arg:VERSION="$VERSION" \
	--opt build-arg:REVISION="$REVISION" \
	--opt build-arg:SOURCE_DATE_EPOCH="$EPOCH" \
	--metadata-file "$md" \
	--output "type=image,name=$IMAGE,push=true,oci-mediatypes=true,rewrite-timestamp=true" \
	>"$LOG_DIR/frontend-image.log" 2>&1 ||
	{ tail -n 30 "$LOG_DIR/frontend-image.log" >&2; die "building the frontend image failed; see $LOG_DIR/frontend-image.log"; }
log "pushed $IMAGE@$(sed -n 's/.*"containerimage.digest": *"\([^"]*\)".*/\1/p' "$md")"
echo "$IMAGE"
