package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestInetAddress(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "127.0.0.1:80",
		"00000000000000000000000000000000:01BB": "[::1]:443",
		"00000000000000000000000001000000:0016": "[::1]:22",
		"0000000000000000FFFF00000100007F:2710": "127.0.0.1:10000",
		"nonsense":                              "",
	} {
		if got := inetAddress(in); got != want {
			t.Errorf("inetAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContactServer(t *testing.T) {
	ctx := context.Background()
	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsServer.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer plain.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			c.Close() // hangs up at once, answering nothing
		}
	}()
	for _, tc := range []struct {
		name     string
		addr     string
		answered bool
		want     string
	}{
		{"TLS", strings.TrimPrefix(tlsServer.URL, "https://"), true, "TLS handshake"},
		{"HTTP", strings.TrimPrefix(plain.URL, "http://"), true, `was answered "HTTP/1.0 200 OK"`},
		{"hangs up", silent.Addr().String(), false, "had no answer"},
		{"nobody there", "127.0.0.1:1", false, "connecting to"},
	} {
		// Well within one attempt's timeout: no server is made to wait it
		// out (a plain one for a line end a ClientHello never sends).
		ctx, cancel := context.WithTimeout(ctx, contactTimeout/2)
		what, answered := contactServer(ctx, []endpoint{{Network: "udp", Address: tc.addr}, {Network: "tcp", Address: tc.addr}}, DefaultRequest)
		cancel()
		if answered != tc.answered || !strings.Contains(what, tc.want) {
			t.Errorf("%s: answered %v: %s", tc.name, answered, what)
		}
	}
}

// A server that dies at its first contact refused to run; one that
// answers ran. No listener but the server's appears meanwhile: the tests
// run in a network namespace of their own (TestMain).
func TestRunContactsAServer(t *testing.T) {
	if mode := os.Getenv("FIPSGATE_TEST_SERVER"); mode != "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(2)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(2)
			}
			if mode == "dies" {
				os.Exit(3) // as a server whose crypto fails at its first use
			}
			fmt.Fprint(c, "HTTP/1.0 200 OK\r\n\r\nok\n")
			c.Close()
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode         string
		refused, ran bool
		exitCode     int
	}{{"dies", true, false, 3}, {"answers", false, true, 0}} {
		env := append(os.Environ(), "FIPSGATE_TEST_SERVER="+tc.mode)
		o := run(context.Background(), command{Args: []string{self, "-test.run=^TestRunContactsAServer$"}, Env: env, Timeout: 20 * time.Second, WatchListen: true, Contact: true, Request: DefaultRequest})
		if !o.Listening || o.Refused() != tc.refused || o.Ran() != tc.ran || o.Contact == "" {
			t.Errorf("%s: %+v: %s", tc.mode, o, o.Describe())
		}
		if tc.refused && (o.ExitCode == nil || *o.ExitCode != tc.exitCode || !o.DiedOnContact) {
			t.Errorf("%s: exit %v, died on contact %v", tc.mode, o.ExitCode, o.DiedOnContact)
		}
	}
}
