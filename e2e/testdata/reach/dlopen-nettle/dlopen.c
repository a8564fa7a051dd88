/* Requires FIPS at start, then loads Nettle at run time with dlopen and
   hashes with it through dlsym: nothing in its files imports Nettle, so
   only what it is seen to load gives it away. It stays up as a worker. */
#include "fips.h"
#include <dlfcn.h>
#include <unistd.h>

int main(void) {
	require_fips("dlopen-digest");
	void *h = dlopen("libnettle.so.8", RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "dlopen-digest: %s\n", dlerror());
		return 1;
	}
	void (*init)(void *) = (void (*)(void *))dlsym(h, "nettle_sha256_init");
	void (*update)(void *, size_t, const unsigned char *) = (void (*)(void *, size_t, const unsigned char *))dlsym(h, "nettle_sha256_update");
	void (*digest)(void *, size_t, unsigned char *) = (void (*)(void *, size_t, unsigned char *))dlsym(h, "nettle_sha256_digest");
	if (init == NULL || update == NULL || digest == NULL) {
		fprintf(stderr, "dlopen-digest: %s\n", dlerror());
		return 1;
	}
	unsigned char ctx[512], d[32];
	init(ctx);
	update(ctx, 8, (const unsigned char *)"fipsgate");
	digest(ctx, sizeof d, d);
	print_hex("sha256 (Nettle, loaded at run time)", d, sizeof d);
	fflush(stdout);
	for (;;)
		pause();
}
