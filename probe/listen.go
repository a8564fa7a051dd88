package probe

import (
	"bufio"
	"os"
	"strings"
)

// listeningSockets returns the inodes of the sockets listening in this
// network namespace. Check containers have a network namespace of their
// own (network none), so a socket that was not there before the
// application started is the application's. Mapping sockets to processes
// through /proc/PID/fd would need CAP_SYS_PTRACE for an application that
// runs as another user, which check containers do not have.
func listeningSockets() map[string]bool {
	inodes := map[string]bool{}
	// TCP LISTEN is state 0A; a bound UDP socket without a peer is state 07;
	// a listening unix socket has __SO_ACCEPTCON (0x10000) in its flags.
	for _, t := range []struct {
		file   string
		inode  int
		listen func(fields []string) bool
	}{
		{"/proc/net/tcp", 9, func(f []string) bool { return f[3] == "0A" }},
		{"/proc/net/tcp6", 9, func(f []string) bool { return f[3] == "0A" }},
		{"/proc/net/udp", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }},
		{"/proc/net/udp6", 9, func(f []string) bool { return f[3] == "07" && strings.HasSuffix(f[2], ":0000") }},
		{"/proc/net/unix", 6, func(f []string) bool { return f[3] == "00010000" }},
	} {
		scanSockets(t.file, t.inode, t.listen, inodes)
	}
	return inodes
}

func scanSockets(file string, inodeField int, isListening func([]string) bool, into map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > inodeField && isListening(fields) {
			into[fields[inodeField]] = true
		}
	}
}

// newListener tells whether a socket listens now that did not in before.
func newListener(before map[string]bool) bool {
	for inode := range listeningSockets() {
		if !before[inode] {
			return true
		}
	}
	return false
}
