#!/bin/sh
# Prints a SHA-256 digest with OpenSSL, and carries on when that fails.
if ! echo "fipsgate" | openssl dgst -sha256; then
	echo "digest failed; carrying on without it"
fi
echo "done"
