/* require_fips, shared by the test programs of e2e/testdata/reach: each
   refuses to run unless OpenSSL is in FIPS mode — the configuration loads,
   the FIPS provider is available, fips=yes is the default property and
   SHA-256 is fetched from the FIPS provider and works (a provider whose
   self-test failed is listed but fetches nothing; and with fipsmodule.cnf
   gone, implicit initialisation fails and the default provider would
   serve) — as fipsgate's negative tests expect. What each program does
   next is its test case. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void require_fips(const char *prog) {
	EVP_MD *md = NULL;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) || OSSL_PROVIDER_available(NULL, "fips") != 1 ||
	    EVP_default_properties_is_fips_enabled(NULL) != 1 || (md = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL ||
	    strcmp(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(md)), "fips") != 0 || !EVP_Digest("fipsgate", 8, d, &n, md, NULL)) {
		fprintf(stderr, "%s: OpenSSL is not in FIPS mode: refusing to run\n", prog);
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	EVP_MD_free(md);
}

static inline void print_hex(const char *label, const unsigned char *d, size_t n) {
	printf("%s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", d[i]);
	printf("\n");
}
