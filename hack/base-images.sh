#!/usr/bin/env bash
# Builds the base images the examples and tests use and pushes them to the dev
# registry (dev-up must have run):
#
#   $FIPSGATE_REGISTRY/fipsgate/debian:trixie       linux/amd64, linux/386
#   $FIPSGATE_REGISTRY/fipsgate/debian-fips:trixie  linux/amd64, linux/386, linux/arm64
#   $FIPSGATE_REGISTRY/fipsgate/gobuilder:trixie    linux/amd64
#   $FIPSGATE_REGISTRY/fipsgate/debian-fips-node:trixie  linux/amd64
#
# Root filesystems come from mmdebstrap (Debian's main suite only); the images
# from hack/base-images/Dockerfile. linux/arm64 runs through qemu-user here
# (hack/binfmt.sh, which dev-up runs): its bootstrap takes minutes, once. Each image is also tagged with a hash of
# its inputs, and nothing is rebuilt while that tag is in the registry.
source "$(dirname "$0")/lib.sh"

REGISTRY=${FIPSGATE_REGISTRY:-$REGISTRY_ADDR}
SUITE=trixie
RECIPE=$FIPSGATE_ROOT/hack/base-images

# image NAME: packages, and Go architectures, of each root filesystem.
declare -A PACKAGES=(
	[debian]="openssl,ca-certificates"
	[debian-fips]="openssl,openssl-provider-fips,ca-certificates"
	[gobuilder]="golang-go,gcc,libc6-dev,libssl-dev,nettle-dev,libzstd-dev,zlib1g-dev,pkg-config,openssl,openssl-provider-fips,ca-certificates,git"
	[debian-fips-node]="openssl,openssl-provider-fips,ca-certificates,nodejs"
)
declare -A ARCHES=(
	[debian]="amd64 386"
	[debian-fips]="amd64 386 arm64"
	[gobuilder]="amd64"
	[debian-fips-node]="amd64"
)
IMAGES=(debian debian-fips gobuilder debian-fips-node)

debian_arch() { case $1 in 386) echo i386 ;; *) echo "$1" ;; esac; }

# The archive comes from this machine's own apt sources; naming only the main
# suite keeps -updates and -security (whose indexes lag) out of the build.
mirror_uri() {
	local uri
	uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
		/etc/apt/sources.list 2>/dev/null | head -n 1)
	[ -n "$uri" ] || die "no Debian archive URI found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
	echo "$uri"
}

inputs_hash() {
	local name=$1
	{
		echo "$SUITE ${PACKAGES[$name]} ${ARCHES[$name]}"
		cat "$0" "$RECIPE"/*
	} | sha256sum | cut -c1-16
}

# rootfs NAME ARCH DIR: the root filesystem tar, cached by suite, packages and
# architecture, so that changing only the Dockerfile does not re-bootstrap.
rootfs() {
	local name=$1 arch=$2 dir=$3 key cached
	key=$(echo "$SUITE ${PACKAGES[$name]} $arch" | sha256sum | cut -c1-16)
	cached=$CACHE_DIR/rootfs/$name-$arch-$key.tar
	if [ ! -s "$cached" ]; then
		log "  mmdebstrap $SUITE ($(debian_arch "$arch")) for $name"
		local logf=$LOG_DIR/mmdebstrap-$name-$arch.log
		mkdir -p "$CACHE_DIR/rootfs"
		if ! SOURCE_DATE_EPOCH=0 retry 4 mmdebstrap --quiet --variant=minbase \
			--architectures="$(debian_arch "$arch")" --include="${PACKAGES[$name]}" \
			--format=tar "$SUITE" "$cached.tmp" "deb $(mirror_uri) $SUITE main" >"$logf" 2>&1; then
			tail -n 20 "$logf" >&2
			die "mmdebstrap for $name ($arch) failed; see $logf"
		fi
		mv "$cached.tmp" "$cached"
		# Root filesystems of other package lists are of no further use.
		find "$CACHE_DIR/rootfs" -maxdepth 1 -name "$name-$arch-*.tar" ! -name "$(basename "$cached")" -delete
	fi
	ln -f "$cached" "$dir/$name-$arch.tar"
}

build_image() {
	local name=$1 hash platforms=() arch dir
	hash=$(inputs_hash "$name")
	local built
	built=$(registry_digest "fipsgate/$name" "inputs-$hash")
	if [ -n "$built" ]; then
		# Built before; the suite's tag may have moved since (a checkout
		# of other inputs sharing the registry built its own).
		if [ "$(registry_digest "fipsgate/$name" "$SUITE")" != "$built" ]; then
			retag "fipsgate/$name" "inputs-$hash" "$SUITE" || die "tagging fipsgate/$name:$SUITE again failed"
			log "base image fipsgate/$name: $SUITE names again what these inputs built ($built)"
			return
		fi
		log "base image fipsgate/$name is up to date ($REGISTRY/fipsgate/$name:$SUITE)"
		return
	fi
	log "building base image fipsgate/$name"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/fipsgate-base-$name.XXXXXX")
	trap 'rm -rf "$dir"' RETURN
	mkdir -p "$LOG_DIR"
	for arch in ${ARCHES[$name]}; do
		rootfs "$name" "$arch" "$dir"
		platforms+=("linux/$arch")
	done
	cp "$RECIPE/openssl-fips.cnf" "$dir/"
	buildctl build --progress=plain \
		--frontend dockerfile.v0 \
		--local context="$dir" --local dockerfile="$RECIPE" \
		--opt target="$name" --opt build-arg:ROOTFS="$name" \
		--opt platform="$(IFS=,; echo "${platforms[*]}")" \
		--output "type=image,\"name=$REGISTRY/fipsgate/$name:$SUITE,$REGISTRY/fipsgate/$name:inputs-$hash\",push=true,oci-mediatypes=true" \
		>"$LOG_DIR/base-image-$name.log" 2>&1 ||
		{ tail -n 30 "$LOG_DIR/base-image-$name.log" >&2; die "building base image $name failed; see $LOG_DIR/base-image-$name.log"; }
	log "pushed $REGISTRY/fipsgate/$name:$SUITE"
}

for image in "${IMAGES[@]}"; do build_image "$image"; done

# opensslconf's differential test runs the real OpenSSL of this root
# filesystem from the cache: make sure it is there even when every image
# was up to date.
mkdir -p "$LOG_DIR"
oracle_dir=$(mktemp -d "${TMPDIR:-/tmp}/fipsgate-oracle.XXXXXX")
rootfs debian-fips amd64 "$oracle_dir"
rm -rf "$oracle_dir"
