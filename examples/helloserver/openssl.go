package main

// A minimal binding to the system OpenSSL (libcrypto 3). All cryptography of
// this server goes through it, so that the OpenSSL FIPS provider, configured
// in the image, is what does it.

/*
#cgo LDFLAGS: -lcrypto
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

static int fips_digest(const char *alg, const unsigned char *in, size_t len,
                       unsigned char *out, unsigned int *outlen) {
	EVP_MD *md = EVP_MD_fetch(NULL, alg, NULL);
	if (md == NULL) return 0;
	int ok = EVP_Digest(in, len, out, outlen, md, NULL);
	EVP_MD_free(md);
	return ok;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// opensslErrors drains OpenSSL's error queue into one error.
func opensslErrors(what string) error {
	var msgs []string
	buf := make([]byte, 256)
	for {
		code := C.ERR_get_error()
		if code == 0 {
			break
		}
		C.ERR_error_string_n(code, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		msgs = append(msgs, C.GoString((*C.char)(unsafe.Pointer(&buf[0]))))
	}
	if len(msgs) == 0 {
		return errors.New(what)
	}
	return fmt.Errorf("%s: %s", what, strings.Join(msgs, "; "))
}

func opensslVersion() string {
	return C.GoString(C.OpenSSL_version(C.OPENSSL_VERSION))
}

// enableFIPS refuses to go on unless OpenSSL runs in FIPS mode: the FIPS
// provider is loaded and active and fips=yes is the default property, so that
// every algorithm fetched comes from it.
func enableFIPS() error {
	if C.OPENSSL_init_crypto(C.OPENSSL_INIT_LOAD_CONFIG, nil) != 1 {
		return opensslErrors("loading the OpenSSL configuration")
	}
	name := C.CString("fips")
	defer C.free(unsafe.Pointer(name))
	if C.OSSL_PROVIDER_available(nil, name) != 1 {
		return opensslErrors("the OpenSSL FIPS provider is not available")
	}
	if C.EVP_default_properties_is_fips_enabled(nil) != 1 {
		return errors.New("FIPS properties are not the default (default_properties = fips=yes is missing)")
	}
	// A provider whose self-test failed is listed but cannot fetch anything.
	if _, err := digest("SHA2-256", []byte("fipsgate")); err != nil {
		return err
	}
	return nil
}

// digest hashes data with the named algorithm, fetched under the default
// (FIPS) properties.
func digest(alg string, data []byte) ([]byte, error) {
	calg := C.CString(alg)
	defer C.free(unsafe.Pointer(calg))
	out := make([]byte, C.EVP_MAX_MD_SIZE)
	var n C.uint
	var in *C.uchar
	if len(data) > 0 {
		in = (*C.uchar)(unsafe.Pointer(&data[0]))
	}
	if C.fips_digest(calg, in, C.size_t(len(data)), (*C.uchar)(unsafe.Pointer(&out[0])), &n) != 1 {
		return nil, opensslErrors(alg + " digest")
	}
	return out[:n], nil
}
