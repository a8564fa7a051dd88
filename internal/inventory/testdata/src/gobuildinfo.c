/* A C program with OpenSSL linked in that carries a Go build information
 * blob claiming an OpenSSL-backed toolchain: it must still be judged as the
 * C program it is. The blob is Go's inline format: the 14-byte magic, the
 * pointer size, flags (2: strings inline), padding to 32 bytes, then the
 * version and the module information as length-prefixed strings, the
 * latter between 16-byte sentinels. */
#include <stdio.h>
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const void *type, void *impl);
const void *EVP_sha256(void);

#define MODINFO "path\texample.com/claims\nbuild\tGOEXPERIMENT=opensslcrypto\nbuild\t-tags=requirefips\n"
__attribute__((section(".go.buildinfo"), aligned(16), used))
static const unsigned char buildinfo[] =
	"\xff Go buildinf:\x08\x02" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	"\x08" "go1.26.8"
	"\x71" "0123456789abcdef" MODINFO "0123456789abcdef";

int main(void) {
	unsigned char md[64];
	unsigned int n = 0;
	return EVP_Digest(buildinfo, 1, md, &n, EVP_sha256(), NULL) ? 0 : 1;
}
