package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// A server is not judged on listening alone: one that sets up its crypto
// at its first request listens just the same with the FIPS module broken.
// The probe contacts it as a client would — a request (DefaultRequest, or
// the user's), then, for a server whose reply says it speaks TLS, a TLS
// handshake — and judges what it does: it answers, or it dies. Both limits
// are scaled when the image's programs run emulated (scaleTimeLimits).
var (
	// contactTimeout bounds each attempt to reach a server.
	contactTimeout = 2 * time.Second
	// contactGrace is how long a server that did not answer has to die of
	// what the contact made it do.
	contactGrace = 500 * time.Millisecond
)

// DefaultRequest is what a server that does not speak TLS is sent.
const DefaultRequest = "GET / HTTP/1.0\r\nHost: localhost\r\nUser-Agent: fipsgate\r\n\r\n"

// contactServer reaches the first of eps it can (TCP or unix; UDP is not
// tried) and says what it tried and saw, and whether the server answered.
func contactServer(ctx context.Context, eps []endpoint, request string) (string, bool) {
	var tried []string
	for _, e := range eps {
		network := e.Network
		switch network {
		case "tcp", "tcp6", "unix":
		default:
			continue
		}
		if network == "tcp6" {
			network = "tcp"
		}
		what, answered, reached := contactOne(ctx, network, e.Address, request)
		tried = append(tried, what)
		if reached {
			return strings.Join(tried, "; "), answered
		}
	}
	if len(tried) == 0 {
		return "nothing to contact (UDP only)", false
	}
	return strings.Join(tried, "; "), false
}

// contactOne sends the plain request first: a plain server answers it at
// once, where a ClientHello would leave it waiting for a line end. A reply
// that says TLS — a TLS record, an HTTP 400 about HTTPS, or none — sends it
// on to a TLS handshake, which then decides: a TLS server's answer to a
// plain request needs none of its crypto. reached is false when nothing
// could connect.
func contactOne(ctx context.Context, network, addr, request string) (what string, answered, reached bool) {
	plain := plainAttempt(ctx, network, addr, request)
	if !plain.reached || !plain.tlsHint {
		return plain.what, plain.answered, plain.reached
	}
	w, ok, _ := tlsAttempt(ctx, network, addr)
	return plain.what + "; " + w, ok, true
}

// connect dials addr, the connection closed when ctx ends.
func connect(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	return conn, nil
}

func tlsAttempt(ctx context.Context, network, addr string) (string, bool, bool) {
	ctx, cancel := context.WithTimeout(ctx, contactTimeout)
	defer cancel()
	conn, err := connect(ctx, network, addr)
	if err != nil {
		return fmt.Sprintf("connecting to %s: %v", addr, err), false, false
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Sprintf("a TLS handshake with %s failed (%v)", addr, err), false, true
	}
	st := tc.ConnectionState()
	return fmt.Sprintf("a TLS handshake with %s completed (%s, %s)", addr, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), true, true
}

// plain is what a plain request to a server showed.
type plain struct {
	what              string
	answered, reached bool
	// tlsHint: the reply suggests a TLS server.
	tlsHint bool
}

func plainAttempt(ctx context.Context, network, addr, request string) plain {
	ctx, cancel := context.WithTimeout(ctx, contactTimeout)
	defer cancel()
	conn, err := connect(ctx, network, addr)
	if err != nil {
		return plain{what: fmt.Sprintf("connecting to %s: %v", addr, err)}
	}
	defer conn.Close()
	first, _, _ := strings.Cut(request, "\n")
	first = strings.TrimSpace(first)
	if _, err := conn.Write([]byte(request)); err != nil {
		return plain{what: fmt.Sprintf("sending %q to %s: %v", first, addr, err), reached: true, tlsHint: true}
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	switch {
	case line == "":
		return plain{what: fmt.Sprintf("%q to %s had no answer (%v)", first, addr, err), reached: true, tlsHint: true}
	case line[0] == 0x15 || line[0] == 0x16:
		return plain{what: fmt.Sprintf("%q to %s was answered with a TLS record", first, addr), reached: true, tlsHint: true}
	}
	p := plain{what: fmt.Sprintf("%q to %s was answered %q", first, addr, strings.TrimSpace(excerpt([]byte(line), 1))), answered: true, reached: true}
	if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "HTTP/") && f[1] == "400" {
		// Servers that speak TLS say so in the body of this 400.
		_ = conn.SetReadDeadline(time.Now().Add(contactTimeout / 10))
		body := make([]byte, 1024)
		n, _ := io.ReadFull(br, body)
		p.tlsHint = strings.Contains(strings.ToUpper(string(body[:n])), "HTTPS")
	}
	return p
}
