#!/usr/bin/env bash
# The demo: builds the examples with `docker buildx build`, selecting fipsgate
# through the Dockerfile's own `# syntax=` line, and shows what came out: the
# FIPS server passes and carries an attestation; the application that runs
# without FIPS fails the build with the evidence. Expects dev-up, base-images
# and frontend-image (make demo does all of it).
source "$(dirname "$0")/lib.sh"
REGISTRY=${FIPSGATE_REGISTRY:?run through make demo, or eval "\$(make -s dev-up)" first}
BUILDER=${BUILDX_BUILDER:-$BUILDX_BUILDER_NAME}
mkdir -p "$FIPSGATE_ROOT/_output"

banner() { log ""; log "==> $*"; }

# show_attestation IMAGE: the index, and the fipsgate statement of each platform.
show_attestation() {
	banner "docker buildx imagetools inspect $1"
	docker buildx imagetools inspect --builder "$BUILDER" "$1" >&2
	banner "fipsgate verify --show $1"
	(cd "$FIPSGATE_ROOT" && go run ./cmd/fipsgate verify --show "$1") >&2
}

image=$REGISTRY/examples/helloserver:latest
banner "docker buildx build examples/helloserver  (# syntax=$(sed -n 's/^# syntax=//p' "$FIPSGATE_ROOT/examples/helloserver/Dockerfile"))"
docker buildx build --builder "$BUILDER" --progress=plain --tag "$image" --push \
	--metadata-file "$FIPSGATE_ROOT/_output/demo-helloserver.json" "$FIPSGATE_ROOT/examples/helloserver" >&2
show_attestation "$image"

banner "docker buildx build examples/not-enforcing  (expected to FAIL: the app runs without FIPS)"
if docker buildx build --builder "$BUILDER" --progress=plain --tag "$REGISTRY/examples/not-enforcing:latest" --push \
	"$FIPSGATE_ROOT/examples/not-enforcing" >"$FIPSGATE_ROOT/_output/demo-not-enforcing.log" 2>&1; then
	cat "$FIPSGATE_ROOT/_output/demo-not-enforcing.log" >&2
	die "examples/not-enforcing was attested, but its application runs without FIPS"
fi
sed -n '/FIPS verification FAILED/,$p' "$FIPSGATE_ROOT/_output/demo-not-enforcing.log" >&2
banner "demo done: helloserver attested, not-enforcing refused"
