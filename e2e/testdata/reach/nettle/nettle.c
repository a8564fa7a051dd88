/* Checks that OpenSSL is in FIPS mode, then hashes with Nettle's SHA-256. */
#include "fips.h"
#include <nettle/sha2.h>

int main(void) {
	require_fips("nettle-digest");
	struct sha256_ctx ctx;
	unsigned char d[SHA256_DIGEST_SIZE];
	nettle_sha256_init(&ctx);
	nettle_sha256_update(&ctx, 8, (const uint8_t *)"fipsgate");
	nettle_sha256_digest(&ctx, sizeof d, d);
	print_hex("nettle sha256", d, sizeof d);
	return 0;
}
