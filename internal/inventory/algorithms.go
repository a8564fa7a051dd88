package inventory

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
)

// algorithm is a hash or cipher recognised by the constants its code
// cannot do without: round constants and S-boxes are data, or immediates
// in the code, and survive stripping and any renaming.
type algorithm struct {
	name string
	// tables: any one of them, as laid out in memory, is the algorithm.
	tables [][]byte
	// words: all of them, anywhere (immediates in the code, little
	// endian), are the algorithm.
	words []uint32
}

func le32(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func be32(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func le64(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func be64(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	return b
}

// algorithms are the primitives whose own implementation in a program is
// crypto outside the module. Chosen so that each pattern is the
// algorithm's alone: the first round constants in order (a table), or
// every round constant of an algorithm that has few (immediates).
var algorithms = []algorithm{
	{name: "SHA-256", tables: [][]byte{
		le32(0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5), be32(0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5)}},
	{name: "SHA-512", tables: [][]byte{
		le64(0x428a2f98d728ae22, 0x7137449123ef65cd), be64(0x428a2f98d728ae22, 0x7137449123ef65cd),
		// Split into 32-bit halves, high half first (32-bit code).
		le32(0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd)}},
	{name: "SHA-1", words: []uint32{0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6}},
	{name: "MD5", tables: [][]byte{le32(0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee)},
		words: []uint32{0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a}},
	{name: "SHA-3 (Keccak)", tables: [][]byte{le64(0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000)}},
	{name: "AES", tables: [][]byte{
		// The S-box, its inverse, and the first T-table entries.
		{0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76},
		{0x52, 0x09, 0x6a, 0xd5, 0x30, 0x36, 0xa5, 0x38, 0xbf, 0x40, 0xa3, 0x9e, 0x81, 0xf3, 0xd7, 0xfb},
		le32(0xc66363a5, 0xf87c7c84, 0xee777799, 0xf67b7b8d), le32(0xa56363c6, 0x847c7cf8, 0x997777ee, 0x8d7b7bf6)}},
	{name: "ChaCha20/Salsa20", tables: [][]byte{[]byte("expand 32-byte k")}},
}

// algorithmsIn returns the algorithms whose constants the file's loaded
// segments hold, code and data alike.
func (s *scanner) algorithmsIn(ef *elf.File) []string {
	type state struct {
		table bool
		words []bool
	}
	found := make([]state, len(algorithms))
	for i, a := range algorithms {
		found[i].words = make([]bool, len(a.words))
	}
	var markers [][]byte
	type ref struct{ alg, word int } // word -1: a table
	var refs []ref
	for i, a := range algorithms {
		for _, t := range a.tables {
			markers = append(markers, t)
			refs = append(refs, ref{i, -1})
		}
		for j, w := range a.words {
			markers = append(markers, le32(w))
			refs = append(refs, ref{i, j})
		}
	}
	for _, p := range ef.Progs {
		// Writable data too: a table need not be const.
		if p.Type != elf.PT_LOAD || p.Filesz == 0 {
			continue
		}
		var r io.Reader = p.Open()
		_ = s.scanFor(r, markers, func(m, _ []byte) {
			for k, mk := range markers {
				if !bytes.Equal(mk, m) {
					continue
				}
				if refs[k].word < 0 {
					found[refs[k].alg].table = true
				} else {
					found[refs[k].alg].words[refs[k].word] = true
				}
			}
		})
	}
	var out []string
	for i, a := range algorithms {
		all := len(a.words) > 0
		for _, w := range found[i].words {
			all = all && w
		}
		if found[i].table || all {
			out = append(out, a.name)
		}
	}
	return out
}
