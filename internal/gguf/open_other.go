//go:build !unix

package gguf

import (
	"fmt"
	"io"
	"os"
)

// Open reads the file at path into memory and parses it. (On unix systems
// it memory-maps the file instead.)
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
	data := make([]byte, size)
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, withPath(err, path)
	}
	return f, nil
}
