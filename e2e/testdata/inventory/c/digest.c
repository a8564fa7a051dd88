/* A C program hashing through the system libcrypto. */
#include <stdio.h>
#include <openssl/evp.h>

int main(void) {
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest("fipsgate", 8, md, &n, EVP_sha256(), NULL)) {
		fprintf(stderr, "SHA-256 failed\n");
		return 1;
	}
	for (unsigned int i = 0; i < n; i++) printf("%02x", md[i]);
	printf("\n");
	return 0;
}
