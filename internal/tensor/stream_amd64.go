//go:build amd64 && !purego

package tensor

import "unsafe"

// streamReadAVX2 xors n bytes (a multiple of 128) at p into a checksum with
// 32-byte loads.
//
//go:noescape
func streamReadAVX2(p unsafe.Pointer, n int) uint64

func streamRead(p unsafe.Pointer, n int) uint64 {
	if cpu.avx2 {
		return streamReadAVX2(p, n)
	}
	return streamReadGo(p, n)
}
