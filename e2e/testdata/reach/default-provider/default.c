/* Checks that OpenSSL is in FIPS mode, then loads the default provider and
   fetches MD5 from it with fips=no, overriding the configuration's
   default_properties = fips=yes. */
#include "fips.h"

int main(void) {
	require_fips("default-digest");
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	OSSL_PROVIDER *def = OSSL_PROVIDER_load(NULL, "default");
	EVP_MD *md = def ? EVP_MD_fetch(NULL, "MD5", "provider=default,fips=no") : NULL;
	if (md == NULL || !EVP_Digest("fipsgate", 8, d, &n, md, NULL)) {
		fprintf(stderr, "default-digest: MD5 from the default provider failed\n");
		ERR_print_errors_fp(stderr);
		return 1;
	}
	print_hex("md5 (default provider)", d, n);
	EVP_MD_free(md);
	return 0;
}
