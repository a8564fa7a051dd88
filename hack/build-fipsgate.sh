#!/usr/bin/env bash
# Cross-compiles the fipsgate binary for one platform, as the frontend image
# and the release binaries carry it: static (no cgo), reproducible
# (-trimpath, no VCS stamp, stripped), with the version linked in.
#
#   hack/build-fipsgate.sh PLATFORM OUTPUT VERSION
#
# PLATFORM is os/arch[/variant] as BuildKit names platforms (linux/arm/v7);
# the variant becomes GOARM or GOAMD64. The root Dockerfile's build stage and
# hack/frontend-image.sh both build through this script, so that the image
# built from the Dockerfile and the one built here hold the same binary.
set -euo pipefail

[ "$#" -eq 3 ] || { echo "usage: $0 PLATFORM OUTPUT VERSION" >&2; exit 2; }
platform=$1 output=$2 version=$3
IFS=/ read -r os arch variant extra <<<"$platform"
[ -n "$os" ] && [ -n "$arch" ] && [ -z "$extra" ] || { echo "$0: $platform: want os/arch[/variant]" >&2; exit 2; }

env=(CGO_ENABLED=0 "GOOS=$os" "GOARCH=$arch")
case $arch/$variant in
arm/) env+=(GOARM=7) ;; # BuildKit's linux/arm is linux/arm/v7
arm/v5 | arm/v6 | arm/v7) env+=("GOARM=${variant#v}") ;;
amd64/ | amd64/v1 | arm64/ | arm64/v8) ;;
amd64/v2 | amd64/v3 | amd64/v4) env+=("GOAMD64=$variant") ;;
*/) ;;
*) echo "$0: $platform: no Go setting for the variant $variant" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
env "${env[@]}" go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=$version" -o "$output" ./cmd/fipsgate
