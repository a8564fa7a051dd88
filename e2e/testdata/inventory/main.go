// A program that hashes with Go's crypto/sha256: what that hash runs on
// depends on how it was built (Go's own code, BoringCrypto, the FIPS module).
package main

import (
	"crypto/sha256"
	"fmt"
)

func main() {
	fmt.Printf("%x\n", sha256.Sum256([]byte("fipsgate")))
}
