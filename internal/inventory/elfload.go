package inventory

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
)

// What the kernel reads of an ELF file is its header and its program
// headers: binfmt_elf checks the magic number, the type (ET_EXEC or ET_DYN),
// the machine and the size of a program header, reads the program headers
// and maps the PT_LOAD segments; the dynamic linker then finds its tables
// through PT_DYNAMIC. Section headers are read by neither, so an image can
// forge or drop them at will: what this file reads comes from the program
// headers alone, and is what the scan believes over the sections.

// kernelLoadable tells whether the kernel (or the dynamic linker, run by
// hand) would load r as a program or a shared object, from its header and
// program headers alone; when it would not, the reason says why.
func kernelLoadable(r io.ReaderAt, size int64) (bool, string) {
	var ident [elf.EI_NIDENT]byte
	if _, err := r.ReadAt(ident[:], 0); err != nil {
		return false, "shorter than an ELF header"
	}
	var bo binary.ByteOrder
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return false, "no byte order"
	}
	var typ, machine, phentsize, phnum uint16
	var phoff uint64
	var wantPhentsize uint16
	switch elf.Class(ident[elf.EI_CLASS]) {
	case elf.ELFCLASS32:
		var h elf.Header32
		if err := binary.Read(io.NewSectionReader(r, 0, size), bo, &h); err != nil {
			return false, "truncated ELF header"
		}
		typ, machine, phentsize, phnum, phoff = h.Type, h.Machine, h.Phentsize, h.Phnum, uint64(h.Phoff)
		wantPhentsize = 32
	case elf.ELFCLASS64:
		var h elf.Header64
		if err := binary.Read(io.NewSectionReader(r, 0, size), bo, &h); err != nil {
			return false, "truncated ELF header"
		}
		typ, machine, phentsize, phnum, phoff = h.Type, h.Machine, h.Phentsize, h.Phnum, h.Phoff
		wantPhentsize = 56
	default:
		return false, "no ELF class"
	}
	if t := elf.Type(typ); t != elf.ET_EXEC && t != elf.ET_DYN {
		return false, fmt.Sprintf("type %v, neither a program nor a shared object", t)
	}
	if machine == uint16(elf.EM_NONE) {
		return false, "no machine"
	}
	if phentsize != wantPhentsize || phnum == 0 || uint64(phnum)*uint64(phentsize) > 65536 {
		return false, "no usable program headers"
	}
	end := phoff + uint64(phnum)*uint64(phentsize)
	if phoff > uint64(size) || end > uint64(size) || end < phoff {
		return false, "program headers beyond the end of the file"
	}
	ph := make([]byte, end-phoff)
	if _, err := r.ReadAt(ph, int64(phoff)); err != nil {
		return false, "unreadable program headers"
	}
	for i := 0; i < int(phnum); i++ {
		if elf.ProgType(bo.Uint32(ph[i*int(phentsize):])) == elf.PT_LOAD {
			return true, fmt.Sprintf("%v %v with %d program headers", elf.Machine(machine), elf.Type(typ), phnum)
		}
	}
	return false, "no loadable segment"
}

// maxDynamic bounds what is read of a dynamic segment and of one string.
const (
	maxDynamic   = 1 << 20
	maxDynString = 4096
)

// dynamicStrings reads the string entries (DT_NEEDED, DT_SONAME, DT_RPATH,
// DT_RUNPATH) of the dynamic segment, as the dynamic linker finds them.
func dynamicStrings(ef *elf.File) map[elf.DynTag][]string {
	out := map[elf.DynTag][]string{}
	var dyn *elf.Prog
	for _, p := range ef.Progs {
		if p.Type == elf.PT_DYNAMIC {
			dyn = p
			break
		}
	}
	if dyn == nil || dyn.Filesz == 0 {
		return out
	}
	d := make([]byte, min(dyn.Filesz, maxDynamic))
	n, _ := dyn.ReadAt(d, 0)
	d = d[:n]
	entSize, word := 16, func(b []byte) uint64 { return ef.ByteOrder.Uint64(b) }
	if ef.Class == elf.ELFCLASS32 {
		entSize, word = 8, func(b []byte) uint64 { return uint64(ef.ByteOrder.Uint32(b)) }
	}
	type entry struct {
		tag elf.DynTag
		val uint64
	}
	var entries []entry
	var strtab uint64
	haveStrtab := false
	for i := 0; i+entSize <= len(d); i += entSize {
		tag := elf.DynTag(word(d[i:]))
		val := word(d[i+entSize/2:])
		if tag == elf.DT_NULL {
			break
		}
		switch tag {
		case elf.DT_STRTAB:
			strtab, haveStrtab = val, true
		case elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH:
			entries = append(entries, entry{tag, val})
		}
	}
	if !haveStrtab {
		return out
	}
	for _, e := range entries {
		if s, ok := readString(ef, strtab+e.val); ok {
			out[e.tag] = append(out[e.tag], s)
		}
	}
	return out
}

// readString reads the NUL-terminated string at a virtual address, through
// the PT_LOAD segment that maps it.
func readString(ef *elf.File, addr uint64) (string, bool) {
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr-p.Vaddr >= p.Filesz {
			continue
		}
		off := addr - p.Vaddr
		b := make([]byte, min(maxDynString, p.Filesz-off))
		n, _ := p.ReadAt(b, int64(off))
		if i := bytes.IndexByte(b[:n], 0); i >= 0 {
			return string(b[:i]), true
		}
		return "", false
	}
	return "", false
}

// dataSegments returns readers of what the loader maps read-only and not
// executable, where compilers put constant data (rodata); a file laid out
// with no such segment (older linkers put rodata beside the code) gets its
// executable segments instead.
func dataSegments(ef *elf.File) []io.Reader {
	var ro, rx []io.Reader
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 || p.Flags&elf.PF_W != 0 {
			continue
		}
		if p.Flags&elf.PF_X != 0 {
			rx = append(rx, p.Open())
		} else {
			ro = append(ro, p.Open())
		}
	}
	if len(ro) == 0 {
		return rx
	}
	return ro
}
