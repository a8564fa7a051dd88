package predicate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fipsgate/fipsgate/internal/probe"
)

// The predicate says how the platform's programs ran, and by how much the
// time limits were scaled.
func TestEmulationRecorded(t *testing.T) {
	static := &probe.Report{Kind: probe.KindStatic, Emulation: &probe.Emulation{
		Emulated: true, Machine: "aarch64", Host: "x86_64", TimeScale: probe.EmulationTimeScale, How: "/usr/bin/openssl (the openssl command) is aarch64: …",
	}}
	p := New(Input{Platform: "linux/arm64", Static: static})
	dt, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `"emulation":{"emulated":true,"machine":"aarch64","host":"x86_64","timeScale":100,"how":"/usr/bin/openssl (the openssl command) is aarch64: …"}`
	if !strings.Contains(string(dt), want) {
		t.Errorf("predicate %s\nwant %s", dt, want)
	}
}
