package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// A server is not judged on listening alone: one that sets up its crypto
// at its first request listens just the same with the FIPS module broken.
// The probe contacts it as a client would — a TLS handshake, then, for a
// server that does not speak TLS, a request (DefaultRequest, or the
// user's) — and judges what it does: it answers, or it dies.
const (
	// contactTimeout bounds each attempt to reach a server.
	contactTimeout = 2 * time.Second
	// contactGrace is how long a server has to die of what a contact made
	// it do, once the contact is over.
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

// contactOne tries a TLS handshake, then a plain request. reached is false
// when nothing could connect.
func contactOne(ctx context.Context, network, addr, request string) (what string, answered, reached bool) {
	dial := func() (net.Conn, error) {
		d := net.Dialer{Timeout: contactTimeout}
		return d.DialContext(ctx, network, addr)
	}
	conn, err := dial()
	if err != nil {
		return fmt.Sprintf("connecting to %s: %v", addr, err), false, false
	}
	hctx, cancel := context.WithTimeout(ctx, contactTimeout)
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	err = tc.HandshakeContext(hctx)
	cancel()
	if err == nil {
		st := tc.ConnectionState()
		tc.Close()
		return fmt.Sprintf("a TLS handshake with %s completed (%s, %s)", addr, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), true, true
	}
	conn.Close()
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) {
		// No answer to a ClientHello, or the connection dropped: try as a
		// plain server all the same.
		what = fmt.Sprintf("a TLS handshake with %s failed (%v)", addr, err)
	}
	conn, err = dial()
	if err != nil {
		return strings.TrimPrefix(what+"; ", "; ") + fmt.Sprintf("connecting again to %s: %v", addr, err), false, true
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(contactTimeout))
	first, _, _ := strings.Cut(request, "\n")
	prefix := ""
	if what != "" {
		prefix = what + "; "
	}
	if _, err := conn.Write([]byte(request)); err != nil {
		return prefix + fmt.Sprintf("sending %q to %s: %v", strings.TrimSpace(first), addr, err), false, true
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if line == "" {
		return prefix + fmt.Sprintf("%q to %s had no answer (%v)", strings.TrimSpace(first), addr, err), false, true
	}
	return prefix + fmt.Sprintf("%q to %s was answered %q", strings.TrimSpace(first), addr, strings.TrimSpace(excerpt([]byte(line), 1))), true, true
}
