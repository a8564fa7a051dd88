/* Checks that OpenSSL is in FIPS mode, works for a while without listening
   anywhere, and fails. */
#include "fips.h"
#include <unistd.h>

int main(void) {
	require_fips("late-worker");
	fprintf(stderr, "late-worker: FIPS mode; working\n");
	sleep(4);
	fprintf(stderr, "late-worker: the work failed\n");
	return 3;
}
