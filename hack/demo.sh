#!/usr/bin/env bash
# The demo: builds every example with `docker buildx build`, selecting fipsgate
# through the Dockerfile's own `# syntax=` line, pushes it to the dev registry
# and shows what was pushed. Expects dev-up, base-images and frontend-image.
source "$(dirname "$0")/lib.sh"
REGISTRY=${FIPSGATE_REGISTRY:?run through make demo, or eval "\$(make -s dev-up)" first}

for dir in "$FIPSGATE_ROOT"/examples/*/; do
	name=$(basename "$dir")
	image=$REGISTRY/examples/$name:latest
	log ""
	log "==> docker buildx build $dir  (syntax: $(sed -n 's/^# syntax=//p' "$dir/Dockerfile" | head -n 1))"
	docker buildx build --builder "${BUILDX_BUILDER:-$BUILDX_BUILDER_NAME}" --progress=plain \
		--tag "$image" --push --metadata-file "$FIPSGATE_ROOT/_output/demo-$name.json" "$dir" >&2
	log ""
	log "==> $image"
	docker buildx imagetools inspect "$image" >&2
done
