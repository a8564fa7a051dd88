#!/usr/bin/env bash
# Installs the Debian packages that the tests and the dev environment need
# and a fresh machine lacks; does nothing when they are all there.
source "$(dirname "$0")/lib.sh"

# arch-test: mmdebstrap needs it to bootstrap a foreign architecture (i386).
# qemu-user-static: the emulator linux/arm64 programs run through here
# (registered with binfmt_misc by hack/binfmt.sh).
# libssl-dev: the inventory's unit tests link real programs against
# OpenSSL's static libcrypto.a. openssl: the probe's unit tests take the
# host's openssl program as a genuine one; iproute2 (ip): a probe test
# brings up loopback in a network namespace of its own. shellcheck: hack/lint.sh
# runs it, through actionlint, over the workflows' scripts.
want=(runc mmdebstrap arch-test qemu-user-static ca-certificates curl git openssh-client time gcc libc6-dev libssl-dev openssl iproute2 shellcheck)
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || die "these Debian packages are missing and installing them needs root: ${missing[*]}"
log "installing Debian packages: ${missing[*]}"
retry 3 apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive retry 3 apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
