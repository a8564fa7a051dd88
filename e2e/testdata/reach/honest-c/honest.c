/* Checks that OpenSSL is in FIPS mode, hashes with SHA-256 and HMACs with
   SHA-384 through EVP (fetched under the default properties: the FIPS
   provider), makes sure MD5 is refused, and exits 0. */
#include "fips.h"

int main(void) {
	require_fips("honest-digest");
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest("fipsgate", 8, d, &n, EVP_sha256(), NULL))
		return 1;
	print_hex("sha256", d, n);

	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	char digest[] = "SHA2-384";
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
	size_t len = 0;
	if (ctx == NULL || !EVP_MAC_init(ctx, (const unsigned char *)"a key of 17 bytes", 17, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)"fipsgate", 8) || !EVP_MAC_final(ctx, d, &len, sizeof d))
		return 1;
	print_hex("hmac-sha384", d, len);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);

	EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	if (md5 != NULL) {
		fprintf(stderr, "honest-digest: MD5 is available: OpenSSL is not enforcing FIPS\n");
		return 1;
	}
	ERR_clear_error();
	return 0;
}
