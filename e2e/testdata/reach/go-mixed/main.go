// Command go-mixed refuses to run unless the system OpenSSL is in FIPS mode,
// then hashes with Go's own crypto/sha256: the check goes through the FIPS
// module, the crypto does not.
package main

/*
#cgo LDFLAGS: -lcrypto
#include "fips.h"
*/
import "C"

import (
	"crypto/sha256"
	"fmt"
)

func main() {
	C.require_fips(C.CString("go-mixed"))
	fmt.Printf("go sha256 %x\n", sha256.Sum256([]byte("fipsgate")))
}
