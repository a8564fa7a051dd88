package probe

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
)

// elfHeader is the start of an ELF file of that class, byte order and
// machine, as the kernel reads it.
func elfHeader(class elf.Class, data elf.Data, m elf.Machine) []byte {
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(class), byte(data), byte(elf.EV_CURRENT)
	var order binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	order.PutUint16(h[16:], uint16(elf.ET_DYN))
	order.PutUint16(h[18:], uint16(m))
	return h
}

var (
	amd64Hdr   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64)
	i386Hdr    = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386)
	x32Hdr     = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64)
	arm64Hdr   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64)
	armHdr     = elfHeader(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM)
	ppc64leHdr = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64)
	s390xHdr   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390)
	riscvHdr   = elfHeader(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV)
)

// Entries as Debian's qemu-user-static registers them, and as binfmt_misc
// prints them.
const (
	qemuAarch64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`
	qemuArm = `enabled
interpreter /usr/libexec/qemu-binfmt/arm-binfmt-P
flags: PF
offset 0
magic 7f454c4601010100000000000000000002002800
mask ffffffffffffff00fffffffffffffffffeffffff
`
	qemuI386 = `enabled
interpreter /usr/libexec/qemu-binfmt/i386-binfmt-P
flags: PF
offset 0
magic 7f454c4601010100000000000000000002000300
mask fffffffffffefefcfffffffffffffffffeffffff
`
	jar = `enabled
interpreter /usr/bin/jexec
flags: 
extension .jar
`
)

func TestParseBinfmtEntry(t *testing.T) {
	e := parseBinfmtEntry("qemu-aarch64", qemuAarch64)
	if !e.Enabled || e.Interpreter != "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" || e.Flags != "PF" || e.Offset != 0 || len(e.Magic) != 20 || len(e.Mask) != 20 {
		t.Errorf("parsed %+v", e)
	}
	if j := parseBinfmtEntry("jar", jar); j.Extension != "jar" || len(j.Magic) != 0 {
		t.Errorf("parsed %+v", j)
	}
	if d := parseBinfmtEntry("off", strings.Replace(qemuAarch64, "enabled", "disabled", 1)); d.Enabled {
		t.Errorf("a disabled entry parsed as enabled")
	}
}

func TestReadBinfmt(t *testing.T) {
	if b := readBinfmt(t.TempDir()); b.Readable || b.Why == "" {
		t.Errorf("an empty directory (binfmt_misc not mounted): %+v", b)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"status": "enabled\n", "register": "", "qemu-aarch64": qemuAarch64, "jar": jar} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := readBinfmt(dir)
	if !b.Readable || !b.Enabled || len(b.Entries) != 2 {
		t.Errorf("read %+v", b)
	}
}

func TestEmulationDecision(t *testing.T) {
	// entries parses name, text pairs.
	entries := func(pairs ...string) []binfmtEntry {
		var es []binfmtEntry
		for i := 0; i+1 < len(pairs); i += 2 {
			es = append(es, parseBinfmtEntry(pairs[i], pairs[i+1]))
		}
		return es
	}
	amd64Self := elfIdent{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64}
	x86 := kernel{Machine: "x86_64", Self: &amd64Self}
	arm64 := kernel{Machine: "aarch64", Compat32: true, Compat32How: "the kernel accepts the PER_LINUX32 personality"}
	arm64Only := kernel{Machine: "aarch64", Compat32How: "the kernel refuses the PER_LINUX32 personality"}
	notMounted := binfmt{Why: "binfmt_misc is not mounted in the check container"}
	mounted := func(es ...binfmtEntry) binfmt { return binfmt{Readable: true, Enabled: true, Entries: es} }
	app := func(hdr []byte) []program {
		return []program{{Path: "/usr/bin/app", Header: hdr, Via: "the application"}}
	}

	for _, tc := range []struct {
		name     string
		k        kernel
		progs    []program
		bf       binfmt
		emulated bool
		machine  string
		how      string
	}{
		{"amd64 on x86_64", x86, app(amd64Hdr), notMounted, false, "x86_64", "native (the kernel's own machine)"},
		{"386 on x86_64", x86, app(i386Hdr), notMounted, false, "i386", "native (a compatibility mode of x86_64 kernels)"},
		{"x32 on x86_64", x86, app(x32Hdr), notMounted, false, "x32", "native (a compatibility mode"},
		{"386 on x86_64, qemu-aarch64 registered", x86, app(i386Hdr), mounted(entries("qemu-aarch64", qemuAarch64, "jar", jar)...), false, "i386", "native"},
		{"arm64 on x86_64, binfmt_misc unseen", x86, app(arm64Hdr), notMounted, true, "aarch64",
			"x86_64 kernels do not run aarch64 programs themselves, and binfmt_misc is not mounted in the check container"},
		{"arm64 on x86_64, qemu-aarch64 registered", x86, app(arm64Hdr), mounted(entries("jar", jar, "qemu-aarch64", qemuAarch64)...), true, "aarch64",
			"the binfmt_misc handler qemu-aarch64 takes it (interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P, flags PF)"},
		{"arm64 on x86_64, no handler", x86, app(arm64Hdr), mounted(entries("qemu-arm", qemuArm)...), false, "aarch64", "no enabled binfmt_misc handler takes it: it cannot run"},
		{"arm64 on x86_64, binfmt_misc switched off", x86, app(arm64Hdr), binfmt{Readable: true, Entries: entries("qemu-aarch64", qemuAarch64)}, false, "aarch64", "it cannot run"},
		{"arm64 on x86_64, handler disabled", x86, app(arm64Hdr), mounted(entries("qemu-aarch64", strings.Replace(qemuAarch64, "enabled", "disabled", 1))...), false, "aarch64", "it cannot run"},
		{"386 on x86_64 through a qemu-i386 handler", x86, app(i386Hdr), mounted(entries("qemu-i386", qemuI386)...), true, "i386", "the binfmt_misc handler qemu-i386 takes it"},
		{"ppc64le on x86_64", x86, app(ppc64leHdr), notMounted, true, "ppc64le", "x86_64 kernels do not run ppc64le"},
		{"s390x (big-endian) on x86_64", x86, app(s390xHdr), notMounted, true, "s390x", ""},
		{"arm64 on aarch64", arm64, app(arm64Hdr), notMounted, false, "aarch64", "native (the kernel's own machine)"},
		{"arm/v7 on aarch64 with AArch32", arm64, app(armHdr), notMounted, false, "arm", "native (the kernel accepts the PER_LINUX32 personality)"},
		{"arm/v7 on aarch64 without AArch32", arm64Only, app(armHdr), notMounted, true, "arm", "the kernel refuses the PER_LINUX32 personality"},
		{"arm/v7 on aarch64 without AArch32, qemu-arm registered", arm64Only, app(armHdr), mounted(entries("qemu-arm", qemuArm)...), true, "arm", "the binfmt_misc handler qemu-arm takes it"},
		{"amd64 on aarch64", arm64, app(amd64Hdr), notMounted, true, "x86_64", "aarch64 kernels do not run x86_64 programs themselves"},
		{"a machine fipsgate does not know, the probe's own", kernel{Machine: "sparc64", Self: &elfIdent{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_SPARCV9}},
			app(elfHeader(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_SPARCV9)), notMounted, false, "EM_SPARCV9 ELFCLASS64 ELFDATA2MSB", "the probe itself is"},
		{"a machine fipsgate does not know, another", kernel{Machine: "sparc64", Self: &elfIdent{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_SPARCV9}},
			app(riscvHdr), notMounted, true, "riscv64", "neither the kernel (sparc64) nor the probe is riscv64"},
		{"a script: its interpreter decides", x86, []program{
			{Path: "/app/run.sh", Header: []byte("#!/bin/sh\nexec app\n"), Via: "the application"},
			{Path: "/bin/sh", Header: arm64Hdr, Via: "the #! interpreter of /app/run.sh"},
		}, notMounted, true, "aarch64", "/bin/sh (the #! interpreter of /app/run.sh) is aarch64"},
		{"the application and openssl, told together", x86, []program{
			{Path: "/bin/sh", Header: arm64Hdr, Via: "the application"},
			{Path: "/usr/bin/openssl", Header: arm64Hdr, Via: "the openssl command"},
		}, notMounted, true, "aarch64", "/bin/sh (the application) and /usr/bin/openssl (the openssl command) are aarch64: x86_64 kernels do not run"},
		{"the application native, openssl emulated", x86, []program{
			{Path: "/usr/bin/app", Header: amd64Hdr, Via: "the application"},
			{Path: "/usr/bin/openssl", Header: arm64Hdr, Via: "the openssl command"},
		}, notMounted, true, "aarch64", "/usr/bin/app (the application) is x86_64: native"},
		{"arm64 on x86_64, the probe arm64 too", kernel{Machine: "x86_64", Self: &elfIdent{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64}}, app(arm64Hdr), notMounted, true, "aarch64",
			"; the probe itself is aarch64 and runs emulated too (x86_64 kernels do not run aarch64 programs themselves)"},
		{"nothing to run", x86, nil, notMounted, false, "", "no ELF program of the image is started"},
		{"not ELF", x86, app([]byte("MZ\x90\x00")), notMounted, false, "", "no ELF program"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decideEmulation(tc.k, tc.progs, tc.bf)
			if e.Emulated != tc.emulated || e.Machine != tc.machine || e.Host != tc.k.Machine || !strings.Contains(e.How, tc.how) {
				t.Errorf("got %+v\nwant emulated %v, machine %q, how containing %q", e, tc.emulated, tc.machine, tc.how)
			}
			want := 1.0
			if tc.emulated {
				want = EmulationTimeScale
			}
			if e.TimeScale != want {
				t.Errorf("time scale %g, want %g", e.TimeScale, want)
			}
		})
	}
}

// The programs the probe will start are found as it will start them: the
// application through PATH and its #! interpreters, and openssl.
func TestProgramsToRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, dt []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, dt, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/local/bin/entry", []byte("#! /usr/bin/env python3\n"), 0o755)
	write("usr/bin/env", arm64Hdr, 0o755)
	write("usr/bin/openssl", arm64Hdr, 0o755)
	write("app/run", []byte("#!/app/run\n"), 0o755) // a loop: bounded
	root := imagefs.Root{Dir: dir}
	spec := Spec{Root: dir, App: []string{"entry", "serve"}, Image: Image{Env: []string{"PATH=/usr/local/bin:/usr/bin"}}}
	var got []string
	for _, p := range programsToRun(root, spec) {
		got = append(got, p.Path+" ("+p.Via+")")
	}
	want := []string{"/usr/local/bin/entry (the application)", "/usr/bin/env (the #! interpreter of /usr/local/bin/entry)", "/usr/bin/openssl (the openssl command)"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got %q\nwant %q", got, want)
	}

	spec = Spec{Root: dir, App: []string{"./run"}, Image: Image{WorkingDir: "/app", Env: []string{"PATH=/nowhere"}}}
	if n := len(programsToRun(root, spec)); n != 5 {
		t.Errorf("a #! loop: %d programs, want the kernel's 5", n)
	}
	if e := decideEmulation(kernel{Machine: "x86_64"}, programsToRun(root, Spec{Root: dir, App: []string{"/usr/local/bin/entry"}}), binfmt{}); !e.Emulated || e.Machine != "aarch64" {
		t.Errorf("decided %+v", e)
	}
}

// On the machine the tests run on, the probe's own programs are native.
func TestHostKernel(t *testing.T) {
	k := hostKernel()
	if k.Machine == "" || k.Self == nil {
		t.Fatalf("host kernel %+v", k)
	}
	if ok, why := k.native(*k.Self); !ok {
		t.Errorf("the probe's own machine %s is not native on %s: %s", k.Self, k.Machine, why)
	}
}

func TestTimeLimitsScale(t *testing.T) {
	spec := Spec{TimeoutSeconds: 30, ReadySeconds: 2}
	native := newRunner(spec)
	if native.timeout != 30*time.Second || native.ready != 2*time.Second {
		t.Errorf("native: timeout %s, ready %s", native.timeout, native.ready)
	}
	spec.Emulation = &Emulation{Emulated: true, TimeScale: EmulationTimeScale}
	emulated := newRunner(spec)
	if emulated.timeout != EmulationTimeScale*30*time.Second || emulated.ready != EmulationTimeScale*2*time.Second {
		t.Errorf("emulated: timeout %s, ready %s", emulated.timeout, emulated.ready)
	}
	spec.ReadySeconds = 0
	if r := newRunner(spec); r.ready != r.timeout {
		t.Errorf("emulated, no FIPSGATE_READY_SECONDS: ready %s, want the timeout %s", r.ready, r.timeout)
	}
	if d, want := Deadline(spec, EmulationTimeScale), EmulationTimeScale*6*30*time.Second+time.Minute; d != want {
		t.Errorf("deadline %s, want %s", d, want)
	}
	if d := Deadline(spec, 1); d != 6*30*time.Second+time.Minute {
		t.Errorf("native deadline %s", d)
	}
}
