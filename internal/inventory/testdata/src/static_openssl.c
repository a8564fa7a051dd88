/* Stands for a program with OpenSSL linked in statically: it defines
 * OpenSSL's init function itself. */
int OPENSSL_init_crypto(unsigned long opts, const void *settings) { return opts == 0 && settings == 0; }
int main(void) { return OPENSSL_init_crypto(0, 0) ? 0 : 1; }
