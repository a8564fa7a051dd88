package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The kernel's sock_diag netlink interface (NETLINK_SOCK_DIAG, requests of
// type SOCK_DIAG_BY_FAMILY) dumps the sockets of the caller's network
// namespace. Unlike /proc/net/tcp, whose every read walks the whole
// established-connection hash table (262,144 buckets on a common machine,
// some milliseconds each read, even in a namespace with no socket at all),
// a dump asked for listening TCP sockets only walks the listening hash: the
// kernel (net/ipv4/tcp_diag.c tcp_diag_dump, inet_diag_dump_icsk in
// net/ipv4/inet_diag.c before it) skips the bound-but-inactive and the
// established tables when idiag_states has no bit but TCPF_LISTEN.
//
// The structures below are the kernel's (include/uapi/linux/inet_diag.h,
// include/uapi/linux/unix_diag.h), encoded and decoded by hand: all
// fields are host byte order except the ports and addresses of
// inet_diag_sockid, which are network order.

const (
	// tcpListen and tcpClose are the kernel's TCP_LISTEN and TCP_CLOSE
	// states (include/net/tcp_states.h). A listening unix stream socket is
	// in TCP_LISTEN too; a bound UDP socket is in TCP_CLOSE until it is
	// connected (TCP_ESTABLISHED).
	tcpListen = 10
	tcpClose  = 7

	// sizeofInetDiagReqV2 is struct inet_diag_req_v2: sdiag_family,
	// sdiag_protocol, idiag_ext, pad (u8 each), idiag_states (u32), id
	// (struct inet_diag_sockid, 48 bytes).
	sizeofInetDiagReqV2 = 56
	// sizeofInetDiagMsg is struct inet_diag_msg: idiag_family,
	// idiag_state, idiag_timer, idiag_retrans (u8 each), id (struct
	// inet_diag_sockid: idiag_sport, idiag_dport (be16), idiag_src[4],
	// idiag_dst[4] (be32), idiag_if, idiag_cookie[2] (u32)), idiag_expires,
	// idiag_rqueue, idiag_wqueue, idiag_uid, idiag_inode (u32 each).
	sizeofInetDiagMsg = 72
	// sizeofUnixDiagReq is struct unix_diag_req: sdiag_family,
	// sdiag_protocol (u8), pad (u16), udiag_states, udiag_ino, udiag_show,
	// udiag_cookie[2] (u32 each).
	sizeofUnixDiagReq = 24
	// sizeofUnixDiagMsg is struct unix_diag_msg: udiag_family,
	// udiag_type, udiag_state, pad (u8 each), udiag_ino, udiag_cookie[2]
	// (u32 each); its attributes follow.
	sizeofUnixDiagMsg = 16

	// udiagShowName (UDIAG_SHOW_NAME) asks for each unix socket's address,
	// returned as the attribute unixDiagName (UNIX_DIAG_NAME): the bytes
	// of sun_path the socket was bound to.
	udiagShowName = 0x1
	unixDiagName  = 0

	// diagRecvSize is the receive buffer. The kernel sizes a dump's
	// messages to the reader's buffer, up to a little under 32 KiB
	// (net/netlink/af_netlink.c netlink_recvmsg, netlink_dump); a larger
	// message (MSG_TRUNC) is an error.
	diagRecvSize = 32 << 10
	// diagMaxSockets bounds what one dump may return before it counts as
	// malformed; far more than any image's application opens.
	diagMaxSockets = 1 << 20
)

// diagSource is one dump: the sockets of a family and protocol in the
// states that mean listening, and the /proc/net file that lists the same
// sockets (listen.go), read when the dump cannot be had.
type diagSource struct {
	network  string // endpoint.Network
	family   uint8  // AF_INET, AF_INET6, AF_UNIX
	protocol uint8  // IPPROTO_TCP, IPPROTO_UDP; 0 for AF_UNIX
	state    uint8  // the one state asked for and accepted
	proc     procSource
}

var diagSources = []diagSource{
	{"tcp", unix.AF_INET, unix.IPPROTO_TCP, tcpListen, procTCP},
	{"tcp6", unix.AF_INET6, unix.IPPROTO_TCP, tcpListen, procTCP6},
	{"udp", unix.AF_INET, unix.IPPROTO_UDP, tcpClose, procUDP},
	{"udp6", unix.AF_INET6, unix.IPPROTO_UDP, tcpClose, procUDP6},
	{"unix", unix.AF_UNIX, 0, tcpListen, procUnix},
}

// errDiagRefused marks a failure that says the kernel does not offer the
// dump (no sock_diag, no handler for that family or protocol, a seccomp
// filter that forbids netlink sockets): it will not offer it later either.
var errDiagRefused = errors.New("sock_diag refused")

// diagConn is a NETLINK_SOCK_DIAG socket of the caller's network
// namespace.
type diagConn struct {
	fd  int
	seq uint32
	buf []byte
}

var diagBufs = sync.Pool{New: func() any { b := make([]byte, diagRecvSize); return &b }}

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("%w: netlink socket: %v", errDiagRefused, err)
		}
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// A dump ends with NLMSG_DONE; should it not come, the wait is
	// bounded all the same.
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	c := &diagConn{fd: fd}
	c.buf = *diagBufs.Get().(*[]byte)
	return c, nil
}

func (c *diagConn) Close() {
	unix.Close(c.fd)
	b := c.buf
	diagBufs.Put(&b)
	c.buf = nil
}

// listening dumps s's listening sockets into into, keyed by inode.
func (c *diagConn) listening(s diagSource, into map[string]endpoint) error {
	c.seq++
	var body []byte
	if s.family == unix.AF_UNIX {
		body = make([]byte, sizeofUnixDiagReq)
		body[0] = unix.AF_UNIX
		binary.NativeEndian.PutUint32(body[4:], 1<<s.state)     // udiag_states
		binary.NativeEndian.PutUint32(body[12:], udiagShowName) // udiag_show
	} else {
		body = make([]byte, sizeofInetDiagReqV2)
		body[0], body[1] = s.family, s.protocol
		binary.NativeEndian.PutUint32(body[4:], 1<<s.state) // idiag_states
		// id stays zero: any port, any address.
	}
	req := make([]byte, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], c.seq)
	copy(req[unix.NLMSG_HDRLEN:], body)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}

	d := diagDump{source: s, seq: c.seq, into: into}
	for !d.done {
		n, _, flags, from, err := unix.Recvmsg(c.fd, c.buf, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return errors.New("netlink receive: message truncated")
		}
		// Only the kernel (port 0) answers a dump; anything else that
		// reached this socket is no evidence.
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue
		}
		if err := d.parse(c.buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// diagDump decodes the answer to one dump request.
type diagDump struct {
	source diagSource
	seq    uint32
	into   map[string]endpoint
	count  int
	done   bool
}

// parse decodes one datagram of netlink messages. Every length is checked
// against what was received: a malformed answer is an error.
func (d *diagDump) parse(b []byte) error {
	for len(b) > 0 {
		if d.done {
			return errors.New("sock_diag: data after NLMSG_DONE")
		}
		if len(b) < unix.NLMSG_HDRLEN {
			return fmt.Errorf("sock_diag: %d bytes left, short of a message header", len(b))
		}
		l := binary.NativeEndian.Uint32(b[0:])
		typ := binary.NativeEndian.Uint16(b[4:])
		seq := binary.NativeEndian.Uint32(b[8:])
		if l < unix.NLMSG_HDRLEN || uint64(l) > uint64(len(b)) {
			return fmt.Errorf("sock_diag: message length %d of %d bytes", l, len(b))
		}
		if seq != d.seq {
			return fmt.Errorf("sock_diag: message of sequence %d, want %d", seq, d.seq)
		}
		payload := b[unix.NLMSG_HDRLEN:l]
		switch typ {
		case unix.NLMSG_NOOP:
		case unix.NLMSG_DONE:
			// Its payload, when there is one, is the dump's error: a
			// dump that could not start ends at once with it.
			if len(payload) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(payload)); errno != 0 {
					return d.kernelError(errno)
				}
			}
			d.done = true
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return errors.New("sock_diag: short error message")
			}
			errno := int32(binary.NativeEndian.Uint32(payload))
			if errno == 0 {
				break // an acknowledgement
			}
			return d.kernelError(errno)
		case unix.SOCK_DIAG_BY_FAMILY:
			if d.count++; d.count > diagMaxSockets {
				return fmt.Errorf("sock_diag: more than %d sockets", diagMaxSockets)
			}
			var err error
			if d.source.family == unix.AF_UNIX {
				err = d.unixSocket(payload)
			} else {
				err = d.inetSocket(payload)
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("sock_diag: message of type %d", typ)
		}
		// Messages are 4-byte aligned; the last may end the datagram
		// without its padding.
		next := nlmsgAlign(l)
		if next >= uint64(len(b)) {
			break
		}
		b = b[next:]
	}
	return nil
}

// kernelError is the error the kernel answered (errno is negative): one
// that says it has no such dump is a refusal.
func (d *diagDump) kernelError(errno int32) error {
	e := unix.Errno(-errno)
	switch e {
	case unix.ENOENT, unix.EOPNOTSUPP, unix.EINVAL, unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.EPERM, unix.EACCES:
		return fmt.Errorf("%w: %s: %v", errDiagRefused, d.source.network, e)
	}
	return fmt.Errorf("sock_diag: %s: %v", d.source.network, e)
}

func nlmsgAlign(l uint32) uint64 { return (uint64(l) + 3) &^ 3 }

// inetSocket decodes a struct inet_diag_msg.
func (d *diagDump) inetSocket(m []byte) error {
	if len(m) < sizeofInetDiagMsg {
		return fmt.Errorf("sock_diag: inet_diag_msg of %d bytes", len(m))
	}
	family, state := m[0], m[1]
	if family != d.source.family {
		return fmt.Errorf("sock_diag: %s dump returned family %d", d.source.network, family)
	}
	if state != d.source.state {
		return nil
	}
	sport := binary.BigEndian.Uint16(m[4:])
	dport := binary.BigEndian.Uint16(m[6:])
	src := m[8:24]
	inode := binary.NativeEndian.Uint32(m[68:])
	// A UDP socket counts only without a remote peer, as in /proc/net/udp.
	if d.source.protocol == unix.IPPROTO_UDP && dport != 0 {
		return nil
	}
	ip := net.IP(src[:16])
	if family == unix.AF_INET {
		ip = net.IP(src[:4])
	}
	d.into[strconv.FormatUint(uint64(inode), 10)] = endpoint{Network: d.source.network, Address: inetEndpoint(ip, sport)}
	return nil
}

// unixSocket decodes a struct unix_diag_msg and its attributes.
func (d *diagDump) unixSocket(m []byte) error {
	if len(m) < sizeofUnixDiagMsg {
		return fmt.Errorf("sock_diag: unix_diag_msg of %d bytes", len(m))
	}
	family, state := m[0], m[2]
	if family != unix.AF_UNIX {
		return fmt.Errorf("sock_diag: unix dump returned family %d", family)
	}
	if state != d.source.state {
		return nil
	}
	inode := binary.NativeEndian.Uint32(m[4:])
	e := endpoint{Network: "unix"}
	for attrs := m[sizeofUnixDiagMsg:]; len(attrs) > 0; {
		if len(attrs) < unix.SizeofRtAttr {
			return fmt.Errorf("sock_diag: %d bytes left, short of an attribute", len(attrs))
		}
		l := binary.NativeEndian.Uint16(attrs[0:])
		typ := binary.NativeEndian.Uint16(attrs[2:])
		if l < unix.SizeofRtAttr || int(l) > len(attrs) {
			return fmt.Errorf("sock_diag: attribute length %d of %d bytes", l, len(attrs))
		}
		if typ&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER) == unixDiagName {
			e.Address = unixAddress(attrs[unix.SizeofRtAttr:l])
		}
		next := nlmsgAlign(uint32(l))
		if next >= uint64(len(attrs)) {
			break
		}
		attrs = attrs[next:]
	}
	d.into[strconv.FormatUint(uint64(inode), 10)] = e
	return nil
}

// unixAddress is the address to dial a unix socket bound to sun_path:
// a path up to its terminating NUL, or, for an abstract address (a
// leading NUL), "@" and the name's bytes as they are (/proc/net/unix
// shows each NUL in the name as "@").
func unixAddress(sunPath []byte) string {
	if len(sunPath) == 0 {
		return ""
	}
	if sunPath[0] == 0 {
		return "@" + string(sunPath[1:])
	}
	for i, c := range sunPath {
		if c == 0 {
			return string(sunPath[:i])
		}
	}
	return string(sunPath)
}

func isRefused(err error) bool { return errors.Is(err, errDiagRefused) }
