/* A TLS server on libssl that refuses to start unless OpenSSL is in FIPS
   mode; then, on port 8443, it completes a TLS handshake with each client
   (one at a time), answers an HTTP request if one comes, and carries on
   with the next client whatever the last one did. */
#include "fips.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(void) {
	require_fips("tls-server");
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, "/etc/tls-server/cert.pem") != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, "/etc/tls-server/key.pem", SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "tls-server: cannot set up TLS\n");
		ERR_print_errors_fp(stderr);
		return 1;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8443)};
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8))
		return 2;
	fprintf(stderr, "tls-server: FIPS mode; listening on 8443\n");
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		SSL *ssl = SSL_new(ctx);
		if (ssl != NULL && SSL_set_fd(ssl, c) == 1 && SSL_accept(ssl) == 1) {
			fprintf(stderr, "tls-server: handshake completed (%s, %s)\n", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
			char buf[1024];
			if (SSL_read(ssl, buf, sizeof buf) > 0) {
				static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello over TLS in FIPS mode\n";
				SSL_write(ssl, reply, sizeof reply - 1);
			}
			SSL_shutdown(ssl);
		} else {
			fprintf(stderr, "tls-server: handshake failed\n");
			ERR_print_errors_fp(stderr);
		}
		ERR_clear_error();
		SSL_free(ssl);
		close(c);
	}
}
