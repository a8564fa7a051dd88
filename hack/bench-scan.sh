#!/usr/bin/env bash
# The crypto inventory's throughput and peak memory, on the FIPS base image's
# root filesystem (unpacked from the base-images cache): go test -bench for
# MB/s and files/s, then `fipsgate scan` under GNU time for peak memory.
source "$(dirname "$0")/lib.sh"

tarball=$(ls "$CACHE_DIR"/rootfs/debian-fips-amd64-*.tar 2>/dev/null | head -n 1)
[ -n "$tarball" ] || die "no FIPS base root filesystem in $CACHE_DIR/rootfs; run make base-images"
root=$FIPSGATE_ROOT/_output/bench/rootfs-$(basename "$tarball" .tar)
if [ ! -d "$root" ]; then
	mkdir -p "$root.tmp" && tar -xf "$tarball" -C "$root.tmp" 2>/dev/null || true
	mv "$root.tmp" "$root"
fi
cd "$FIPSGATE_ROOT"
FIPSGATE_BENCH_ROOT=$root go test -run XXX -bench . -benchtime 5x -benchmem ./inventory/ | grep -E '^Benchmark'
go build -o _output/bench/fipsgate ./cmd/fipsgate
rss=$( { /usr/bin/time -f '%M' _output/bench/fipsgate scan "$root" >/dev/null; } 2>&1 | tail -n 1)
echo "fipsgate scan of the FIPS base image: peak resident memory ${rss} KiB"
