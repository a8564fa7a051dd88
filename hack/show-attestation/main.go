// Command show-attestation prints the fipsgate attestations of an image in
// the dev registry (plain HTTP), for the demo: each platform manifest of the
// index and the in-toto statement attached to it.
//
//	go run ./hack/show-attestation 127.0.0.1:5000/examples/helloserver:latest
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/fipsgate/fipsgate/predicate"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func get(url, accept string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dt, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return dt, err
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: show-attestation HOST:PORT/REPOSITORY:TAG")
		os.Exit(2)
	}
	if err := show(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "show-attestation:", err)
		os.Exit(1)
	}
}

func show(ref string) error {
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	base := "http://" + host + "/v2/" + repo
	dt, err := get(base+"/manifests/"+tag, ocispecs.MediaTypeImageIndex)
	if err != nil {
		return err
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		return err
	}
	found := 0
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			continue
		}
		dt, err := get(base+"/manifests/"+d.Digest.String(), ocispecs.MediaTypeImageManifest)
		if err != nil {
			return err
		}
		var m ocispecs.Manifest
		if err := json.Unmarshal(dt, &m); err != nil {
			return err
		}
		for _, l := range m.Layers {
			if l.Annotations["in-toto.io/predicate-type"] != predicate.Type {
				continue
			}
			st, err := get(base+"/blobs/"+l.Digest.String(), "*/*")
			if err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, st, "", "  "); err != nil {
				return err
			}
			fmt.Printf("fipsgate attestation for manifest %s:\n%s\n", d.Annotations["vnd.docker.reference.digest"], out.String())
			found++
		}
	}
	if found == 0 {
		return fmt.Errorf("%s carries no fipsgate attestation", ref)
	}
	return nil
}
