/* Hashes through libcrypto; prototypes declared here so that no OpenSSL
 * headers are needed to build the fixture. */
#include <stdio.h>
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const void *type, void *impl);
const void *EVP_sha256(void);
int main(void) {
	unsigned char md[64];
	unsigned int n = 0;
	return EVP_Digest("x", 1, md, &n, EVP_sha256(), NULL) ? 0 : 1;
}
