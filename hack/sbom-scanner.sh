#!/usr/bin/env bash
# Builds the SBOM generator image that `docker buildx build --sbom=generator=IMAGE`
# runs (BuildKit's SBOM scanning protocol), from hack/sbom-scanner (syft, from
# the Go module proxy), and pushes it to the dev registry, where no scanner
# image can be pulled. The binary is cached in the tools cache and the image
# tagged by a hash of its inputs: neither is rebuilt while that is there. The
# last line of output is the image reference.
source "$(dirname "$0")/lib.sh"

REGISTRY=${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}
SRC=$FIPSGATE_ROOT/hack/sbom-scanner
REPO=fipsgate/sbom-scanner

hash=$({ go env GOVERSION; cat "$0" "$SRC"/go.mod "$SRC"/go.sum "$SRC"/*.go "$SRC"/Dockerfile; } | sha256sum | cut -c1-16)
IMAGE=$REGISTRY/$REPO:$hash
if in_registry "$REPO" "$hash"; then
	log "SBOM scanner image is up to date ($IMAGE)"
	echo "$IMAGE"
	exit 0
fi

bin=$CACHE_DIR/sbom-scanner/$hash
mkdir -p "$LOG_DIR"
if [ ! -x "$bin/sbom-scanner" ]; then
	log "building the SBOM scanner (syft; once per change of hack/sbom-scanner, cached in $CACHE_DIR)"
	logf=$LOG_DIR/build-sbom-scanner.log
	mkdir -p "$bin"
	if ! (cd "$SRC" && retry 3 go mod download && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/sbom-scanner.tmp" .) >"$logf" 2>&1; then
		tail -n 20 "$logf" >&2
		die "building the SBOM scanner failed; see $logf"
	fi
	mv "$bin/sbom-scanner.tmp" "$bin/sbom-scanner"
	# Binaries of other inputs are of no further use.
	find "$CACHE_DIR/sbom-scanner" -mindepth 1 -maxdepth 1 ! -name "$hash" -exec rm -rf {} +
fi

log "building and pushing $IMAGE"
buildctl build --progress=plain \
	--frontend dockerfile.v0 \
	--local context="$bin" --local dockerfile="$SRC" \
	--opt platform=linux/amd64 \
	--output "type=image,name=$IMAGE,push=true,oci-mediatypes=true" \
	>"$LOG_DIR/sbom-scanner-image.log" 2>&1 ||
	{ tail -n 30 "$LOG_DIR/sbom-scanner-image.log" >&2; die "building the SBOM scanner image failed; see $LOG_DIR/sbom-scanner-image.log"; }
echo "$IMAGE"
