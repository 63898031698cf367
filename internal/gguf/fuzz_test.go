package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; errors
// must be FormatErrors; and whatever it accepts must survive a write and
// reparse unchanged (writing is then idempotent byte for byte).
func FuzzParse(f *testing.F) {
	f.Add(validRaw().b)
	f.Add(mustWrite(f, everyTypeKVs(), smallTensors()))
	f.Add(mustWrite(f, []KV{{KeyAlignment, uint32(16)}, {"a", Array{TypeArray, []Array{{TypeString, []string{"x"}}}}}}, smallTensors()[:2]))
	f.Add(mustWrite(f, []KV{{"tokenizer.ggml.tokens", Array{TypeString, []string{"<unk>", "<s>", "▁a"}}}}, nil))
	f.Add(mustWrite(f, nil, []WriteTensor{{Name: "q", Dims: []uint64{256, 1}, Type: tensor.Q4_K, Data: make([]byte, 144)}}))
	f.Add(nested(rawHeader(3, 0, 1).kv("k", TypeArray), MaxArrayDepth).b)
	// Real headers, cut short.
	real, err := os.ReadFile(filepath.Join(modelsDir(f), "stories260K-q4_0-mix.gguf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real[:2048])
	hdr := mustParse(f, real).DataOffset
	f.Add(real[:hdr+64])

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "gguf: ") {
				t.Fatalf("error %T %q is not a gguf FormatError", err, err)
			}
			if file != nil {
				t.Fatal("File returned with an error")
			}
			return
		}
		for _, ti := range file.Tensors {
			if uint64(len(ti.Data)) != ti.Size {
				t.Fatalf("tensor %q: %d data bytes, size %d", ti.Name, len(ti.Data), ti.Size)
			}
		}
		var out bytes.Buffer
		if err := Write(&out, file.KVs, writeTensors(file)); err != nil {
			t.Fatalf("Write of a parsed file: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("reparse of the written file: %v", err)
		}
		if len(again.KVs) != len(file.KVs) || len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("reparse: %d KVs, %d tensors; want %d, %d", len(again.KVs), len(again.Tensors), len(file.KVs), len(file.Tensors))
		}
		for i, ti := range file.Tensors {
			if !bytes.Equal(again.Tensors[i].Data, ti.Data) {
				t.Fatalf("tensor %q data changed in the round trip", ti.Name)
			}
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again.KVs, writeTensors(again)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("writing is not idempotent")
		}
	})
}
