package tensor

import "unsafe"

// StreamRead reads every byte of b, as fast as the memory system delivers
// them, and returns a checksum (so the reads cannot be optimised away). It
// is how `golem bench` measures read bandwidth: on amd64 it streams 32-byte
// vector loads, four in flight.
func StreamRead(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	n := len(b) &^ 127
	var s uint64
	if n > 0 {
		s = streamRead(unsafe.Pointer(&b[0]), n)
	}
	for _, c := range b[n:] {
		s += uint64(c)
	}
	return s
}

// streamReadGo sums 128-byte chunks as eight words each.
func streamReadGo(p unsafe.Pointer, n int) uint64 {
	w := unsafe.Slice((*uint64)(p), n/8)
	var a, b, c, d uint64
	for i := 0; i+16 <= len(w); i += 16 {
		a ^= w[i] ^ w[i+4] ^ w[i+8] ^ w[i+12]
		b ^= w[i+1] ^ w[i+5] ^ w[i+9] ^ w[i+13]
		c ^= w[i+2] ^ w[i+6] ^ w[i+10] ^ w[i+14]
		d ^= w[i+3] ^ w[i+7] ^ w[i+11] ^ w[i+15]
	}
	return a ^ b ^ c ^ d
}
