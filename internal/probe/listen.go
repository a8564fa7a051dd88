package probe

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
//
// The sockets come from the kernel's sock_diag dumps (sockdiag.go), which
// cost next to nothing where the application runs; run polls this every
// pollInterval. Where a dump cannot be had (a kernel without sock_diag or
// one of its handlers, a seccomp filter that forbids netlink sockets), the
// same sockets are read from /proc/net, whose every read of tcp and tcp6
// walks the kernel's whole established-connection table: milliseconds of
// CPU a read even in an empty namespace. A dump the kernel refused is not
// asked for again; one that failed otherwise is, at the next call.
func listeningSockets() map[string]endpoint {
	sockets := map[string]endpoint{}
	var conn *diagConn
	if diagOff.Load() != allSources {
		var err error
		if conn, err = openDiag(); isRefused(err) {
			diagOff.Store(allSources)
		}
	}
	for i, s := range diagSources {
		if conn != nil && diagOff.Load()&(1<<i) == 0 {
			found := map[string]endpoint{}
			err := conn.listening(s, found)
			if err == nil {
				for inode, e := range found {
					sockets[inode] = e
				}
				continue
			}
			if isRefused(err) {
				// The kernel will not offer this dump later either.
				diagOff.Or(1 << i)
			}
		}
		s.proc.scan(sockets)
	}
	if conn != nil {
		conn.Close()
	}
	return sockets
}

// diagOff has bit i set once diagSources[i]'s dump was refused: from then
// on its sockets are read from /proc/net only.
var diagOff atomic.Uint32

// procNetInterval is how often run reads the listening sockets once a dump
// was refused, rather than at every pollInterval: a read of /proc/net's
// tcp, tcp6, udp, udp6 and unix costs about 9 ms of CPU (measured on
// x86_64, in an empty network namespace, natively and under qemu-user
// alike), a CPU for each check container at pollInterval. A probe that runs
// emulated itself always reads /proc/net: qemu-user refuses the
// NETLINK_SOCK_DIAG sockets of the programs it runs. Seeing a server
// listen up to 100 ms later changes no verdict: every limit is in seconds.
const procNetInterval = 100 * time.Millisecond

// listenDue tells whether the listening sockets are due to be read again,
// last read at last.
func listenDue(last time.Time) bool {
	return diagOff.Load() == 0 || time.Since(last) >= procNetInterval
}

var allSources = uint32(1)<<len(diagSources) - 1

// procListeningSockets returns, by inode, the sockets listening in this
// network namespace as /proc/net says.
func procListeningSockets() map[string]endpoint {
	sockets := map[string]endpoint{}
	for _, s := range diagSources {
		s.proc.scan(sockets)
	}
	return sockets
}

// procSource is a /proc/net file and what in it says listening.
type procSource struct {
	file    string
	network string
	inode   int // the field that holds the socket's inode
	listen  func(fields []string) bool
}

// TCP LISTEN is state 0A; a bound UDP socket without a peer is state 07;
// a listening unix socket has __SO_ACCEPTCON (0x10000) in its flags.
var (
	procTCP  = procSource{"/proc/net/tcp", "tcp", 9, func(f []string) bool { return f[3] == "0A" }}
	procTCP6 = procSource{"/proc/net/tcp6", "tcp6", 9, func(f []string) bool { return f[3] == "0A" }}
	procUDP  = procSource{"/proc/net/udp", "udp", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }}
	procUDP6 = procSource{"/proc/net/udp6", "udp6", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }}
	procUnix = procSource{"/proc/net/unix", "unix", 6, func(f []string) bool { return f[3] == "00010000" }}
)

func (s procSource) scan(into map[string]endpoint) {
	f, err := os.Open(s.file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) <= s.inode || !s.listen(fields) {
			continue
		}
		e := endpoint{Network: s.network}
		if s.network == "unix" {
			if len(fields) > 7 {
				e.Address = fields[7]
			}
		} else {
			e.Address = inetAddress(fields[1])
		}
		into[fields[s.inode]] = e
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
	return inetEndpoint(ip, uint16(port))
}

// inetEndpoint is the address to connect to a socket bound to ip (4 or 16
// bytes) and port: an unspecified address becomes loopback.
func inetEndpoint(ip net.IP, port uint16) string {
	if ip.IsUnspecified() {
		if len(ip) == net.IPv4len {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(port))
}

// newListeners returns the sockets that listen now and did not in before,
// in the order of their networks and addresses (TCP first).
func newListeners(before map[string]endpoint) []endpoint {
	var eps []endpoint
	for inode, e := range listeningSockets() {
		if _, ok := before[inode]; !ok {
			eps = append(eps, e)
		}
	}
	slices.SortFunc(eps, func(a, b endpoint) int {
		return cmp.Or(cmp.Compare(a.Network, b.Network), cmp.Compare(a.Address, b.Address))
	})
	return eps
}
