// Command helloserver is an HTTP server whose cryptography is OpenSSL's, in
// FIPS mode. It refuses to start when OpenSSL cannot give it a working FIPS
// provider, as the seed procedure expects of a FIPS application.
package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
)

func main() {
	if err := enableFIPS(); err != nil {
		fmt.Fprintf(os.Stderr, "helloserver: can't enable FIPS mode for %s: %v\n", opensslVersion(), err)
		os.Exit(1)
	}
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s in FIPS mode\n", opensslVersion())
	})
	// POST a body to get its SHA-256, computed by the FIPS provider.
	http.HandleFunc("/sha256", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum, err := digest("SHA2-256", body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, hex.EncodeToString(sum))
	})
	log.Printf("helloserver: %s, FIPS provider active; listening on %s", opensslVersion(), addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
