// Command helloserver is an HTTP server whose cryptography is OpenSSL's, in
// FIPS mode. It refuses to start when OpenSSL cannot give it a working FIPS
// provider, as the seed procedure expects of a FIPS application.
//
// It speaks just enough HTTP/1.x, over package net, for its two endpoints:
//
//	GET /          a greeting that names the OpenSSL it runs on
//	POST /sha256   the SHA-256 of the request body, computed by the FIPS provider
//
// It does not use net/http: that links crypto/tls and with it Go's own
// crypto, which nothing here would route to the FIPS module. No crypto/*
// package is in the binary; all of its crypto is the system OpenSSL's.
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// maxLine bounds each line of the request's header, maxHeader all of
	// it, maxBody the body.
	maxLine   = 16 << 10
	maxHeader = 64 << 10
	maxBody   = 1 << 20
	// connTimeout bounds each connection, from accept to the last byte.
	connTimeout = 30 * time.Second
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("helloserver: %s, FIPS provider active; listening on %s", opensslVersion(), addr)
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			log.Fatal(err)
		}
		go serve(c)
	}
}

// request is what the server reads of an HTTP request.
type request struct {
	method, path, proto string
	body                []byte
}

// httpError is an error with the status that answers it.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// serve answers one request on c and closes it.
func serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(connTimeout))
	r, err := readRequest(bufio.NewReaderSize(c, maxLine), c)
	if err != nil {
		status := 400
		var he *httpError
		if errors.As(err, &he) {
			status = he.status
		}
		respond(c, "HTTP/1.1", "GET", status, err.Error()+"\n")
		return
	}
	switch {
	case r.path == "/sha256":
		// POST a body to get its SHA-256, computed by the FIPS provider.
		sum, err := digest("SHA2-256", r.body)
		if err != nil {
			respond(c, r.proto, r.method, 500, err.Error()+"\n")
			return
		}
		respond(c, r.proto, r.method, 200, hex.EncodeToString(sum)+"\n")
	default:
		respond(c, r.proto, r.method, 200, fmt.Sprintf("hello from %s in FIPS mode\n", opensslVersion()))
	}
}

// readRequest reads the request line, the headers and the body (by
// Content-Length or chunked), answering Expect: 100-continue on w.
func readRequest(br *bufio.Reader, w io.Writer) (*request, error) {
	headerBytes := 0
	next := func() (string, error) {
		line, err := readLine(br)
		if headerBytes += len(line) + 2; headerBytes > maxHeader {
			return "", &httpError{431, "the request's header is over " + strconv.Itoa(maxHeader) + " bytes"}
		}
		return line, err
	}
	line, err := next()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/1.") {
		return nil, &httpError{400, "malformed request line"}
	}
	r := &request{method: f[0], path: f[1], proto: f[2]}
	if u, err := urlPath(r.path); err == nil {
		r.path = u
	}
	header := map[string]string{}
	for {
		line, err := next()
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, &httpError{400, "malformed header line"}
		}
		header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if strings.EqualFold(header["expect"], "100-continue") && r.proto != "HTTP/1.0" {
		if _, err := io.WriteString(w, r.proto+" 100 Continue\r\n\r\n"); err != nil {
			return nil, err
		}
	}
	switch te := strings.ToLower(header["transfer-encoding"]); {
	case te == "chunked":
		r.body, err = readChunked(br)
	case te != "":
		return nil, &httpError{501, "transfer-encoding " + te + " is not supported"}
	case header["content-length"] != "":
		n, perr := strconv.ParseInt(header["content-length"], 10, 64)
		switch {
		case perr != nil || n < 0:
			return nil, &httpError{400, "malformed Content-Length"}
		case n > maxBody:
			return nil, &httpError{413, "the body is over " + strconv.Itoa(maxBody) + " bytes"}
		}
		r.body = make([]byte, n)
		_, err = io.ReadFull(br, r.body)
	}
	return r, err
}

// readLine reads one CRLF- (or LF-) terminated line, without its end, of
// at most the reader's buffer size.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return "", &httpError{431, "a line of the request is over " + strconv.Itoa(br.Size()) + " bytes"}
	case err == io.EOF:
		return "", &httpError{400, "the request ended early"}
	case err != nil:
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// readChunked reads a chunked body, at most maxBody bytes of it.
func readChunked(br *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return nil, &httpError{400, "malformed chunk size"}
		}
		if int64(len(body))+n > maxBody {
			return nil, &httpError{413, "the body is over " + strconv.Itoa(maxBody) + " bytes"}
		}
		if n == 0 {
			// Trailers, up to the blank line.
			for {
				line, err := readLine(br)
				if err != nil || line == "" {
					return body, err
				}
			}
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, err
		}
		body = append(body, chunk...)
		if line, err := readLine(br); err != nil || line != "" {
			return nil, &httpError{400, "malformed chunk"}
		}
	}
}

// urlPath is the path of a request target: origin form (/p?q) or
// absolute form (http://host/p?q).
func urlPath(target string) (string, error) {
	if i := strings.Index(target, "://"); i >= 0 {
		rest := target[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			target = rest[j:]
		} else {
			target = "/"
		}
	}
	if !strings.HasPrefix(target, "/") {
		return "", errors.New("not a path")
	}
	p, _, _ := strings.Cut(target, "?")
	return p, nil
}

// respond writes a complete text/plain response and says the connection
// closes after it.
func respond(w io.Writer, proto, method string, status int, body string) {
	text := map[int]string{200: "OK", 400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented"}[status]
	if proto != "HTTP/1.0" {
		proto = "HTTP/1.1"
	}
	head := fmt.Sprintf("%s %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", proto, status, text, len(body))
	if method == "HEAD" {
		body = ""
	}
	_, _ = io.WriteString(w, head+body)
}
