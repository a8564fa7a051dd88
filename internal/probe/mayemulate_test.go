package probe

import (
	"testing"

	"github.com/containerd/platforms"
)

// The frontend waits longer for a platform its builder may run only
// emulated; its own platform, and one its kernel runs beside it, it does not.
func TestMayBeEmulated(t *testing.T) {
	self := platforms.Format(platforms.DefaultSpec())
	if MayBeEmulated(self) {
		t.Errorf("%s, the frontend's own platform, may be emulated", self)
	}
	foreign := "linux/s390x"
	if platforms.DefaultSpec().Architecture == "s390x" {
		foreign = "linux/riscv64"
	}
	if !MayBeEmulated(foreign) {
		t.Errorf("%s may not be emulated on %s", foreign, self)
	}
	if platforms.DefaultSpec().Architecture == "amd64" && MayBeEmulated("linux/386") {
		t.Errorf("linux/386 may be emulated on %s", self)
	}
	if !MayBeEmulated("not a platform/") {
		t.Errorf("an unparsable platform is taken for native")
	}
}
