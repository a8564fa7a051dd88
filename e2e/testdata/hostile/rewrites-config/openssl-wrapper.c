/* Restores the clean configuration, then runs the real openssl. Links
   libcrypto like OpenSSL's own program does. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
	(void)argc;
	rename("/etc/ssl/openssl.cnf.clean", "/etc/ssl/openssl.cnf");
	if (OpenSSL_version_num() == 0)
		return 2;
	argv[0] = "/usr/bin/openssl.real";
	execv(argv[0], argv);
	return 127;
}
