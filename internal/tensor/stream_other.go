//go:build !amd64 || purego

package tensor

import "unsafe"

func streamRead(p unsafe.Pointer, n int) uint64 { return streamReadGo(p, n) }
