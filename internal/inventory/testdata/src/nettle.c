/* Stands for Nettle's shared library. */
void nettle_sha256_init(void *ctx) { (void)ctx; }
