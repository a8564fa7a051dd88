/* Stands for a stripped program with OpenSSL linked in: no symbols, but
 * OpenSSL's version text in its read-only data. */
#include <stdio.h>
static const char version[] = "OpenSSL 3.5.9 29 Sep 2026";
int main(void) { return puts(version) < 0; }
