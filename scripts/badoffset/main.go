// Command badoffset copies a GGUF file and rewrites the data offset of its
// last tensor so that it points past the end of the file. The acceptance
// script uses it to check that such a file is refused cleanly.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/gguf"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: badoffset IN.gguf OUT.gguf")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		fatal(err)
	}
	last := f.Tensors[len(f.Tensors)-1]
	// A tensor info is: u64 name length, name, u32 n_dims, n_dims × u64, u32 type, u64 offset.
	var key bytes.Buffer
	binary.Write(&key, binary.LittleEndian, uint64(len(last.Name)))
	key.WriteString(last.Name)
	at := bytes.Index(data[:f.DataOffset], key.Bytes())
	if at < 0 {
		fatal(fmt.Errorf("tensor info of %q not found", last.Name))
	}
	off := at + key.Len() + 4 + 8*len(last.Dims) + 4
	binary.LittleEndian.PutUint64(data[off:], uint64(len(data))*2/32*32)
	if err := os.WriteFile(os.Args[2], data, 0o644); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "badoffset:", err)
	os.Exit(1)
}
