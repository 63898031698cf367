package main

import "syscall"

// benchBuffer allocates n bytes outside the Go heap for the bandwidth
// test, in small (4 KiB) pages or, with huge, in transparent huge pages.
// The engine's weights are a file mapping in the page cache, which Linux
// maps with small pages: the small-page figure is the bandwidth decoding
// can reach, the huge-page one what the memory itself delivers when the
// TLB is out of the way. free releases the buffer.
func benchBuffer(n int, huge bool) (buf []byte, free func(), err error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	advice := 15 // MADV_NOHUGEPAGE
	if huge {
		advice = 14 // MADV_HUGEPAGE
	}
	_ = syscall.Madvise(b, advice) // advice only: kernels without THP ignore it
	return b, func() { _ = syscall.Munmap(b) }, nil
}
