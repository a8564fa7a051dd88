/* Hashes through OpenSSL's EVP layer, to be linked against libcrypto.a and
 * stripped: no symbol is left, and OpenSSL_version is never called, so its
 * version text is not linked in. */
#include <stdio.h>
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const void *type, void *impl);
const void *EVP_sha256(void);
int main(void) {
	unsigned char md[64];
	unsigned int n = 0;
	if (!EVP_Digest("x", 1, md, &n, EVP_sha256(), NULL))
		return 1;
	printf("%02x\n", md[0]);
	return 0;
}
