package probe

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketInode is the inode of a socket of this process, the key of
// listeningSockets.
func socketInode(t testing.TB, c syscall.Conn) string {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return strconv.FormatUint(st.Ino, 10)
}

// openSockets opens sockets of every kind in this process: those that
// listen, by inode, with the endpoint a reader must return for each, and
// the inodes of those that do not listen. wildcard binds the listeners to
// unspecified addresses, which the readers return as loopback.
func openSockets(t *testing.T, wildcard bool) (listening map[string]endpoint, others []string) {
	t.Helper()
	listening = map[string]endpoint{}
	check := func(c interface {
		syscall.Conn
		Close() error
	}, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return socketInode(t, c)
	}
	v4, v6 := "127.0.0.1", "::1"
	if wildcard {
		v4, v6 = "0.0.0.0", "::"
	}

	// TCP: a listener, and both ends of a connection to it.
	tl, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.ParseIP(v4)})
	inode := check(tl, err)
	listening[inode] = endpoint{"tcp", fmt.Sprintf("127.0.0.1:%d", tl.Addr().(*net.TCPAddr).Port)}
	client, err := net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tl.Addr().(*net.TCPAddr).Port})
	others = append(others, check(client, err))
	server, err := tl.AcceptTCP()
	others = append(others, check(server, err))

	// UDP: a bound socket, and one connected to it.
	ul, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(v4)})
	inode = check(ul, err)
	listening[inode] = endpoint{"udp", fmt.Sprintf("127.0.0.1:%d", ul.LocalAddr().(*net.UDPAddr).Port)}
	uc, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ul.LocalAddr().(*net.UDPAddr).Port})
	others = append(others, check(uc, err))

	// IPv6, where the machine has it.
	if tl6, err := net.ListenTCP("tcp6", &net.TCPAddr{IP: net.ParseIP(v6)}); err == nil {
		inode = check(tl6, err)
		listening[inode] = endpoint{"tcp6", fmt.Sprintf("[::1]:%d", tl6.Addr().(*net.TCPAddr).Port)}
		ul6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP(v6)})
		inode = check(ul6, err)
		listening[inode] = endpoint{"udp6", fmt.Sprintf("[::1]:%d", ul6.LocalAddr().(*net.UDPAddr).Port)}
	} else {
		t.Logf("no IPv6: %v", err)
	}

	// Unix: a listener on a path, one on an abstract address, a
	// connection to the first, and a datagram socket (which never listens).
	path := t.TempDir() + "/listener"
	pl, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	inode = check(pl, err)
	listening[inode] = endpoint{"unix", path}
	abstract := fmt.Sprintf("@fipsgate-sockdiag-test-%d", os.Getpid())
	al, err := net.ListenUnix("unix", &net.UnixAddr{Name: abstract, Net: "unix"})
	inode = check(al, err)
	listening[inode] = endpoint{"unix", abstract}
	pc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	others = append(others, check(pc, err))
	dg, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: abstract + "-dgram", Net: "unixgram"})
	others = append(others, check(dg, err))
	return listening, others
}

// dumpAll reads every diagSource through sock_diag, failing the test on
// any error: this kernel has sock_diag.
func dumpAll(t testing.TB) map[string]endpoint {
	t.Helper()
	c, err := openDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	found := map[string]endpoint{}
	for _, s := range diagSources {
		if err := c.listening(s, found); err != nil {
			t.Fatalf("%s: %v", s.network, err)
		}
	}
	return found
}

// Both readers see the sockets of this process as listening or not alike.
// Other processes' sockets in this namespace may come and go between the
// reads: only this process's are compared, and those both readers saw.
func TestListeningSocketReadersAgree(t *testing.T) {
	want, others := openSockets(t, false)
	diag, proc, either := dumpAll(t), procListeningSockets(), listeningSockets()
	if off := diagOff.Load(); off != 0 {
		t.Errorf("sock_diag turned off for sources %05b", off)
	}
	for name, got := range map[string]map[string]endpoint{"sock_diag": diag, "/proc/net": proc, "listeningSockets": either} {
		for inode, e := range want {
			if got[inode] != e {
				t.Errorf("%s: socket %s is %+v, want %+v", name, inode, got[inode], e)
			}
		}
		for _, inode := range others {
			if e, ok := got[inode]; ok {
				t.Errorf("%s: socket %s (%+v) does not listen", name, inode, e)
			}
		}
	}
	for inode, e := range diag {
		if p, ok := proc[inode]; ok && p != e {
			t.Errorf("socket %s: sock_diag %+v, /proc/net %+v", inode, e, p)
		}
	}
}

// In a network namespace of its own, as a check container has, both
// readers return exactly the sockets the process opened.
func TestListeningSocketsInANetworkNamespace(t *testing.T) {
	if os.Getenv("FIPSGATE_TEST_SOCKDIAG_NETNS") == "1" {
		if err := loopbackUp(); err != nil {
			t.Fatal(err)
		}
		want, _ := openSockets(t, true)
		for name, got := range map[string]map[string]endpoint{"sock_diag": dumpAll(t), "/proc/net": procListeningSockets(), "listeningSockets": listeningSockets()} {
			if !maps.Equal(got, want) {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
		if off := diagOff.Load(); off != 0 {
			t.Errorf("sock_diag turned off for sources %05b", off)
		}
		// The new listeners come in a fixed order: TCP first.
		eps := newListeners(nil)
		if len(eps) != len(want) || eps[0].Network != "tcp" || !slices.IsSortedFunc(eps, func(a, b endpoint) int {
			return cmp.Or(cmp.Compare(a.Network, b.Network), cmp.Compare(a.Address, b.Address))
		}) {
			t.Errorf("new listeners %v", eps)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestListeningSocketsInANetworkNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), "FIPSGATE_TEST_SOCKDIAG_NETNS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if os.Getuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("in a network namespace: %v\n%s", err, out)
	}
}

// nlmsg builds a netlink message of type typ and sequence seq.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	l := unix.NLMSG_HDRLEN + len(payload)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint32(b[0:], uint32(l))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_MULTI)
	binary.NativeEndian.PutUint32(b[8:], seq)
	copy(b[unix.NLMSG_HDRLEN:], payload)
	return b
}

func inetDiagMsg(family, state uint8, src net.IP, sport, dport uint16, inode uint32) []byte {
	m := make([]byte, sizeofInetDiagMsg+8) // and an attribute's worth, ignored
	m[0], m[1] = family, state
	binary.BigEndian.PutUint16(m[4:], sport)
	binary.BigEndian.PutUint16(m[6:], dport)
	copy(m[8:], src)
	binary.NativeEndian.PutUint32(m[68:], inode)
	return m
}

func unixDiagMsg(state uint8, inode uint32, name []byte) []byte {
	m := make([]byte, sizeofUnixDiagMsg)
	m[0], m[1], m[2] = unix.AF_UNIX, unix.SOCK_STREAM, state
	binary.NativeEndian.PutUint32(m[4:], inode)
	if name != nil {
		a := make([]byte, (unix.SizeofRtAttr+len(name)+3)&^3)
		binary.NativeEndian.PutUint16(a[0:], uint16(unix.SizeofRtAttr+len(name)))
		binary.NativeEndian.PutUint16(a[2:], unixDiagName)
		copy(a[unix.SizeofRtAttr:], name)
		m = append(m, a...)
	}
	return m
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// What the kernel answers is decoded as it says, in the states asked for.
func TestSockDiagDecode(t *testing.T) {
	done := nlmsg(unix.NLMSG_DONE, 7, make([]byte, 4))
	for _, tc := range []struct {
		source int
		data   []byte
		want   map[string]endpoint
	}{
		{0, concat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpListen, net.IPv4(0, 0, 0, 0).To4(), 8080, 0, 11)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpListen, net.IPv4(10, 1, 2, 3).To4(), 443, 0, 12)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, 1, net.IPv4(10, 1, 2, 3).To4(), 443, 5555, 13)),
			done),
			map[string]endpoint{"11": {"tcp", "127.0.0.1:8080"}, "12": {"tcp", "10.1.2.3:443"}}},
		{1, concat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET6, tcpListen, net.IPv6unspecified, 8443, 0, 21)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET6, tcpListen, net.ParseIP("fe80::1"), 22, 0, 22)),
			done),
			map[string]endpoint{"21": {"tcp6", "[::1]:8443"}, "22": {"tcp6", "[fe80::1]:22"}}},
		{2, concat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpClose, net.IPv4(127, 0, 0, 1).To4(), 53, 0, 31)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpClose, net.IPv4(127, 0, 0, 1).To4(), 54, 53, 32)),
			done),
			map[string]endpoint{"31": {"udp", "127.0.0.1:53"}}},
		{4, concat(
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, unixDiagMsg(tcpListen, 41, []byte("/run/app.sock\x00"))),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, unixDiagMsg(tcpListen, 42, []byte("\x00abs\x00tract"))),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, unixDiagMsg(tcpListen, 43, nil)),
			nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, unixDiagMsg(tcpClose, 44, []byte("/run/dgram\x00"))),
			done),
			map[string]endpoint{"41": {"unix", "/run/app.sock"}, "42": {"unix", "@abs\x00tract"}, "43": {"unix", ""}}},
	} {
		d := diagDump{source: diagSources[tc.source], seq: 7, into: map[string]endpoint{}}
		if err := d.parse(tc.data); err != nil || !d.done || !maps.Equal(d.into, tc.want) {
			t.Errorf("%s: %v, done %v, %v; want %v", diagSources[tc.source].network, err, d.done, d.into, tc.want)
		}
	}
}

// A malformed answer is an error, never a panic nor a socket.
func TestSockDiagMalformed(t *testing.T) {
	good := nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpListen, net.IPv4(127, 0, 0, 1).To4(), 80, 0, 1))
	withLen := func(b []byte, l uint32) []byte {
		b = append([]byte(nil), b...)
		binary.NativeEndian.PutUint32(b, l)
		return b
	}
	errMsg := make([]byte, 4+unix.NLMSG_HDRLEN)
	enoent := -int32(unix.ENOENT)
	binary.NativeEndian.PutUint32(errMsg, uint32(enoent))
	badAttr := unixDiagMsg(tcpListen, 5, []byte("/x\x00"))
	binary.NativeEndian.PutUint16(badAttr[sizeofUnixDiagMsg:], 200)
	for name, tc := range map[string]struct {
		source int
		data   []byte
	}{
		"short header":        {0, good[:10]},
		"length under header": {0, withLen(good, 8)},
		"length past data":    {0, withLen(good, uint32(len(good)+4))},
		"short inet_diag_msg": {0, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, make([]byte, 40))},
		"other family":        {1, good},
		"other sequence":      {0, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 8, inetDiagMsg(unix.AF_INET, tcpListen, net.IPv4(127, 0, 0, 1).To4(), 80, 0, 1))},
		"unknown type":        {0, nlmsg(0x99, 7, nil)},
		"error":               {0, nlmsg(unix.NLMSG_ERROR, 7, errMsg)},
		"short error":         {0, nlmsg(unix.NLMSG_ERROR, 7, []byte{1})},
		"overrun":             {0, nlmsg(unix.NLMSG_OVERRUN, 7, nil)},
		"short unix_diag_msg": {4, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, make([]byte, 8))},
		"attribute past data": {4, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, badAttr)},
		"short attribute":     {4, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, append(unixDiagMsg(tcpListen, 5, nil), 1, 0))},
		"after done":          {0, concat(nlmsg(unix.NLMSG_DONE, 7, make([]byte, 4)), good)},
	} {
		d := diagDump{source: diagSources[tc.source], seq: 7, into: map[string]endpoint{}}
		err := d.parse(tc.data)
		if err == nil {
			t.Errorf("%s: no error; %v", name, d.into)
		}
		if name == "error" && !isRefused(err) {
			t.Errorf("%s: %v is not a refusal", name, err)
		}
	}
}

func FuzzSockDiagParse(f *testing.F) {
	f.Add(0, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, inetDiagMsg(unix.AF_INET, tcpListen, net.IPv4(127, 0, 0, 1).To4(), 80, 0, 1)))
	f.Add(4, nlmsg(unix.SOCK_DIAG_BY_FAMILY, 7, unixDiagMsg(tcpListen, 41, []byte("/run/app.sock\x00"))))
	f.Add(1, nlmsg(unix.NLMSG_DONE, 7, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, source int, data []byte) {
		if source < 0 || source >= len(diagSources) {
			return
		}
		d := diagDump{source: diagSources[source], seq: 7, into: map[string]endpoint{}}
		_ = d.parse(data)
	})
}

// go test -bench Listening ./probe/ compares the two readers; run in a
// network namespace of its own (unshare -n), it measures what a check
// container's probe pays at every poll.
func BenchmarkListeningSockets(b *testing.B) {
	b.Run("sock_diag", func(b *testing.B) {
		for b.Loop() {
			dumpAll(b)
		}
	})
	b.Run("proc", func(b *testing.B) {
		for b.Loop() {
			procListeningSockets()
		}
	})
}

// A dump the kernel does not offer is a refusal, and a source whose dump
// was refused is read from /proc/net.
func TestSockDiagRefusalFallsBack(t *testing.T) {
	c, err := openDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bogus := diagSource{"tcp", unix.AF_INET, 254, tcpListen, procTCP} // an experimental protocol: no handler
	if err := c.listening(bogus, map[string]endpoint{}); !isRefused(err) {
		t.Errorf("dump of protocol %d: %v, want a refusal", bogus.protocol, err)
	}

	want, _ := openSockets(t, false)
	defer diagOff.Store(diagOff.Load())
	diagOff.Store(allSources)
	got := listeningSockets()
	for inode, e := range want {
		if got[inode] != e {
			t.Errorf("from /proc/net: socket %s is %+v, want %+v", inode, got[inode], e)
		}
	}
}

// Once a dump was refused, the sockets are read from /proc/net at most every
// procNetInterval; while the dumps work, at every poll.
func TestListenDue(t *testing.T) {
	defer diagOff.Store(diagOff.Load())
	diagOff.Store(0)
	if !listenDue(time.Now()) {
		t.Errorf("with sock_diag: not due at once")
	}
	diagOff.Store(1)
	if listenDue(time.Now()) {
		t.Errorf("from /proc/net: due at once")
	}
	if !listenDue(time.Now().Add(-procNetInterval)) || !listenDue(time.Time{}) {
		t.Errorf("from /proc/net: not due after %s", procNetInterval)
	}
}
