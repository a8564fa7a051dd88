#!/usr/bin/env bash
# Makes sure the kernel runs linux/arm64 programs through qemu-user, the way
# the end-to-end tests build and verify linux/arm64 images on an x86_64
# machine: binfmt_misc mounted, and Debian's qemu-aarch64 handler registered
# with the F (fix binary) flag, which opens the emulator once, at
# registration, so that programs in containers (whose root has no emulator)
# run through it. Debian's qemu-user-static registers it when systemd-binfmt
# or binfmt-support runs its hooks; a fresh machine (a container, no
# systemd) may not have, so this registers what the package ships in
# /usr/lib/binfmt.d. Run before buildkitd starts: buildkitd lists the
# platforms it can run when it starts. Idempotent; needs root.
source "$(dirname "$0")/lib.sh"

BINFMT=/proc/sys/fs/binfmt_misc
HANDLERS=(qemu-aarch64)

if [ ! -e "$BINFMT/status" ]; then
	[ "$(id -u)" -eq 0 ] || die "binfmt_misc is not mounted at $BINFMT and mounting it needs root"
	mount -t binfmt_misc binfmt_misc "$BINFMT" ||
		die "cannot mount binfmt_misc at $BINFMT; linux/arm64 images cannot be built or verified on this $(uname -m) machine"
fi
[ "$(cat "$BINFMT/status")" = enabled ] || die "binfmt_misc is disabled ($BINFMT/status); enable it with: echo 1 > $BINFMT/status"

for h in "${HANDLERS[@]}"; do
	if [ -e "$BINFMT/$h" ]; then
		grep -qx enabled "$BINFMT/$h" ||
			die "the binfmt_misc handler $h is disabled; enable it with: echo 1 > $BINFMT/$h"
		flags=$(sed -n 's/^flags: *//p' "$BINFMT/$h")
		# Without F the kernel looks the emulator up inside each
		# container, where it is not: every foreign program fails there.
		[[ $flags == *F* ]] ||
			die "the binfmt_misc handler $h is registered without the F flag (flags: ${flags:-none}), so it cannot run programs inside containers; remove it (echo -1 > $BINFMT/$h) and run $0 again"
		continue
	fi
	conf=/usr/lib/binfmt.d/$h.conf
	[ -r "$conf" ] || die "no $conf to register $h from: is qemu-user-static installed (hack/packages.sh)?"
	# :name:type:offset:magic:mask:interpreter:flags — one line.
	line=$(grep -m1 "^:$h:" "$conf") || die "$conf has no :$h: line"
	flags=${line##*:}
	[[ $flags == *F* ]] || line+=F
	[ "$(id -u)" -eq 0 ] || die "registering the binfmt_misc handler $h needs root"
	log "registering the binfmt_misc handler $h (from $conf, with the F flag)"
	printf '%s' "$line" >"$BINFMT/register" || die "registering $h with binfmt_misc failed"
done
