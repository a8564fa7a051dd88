#!/bin/sh
# Refuses to run unless OpenSSL is in FIPS mode: the fips provider is
# active and a SHA-256 digest works.
if ! openssl list -providers | grep -q '^  fips$' ||
	! printf fipsgate | openssl dgst -sha256 >/dev/null; then
	echo "digest.sh: OpenSSL is not in FIPS mode: refusing to run" >&2
	exit 1
fi
sha256sum /etc/os-release
echo "digest.sh: done"
