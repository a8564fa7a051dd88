package probe

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// endpoint is a socket that listens: its network ("tcp", "tcp6", "udp",
// "udp6", "unix") and the address to reach it at.
type endpoint struct {
	Network string `json:"network"`
	Address string `json:"address"`
}

// listeningSockets returns, by inode, the sockets listening in this
// network namespace. Check containers have a network namespace of their
// own (network none), so a socket that was not there before the
// application started is the application's. Mapping sockets to processes
// through /proc/PID/fd would need CAP_SYS_PTRACE for an application that
// runs as another user, which check containers do not have.
func listeningSockets() map[string]endpoint {
	sockets := map[string]endpoint{}
	// TCP LISTEN is state 0A; a bound UDP socket without a peer is state 07;
	// a listening unix socket has __SO_ACCEPTCON (0x10000) in its flags.
	for _, t := range []struct {
		file    string
		network string
		inode   int
		listen  func(fields []string) bool
	}{
		{"/proc/net/tcp", "tcp", 9, func(f []string) bool { return f[3] == "0A" }},
		{"/proc/net/tcp6", "tcp6", 9, func(f []string) bool { return f[3] == "0A" }},
		{"/proc/net/udp", "udp", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }},
		{"/proc/net/udp6", "udp6", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }},
		{"/proc/net/unix", "unix", 6, func(f []string) bool { return f[3] == "00010000" }},
	} {
		scanSockets(t.file, t.network, t.inode, t.listen, sockets)
	}
	return sockets
}

func scanSockets(file, network string, inodeField int, isListening func([]string) bool, into map[string]endpoint) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) <= inodeField || !isListening(fields) {
			continue
		}
		e := endpoint{Network: network}
		if network == "unix" {
			if len(fields) > 7 {
				e.Address = fields[7]
			}
		} else {
			e.Address = inetAddress(fields[1])
		}
		into[fields[inodeField]] = e
	}
}

// inetAddress turns /proc/net/tcp's local_address ("0100007F:1F90", the
// address in the kernel's byte order) into one to connect to: an
// unspecified address becomes loopback.
func inetAddress(s string) string {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return ""
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return ""
	}
	ip := make(net.IP, len(raw))
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	if ip.IsUnspecified() {
		if len(raw) == 4 {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(port))
}

// newListeners returns the sockets that listen now and did not in before.
func newListeners(before map[string]endpoint) []endpoint {
	var eps []endpoint
	for inode, e := range listeningSockets() {
		if _, ok := before[inode]; !ok {
			eps = append(eps, e)
		}
	}
	return eps
}
