//go:build unix

package gguf

import (
	"fmt"
	"math"
	"os"
	"syscall"
)

// Open memory-maps the file at path read-only and parses it. Tensor Data
// point into the mapping, so the weights are paged in on first use and
// never copied. Call Close to unmap.
//
// The mapping follows the file's inode: replacing the file by rename (as
// WriteFile does) is safe, but truncating it in place while it is mapped
// makes reads of the lost pages fault.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close()
	size, err := fileSize(fh, path)
	if err != nil {
		return nil, err
	}
	if size > math.MaxInt {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("file of %d bytes is too large to map on this platform", size)}
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: mmap: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, withPath(err, path)
	}
	f.unmap = func() error {
		if err := syscall.Munmap(data); err != nil {
			return fmt.Errorf("gguf: %s: munmap: %w", path, err)
		}
		return nil
	}
	return f, nil
}
