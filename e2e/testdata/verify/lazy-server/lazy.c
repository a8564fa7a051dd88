/* A server that sets up its crypto at its first request, as many do: it
   listens at once, and only when a client arrives does it initialise
   OpenSSL, make sure FIPS is in force and fetch SHA-256 from the FIPS
   provider — exiting non-zero when any of that fails (the FIPS module
   broken) and answering with the digest otherwise. (Fetching alone is not
   enough: with fipsmodule.cnf gone, OpenSSL's implicit initialisation
   fails, no provider is activated, and the default provider serves.) */
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8))
		return 2;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			return 2;
		EVP_MD *md = NULL;
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) || !EVP_default_properties_is_fips_enabled(NULL) ||
		    (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
		    strcmp(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(md)), "fips") != 0 ||
		    !EVP_Digest("fipsgate", 8, d, &n, md, NULL)) {
			fprintf(stderr, "lazy-server: SHA-256 is not available: refusing to serve\n");
			return 1;
		}
		EVP_MD_free(md);
		char out[128];
		int len = snprintf(out, sizeof out, "HTTP/1.0 200 OK\r\n\r\nsha256 %02x%02x%02x%02x...\n", d[0], d[1], d[2], d[3]);
		write(c, out, len);
		close(c);
	}
}
