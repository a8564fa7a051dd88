package probe

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fipsgate/fipsgate/internal/imagefs"
	"github.com/fipsgate/fipsgate/internal/inventory"
	"golang.org/x/sys/unix"
)

// The probe is the builder's own binary and runs natively; the image's
// programs, which it starts, run as the kernel allows: natively, or, for a
// machine the kernel cannot run (linux/arm64 on an x86_64 builder), through
// an emulator the host registered with binfmt_misc (qemu-user). Emulated,
// everything they do takes tens of times as long, and limits meant for
// native speed would judge the machine rather than the image: a worker
// still starting its FIPS self-tests would be "still running" when its time
// is up, a refusal would come after the timeout. So the probe decides,
// before anything of the image runs, whether its programs will run
// emulated, and if they will, scales every time limit by EmulationTimeScale.
// The checks themselves are unchanged; the reports, and the predicate, say
// what was decided, how, and by how much the limits were scaled.

// EmulationTimeScale multiplies every time limit of a platform whose
// programs run under emulation: FIPSGATE_TIMEOUT_SECONDS,
// FIPSGATE_READY_SECONDS, the server contact's timeouts and the check
// container's deadline. It is the slowdown measured under qemu-user (arm64
// on x86_64) of what the checks run — openssl loading the FIPS provider and
// running its self-tests — rounded up: the README's Options section gives
// the measurement.
const EmulationTimeScale = 100

// Emulation says how the image's programs run in the check containers.
type Emulation struct {
	// Emulated is true when they run through an emulator.
	Emulated bool `json:"emulated"`
	// Machine is the image programs' machine ("aarch64", "i386"), Host the
	// kernel's (uname -m).
	Machine string `json:"machine,omitempty"`
	Host    string `json:"host"`
	// TimeScale is the factor applied to every time limit: 1 when native,
	// EmulationTimeScale when emulated.
	TimeScale float64 `json:"timeScale"`
	// How says what the decision rests on.
	How string `json:"how"`
}

// Scale returns d scaled by the time scale (a zero Emulation: native).
func (e *Emulation) Scale(d time.Duration) time.Duration {
	if e == nil || e.TimeScale <= 1 {
		return d
	}
	return time.Duration(float64(d) * e.TimeScale)
}

// scaleTimeLimits scales the probe's own time limits, those that are not
// the spec's. The probe serves one spec per process: Main calls it once,
// before anything runs.
func scaleTimeLimits(e *Emulation) {
	contactTimeout = e.Scale(contactTimeout)
	contactGrace = e.Scale(contactGrace)
}

// binfmtDir is where binfmt_misc is mounted, when it is.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// DetectEmulation decides how the programs the probe will start for spec
// run — the application (through its #! interpreters) and the image's
// openssl command — from their ELF headers, read in the image before
// anything of it runs, against what this kernel runs: its own machine and
// its compatibility modes, and the handlers registered with binfmt_misc
// when the container can see them.
func DetectEmulation(spec Spec) Emulation {
	root := imagefs.Root{Dir: spec.Root}
	return decideEmulation(hostKernel(), programsToRun(root, spec), readBinfmt(binfmtDir))
}

// elfIdent is what decides which kernel code runs a program: its ELF
// class, byte order and machine.
type elfIdent inventory.ELFIdent

// machineNames names ELF identities as uname -m names the machines.
var machineNames = map[elfIdent]string{
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64}:    "x86_64",
	{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64}:    "x32",
	{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386}:       "i386",
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64}:   "aarch64",
	{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_AARCH64}:   "aarch64_be",
	{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM}:       "arm",
	{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_ARM}:       "armeb",
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64}:     "ppc64le",
	{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64}:     "ppc64",
	{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_PPC}:       "ppc",
	{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390}:      "s390x",
	{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_S390}:      "s390",
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV}:     "riscv64",
	{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_RISCV}:     "riscv32",
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH}: "loongarch64",
	{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS}:      "mips64el",
	{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_MIPS}:      "mips64",
	{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_MIPS}:      "mipsel",
	{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS}:      "mips",
}

func (id elfIdent) String() string {
	if n, ok := machineNames[id]; ok {
		return n
	}
	return fmt.Sprintf("%s %s %s", id.Machine, id.Class, id.Data)
}

// nativeTo lists, by uname machine, what a kernel of that machine runs
// itself: its own programs and those of its compatibility modes. 32-bit
// ARM on aarch64 is native only where the CPUs execute it (kernel.compat32).
var nativeTo = map[string][]string{
	"x86_64":      {"x86_64", "i386", "x32"},
	"i386":        {"i386"},
	"i486":        {"i386"},
	"i586":        {"i386"},
	"i686":        {"i386"},
	"aarch64":     {"aarch64"},
	"armv6l":      {"arm"},
	"armv7l":      {"arm"},
	"armv8l":      {"arm"},
	"ppc64le":     {"ppc64le"},
	"ppc64":       {"ppc64", "ppc"},
	"s390x":       {"s390x", "s390"},
	"riscv64":     {"riscv64"},
	"loongarch64": {"loongarch64"},
	"mips64":      {"mips64", "mips"},
	"mips64el":    {"mips64el", "mipsel"},
}

// kernel is what the probe knows of the kernel it runs on.
type kernel struct {
	// Machine is uname -m.
	Machine string
	// Self is the probe's own ELF identity, which the kernel runs natively.
	Self *elfIdent
	// Compat32, on aarch64, says whether it runs 32-bit ARM programs, and
	// Compat32How how that was found.
	Compat32    bool
	Compat32How string
}

// native tells whether k runs id itself, and why.
func (k kernel) native(id elfIdent) (bool, string) {
	name := id.String()
	if k.Machine == "aarch64" && name == "arm" {
		return k.Compat32, k.Compat32How
	}
	if names, known := nativeTo[k.Machine]; known {
		for _, n := range names {
			if n == name && n == k.Machine {
				return true, "the kernel's own machine"
			}
			if n == name {
				return true, "a compatibility mode of " + k.Machine + " kernels"
			}
		}
		return false, k.Machine + " kernels do not run " + name + " programs themselves"
	}
	// A machine fipsgate does not know: the probe's own is native.
	if k.Self != nil && *k.Self == id {
		return true, "the probe itself is " + name
	}
	return false, "neither the kernel (" + k.Machine + ") nor the probe is " + name
}

// hostKernel describes the running kernel. Its machine is read from
// kernel.arch where the kernel has it, which an emulator running the probe
// itself does not answer for, as it does for uname(2).
func hostKernel() kernel {
	var k kernel
	if dt, err := os.ReadFile("/proc/sys/kernel/arch"); err == nil {
		k.Machine = strings.TrimSpace(string(dt))
	}
	var u unix.Utsname
	if k.Machine == "" && unix.Uname(&u) == nil {
		k.Machine = unix.ByteSliceToString(u.Machine[:])
	}
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			hdr := make([]byte, 64)
			n, _ := io.ReadFull(f, hdr)
			f.Close()
			if id, ok := parseELFIdent(hdr[:n]); ok {
				k.Self = &id
			}
		}
	}
	if k.Machine == "aarch64" {
		k.Compat32, k.Compat32How = compat32()
	}
	return k
}

// perLinux32 is PER_LINUX32 of <linux/personality.h>.
const perLinux32 = 0x0008

// compat32 tells whether an arm64 kernel runs 32-bit ARM programs: it
// refuses the PER_LINUX32 personality (EINVAL) where its CPUs cannot. The
// personality is the calling thread's, set back at once.
func compat32() (bool, string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno != 0 {
		return false, "personality(2) failed: " + errno.Error()
	}
	_, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, perLinux32, 0, 0)
	if errno != 0 {
		return false, "the kernel refuses the PER_LINUX32 personality (" + errno.Error() + "): its CPUs do not run 32-bit ARM programs"
	}
	_, _, _ = unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
	return true, "the kernel accepts the PER_LINUX32 personality: its CPUs run 32-bit ARM programs"
}

// parseELFIdent reads the ELF identity from the start of a file.
func parseELFIdent(hdr []byte) (elfIdent, bool) {
	id, ok := inventory.ParseELFIdent(hdr)
	return elfIdent(id), ok
}

// headerSize is what the kernel reads of a program to choose its handler
// (BINPRM_BUF_SIZE).
const headerSize = 256

// program is one program of the image the probe will start.
type program struct {
	Path string // in the image
	// Header is its first bytes, as the kernel reads them.
	Header []byte
	// Via is what starts it ("the application", "#! of /app/run.sh").
	Via string
}

// programsToRun lists the image's programs the probe will start: the
// application, its #! interpreters as the kernel would follow them, and
// the image's openssl command. What cannot be read is left out: a program
// that cannot be read cannot be run either.
func programsToRun(root imagefs.Root, spec Spec) []program {
	env := envMap(spec.Image.Env)
	var progs []program
	if len(spec.App) > 0 {
		p, via := inventory.LookPath(root, spec.App[0], env, orRoot(spec.Image.WorkingDir)), "the application"
		// The kernel follows at most four interpreters (BINPRM_MAX_RECURSION).
		for depth := 0; p != "" && depth <= 4; depth++ {
			hdr, err := readHeader(root, p)
			if err != nil {
				break
			}
			progs = append(progs, program{Path: p, Header: hdr, Via: via})
			interp := shebang(hdr)
			if interp == "" {
				break
			}
			p, via = interp, "the #! interpreter of "+p
		}
	}
	if p := inventory.LookPath(root, "openssl", env, "/"); p != "" {
		if hdr, err := readHeader(root, p); err == nil {
			progs = append(progs, program{Path: p, Header: hdr, Via: "the openssl command"})
		}
	}
	return progs
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

// readHeader reads the first headerSize bytes of an image file, which must
// be a regular file.
func readHeader(root imagefs.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(f, hdr)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return hdr[:n], nil
}

// shebang returns the absolute interpreter of a #! script, "" for none.
func shebang(hdr []byte) string {
	interp, _ := inventory.Shebang(hdr)
	if !path.IsAbs(interp) {
		return ""
	}
	return path.Clean(interp)
}

// binfmt is what binfmt_misc holds, as far as the container can see it.
type binfmt struct {
	// Readable is false where binfmt_misc is not mounted in the container
	// (the usual case), Why then says so.
	Readable bool
	Why      string
	// Enabled is binfmt_misc's global switch.
	Enabled bool
	Entries []binfmtEntry
}

// binfmtEntry is one registered handler.
type binfmtEntry struct {
	Name        string
	Enabled     bool
	Interpreter string
	Flags       string
	// A magic entry matches Magic under Mask at Offset of the header; an
	// extension entry matches the program's file name extension.
	Offset    int
	Magic     []byte
	Mask      []byte
	Extension string
}

// matches tells whether the kernel would hand the program at name, whose
// header is hdr, to e (fs/binfmt_misc.c check_file).
func (e binfmtEntry) matches(name string, hdr []byte) bool {
	if !e.Enabled {
		return false
	}
	if e.Extension != "" {
		dot := strings.LastIndexByte(name, '.')
		return dot >= 0 && name[dot+1:] == e.Extension
	}
	if len(e.Magic) == 0 || e.Offset < 0 || e.Offset+len(e.Magic) > len(hdr) {
		return false
	}
	for i, m := range e.Magic {
		mask := byte(0xff)
		if i < len(e.Mask) {
			mask = e.Mask[i]
		}
		if (hdr[e.Offset+i]^m)&mask != 0 {
			return false
		}
	}
	return true
}

func readBinfmt(dir string) binfmt {
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return binfmt{Why: "binfmt_misc is not mounted in the check container"}
	}
	b := binfmt{Readable: true, Enabled: strings.TrimSpace(string(status)) == "enabled"}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return binfmt{Why: "binfmt_misc cannot be listed: " + err.Error()}
	}
	for _, de := range entries {
		if n := de.Name(); n != "status" && n != "register" {
			if dt, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
				b.Entries = append(b.Entries, parseBinfmtEntry(n, string(dt)))
			}
		}
	}
	return b
}

// parseBinfmtEntry parses one file of binfmt_misc, as the kernel prints it.
func parseBinfmtEntry(name, text string) binfmtEntry {
	e := binfmtEntry{Name: name}
	for _, line := range strings.Split(text, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "enabled":
			e.Enabled = true
		case "interpreter":
			e.Interpreter = v
		case "flags:":
			e.Flags = v
		case "offset":
			e.Offset, _ = strconv.Atoi(v)
		case "magic":
			e.Magic, _ = hex.DecodeString(v)
		case "mask":
			e.Mask, _ = hex.DecodeString(v)
		case "extension":
			e.Extension = strings.TrimPrefix(v, ".")
		}
	}
	return e
}

// decideEmulation is the decision, from what was read: a program runs
// emulated when an enabled binfmt_misc handler takes it (the kernel tries
// them before its own ELF loader), or, where binfmt_misc cannot be seen,
// when it is of a machine the kernel does not run itself — it can then run
// only through a handler the host registered with the F flag.
func decideEmulation(k kernel, progs []program, bf binfmt) Emulation {
	e := Emulation{Host: k.Machine, TimeScale: 1}
	// Programs decided alike are told together: "/bin/sh (the application)
	// and /usr/bin/openssl (the openssl command) are aarch64: …".
	var decisions []string
	who := map[string][]string{}
	decided := func(p program, name, decision string) {
		d := name + ": " + decision
		if _, ok := who[d]; !ok {
			decisions = append(decisions, d)
		}
		who[d] = append(who[d], fmt.Sprintf("%s (%s)", p.Path, p.Via))
	}
	for _, p := range progs {
		id, ok := parseELFIdent(p.Header)
		if !ok {
			// A script: its interpreter follows it in progs.
			continue
		}
		name := id.String()
		if e.Machine == "" {
			e.Machine = name
		}
		if bf.Readable && bf.Enabled {
			if h := firstMatch(bf.Entries, p.Path, p.Header); h != nil {
				e.Emulated, e.Machine = true, name
				decided(p, name, fmt.Sprintf("the binfmt_misc handler %s takes it (interpreter %s, flags %s)", h.Name, h.Interpreter, h.Flags))
				continue
			}
		}
		native, why := k.native(id)
		switch {
		case native:
			decided(p, name, "native ("+why+")")
		case bf.Readable:
			decided(p, name, why+", and no enabled binfmt_misc handler takes it: it cannot run")
		default:
			e.Emulated, e.Machine = true, name
			decided(p, name, why+", and "+bf.Why+": it runs through the emulator the host registered for it")
		}
	}
	var how []string
	for _, d := range decisions {
		if ps := who[d]; len(ps) == 1 {
			how = append(how, ps[0]+" is "+d)
		} else {
			how = append(how, strings.Join(ps[:len(ps)-1], ", ")+" and "+ps[len(ps)-1]+" are "+d)
		}
	}
	if len(how) == 0 {
		how = append(how, "no ELF program of the image is started")
	}
	// A probe of the platform's own machine (the frontend image's for a
	// platform the builder does not run) runs emulated itself.
	if k.Self != nil {
		if native, why := k.native(*k.Self); !native {
			how = append(how, fmt.Sprintf("the probe itself is %s and runs emulated too (%s)", k.Self, why))
		}
	}
	if e.Emulated {
		e.TimeScale = EmulationTimeScale
	}
	e.How = strings.Join(how, "; ")
	return e
}

func firstMatch(entries []binfmtEntry, name string, hdr []byte) *binfmtEntry {
	for i := range entries {
		if entries[i].matches(name, hdr) {
			return &entries[i]
		}
	}
	return nil
}
