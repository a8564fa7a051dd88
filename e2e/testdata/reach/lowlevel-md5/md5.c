/* Checks that OpenSSL is in FIPS mode, then hashes with the low-level MD5
   functions: no provider, no FIPS. */
#include "fips.h"
#include <openssl/md5.h>

int main(void) {
	require_fips("md5-digest");
	MD5_CTX ctx;
	unsigned char d[MD5_DIGEST_LENGTH];
	if (!MD5_Init(&ctx) || !MD5_Update(&ctx, "fipsgate", 8) || !MD5_Final(d, &ctx))
		return 1;
	print_hex("md5", d, sizeof d);
	return 0;
}
