package probe

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// ownNetNS marks a test binary running in the network namespace TestMain
// made for it: "new" until its loopback is up, "ready" from then on, for
// the test binaries the tests start in turn.
const ownNetNS = "FIPSGATE_TEST_OWN_NETNS"

// TestMain runs the package's tests in a network namespace of their own,
// as the probe runs in a check container (network none). The probe takes
// any socket that starts listening while the application runs for the
// application's (listeningSockets): in the host's namespace, a listener of
// anything else on the host — another package's tests, a daemon — that
// appears meanwhile would make a command that exits or hangs look like a
// server, and the test fail for no fault of the code.
//
// There is no fallback to the host's namespace: a test that could see the
// host's sockets would pass or fail by chance. Without the privilege to
// make a namespace (root, or unprivileged user namespaces), the tests fail.
func TestMain(m *testing.M) {
	switch os.Getenv(ownNetNS) {
	case "ready":
		os.Exit(m.Run())
	case "new":
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "probe tests: bringing up lo in their network namespace: %v\n", err)
			os.Exit(1)
		}
		os.Setenv(ownNetNS, "ready")
		os.Exit(m.Run())
	}
	os.Exit(inOwnNetNS())
}

// inOwnNetNS runs this test binary again, with the same arguments, in a
// network namespace of its own, and returns its exit status.
func inOwnNetNS() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe tests: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), ownNetNS+"=new")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if os.Getuid() != 0 {
		// Without root, a user namespace of its own allows the network
		// one; there, no other user exists to run a process as.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.Env = append(cmd.Env, "FIPSGATE_TEST_USERNS=1")
	}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	case errors.As(err, &exit):
		fmt.Fprintf(os.Stderr, "probe tests: the test binary in its network namespace: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "probe tests: they run in a network namespace of their own, which needs root or unprivileged user namespaces: %v\n", err)
	return 1
}

// loopbackUp brings up lo, down in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
