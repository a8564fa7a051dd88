/* Uses only OpenSSL's low-level AES (no EVP, no provider, no error
 * strings), to be linked against libcrypto.a and stripped. */
#include <stdio.h>
typedef struct { unsigned int rd_key[60]; int rounds; } aes_key;
int AES_set_encrypt_key(const unsigned char *key, const int bits, aes_key *k);
void AES_encrypt(const unsigned char *in, unsigned char *out, const aes_key *k);
int main(void) {
	aes_key k;
	unsigned char key[16] = {0}, in[16] = {0}, out[16];
	AES_set_encrypt_key(key, 128, &k);
	AES_encrypt(in, out, &k);
	printf("%02x\n", out[0]);
	return 0;
}
