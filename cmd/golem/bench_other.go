//go:build !linux

package main

// benchBuffer allocates n bytes for the bandwidth test; page sizes are
// only chosen on Linux, so huge reports false.
func benchBuffer(n int, huge bool) (buf []byte, free func(), err error) {
	return make([]byte, n), func() {}, nil
}
