package tensor_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// dequantRef is one reference/dequant/<stem>.json file: ggml's own
// dequantization of every tensor of one model file (see reference/README.md
// section 3).
type dequantRef struct {
	Format string `json:"format"`
	Model  struct {
		File string `json:"file"` // relative to the shared folder
	} `json:"model"`
	Tensors []struct {
		Name   string    `json:"name"`
		Type   string    `json:"type"`
		Ne     []uint64  `json:"ne"`
		SHA256 string    `json:"f32_sha256"`
		Sum    float64   `json:"sum"`
		Row0   []float64 `json:"row0_first256"`
	} `json:"tensors"`
}

// TestDequantizeMatchesGGML dequantizes every tensor of every model file that
// has a reference checksum file and compares the float32 bytes with ggml's
// by SHA-256, bit for bit. One row per JSON file: a new reference file is a
// new row without code changes.
func TestDequantizeMatchesGGML(t *testing.T) {
	refDir := testutil.Shared(t, "reference", "dequant")
	files, err := filepath.Glob(filepath.Join(refDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 66 {
		t.Fatalf("found %d reference files in %s, want at least 66", len(files), refDir)
	}
	sort.Strings(files)
	typesSeen := map[string]int{}
	for _, path := range files {
		stem := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(stem, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ref dequantRef
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if ref.Format != "gguf-dequant-check/v1" || len(ref.Tensors) == 0 {
				t.Fatalf("%s: unexpected format %q with %d tensors", path, ref.Format, len(ref.Tensors))
			}
			f, err := gguf.Open(testutil.Shared(t, filepath.FromSlash(ref.Model.File)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != len(ref.Tensors) {
				t.Errorf("model has %d tensors, reference lists %d", len(f.Tensors), len(ref.Tensors))
			}
			var buf []float32
			var bytesBuf []byte
			for _, rt := range ref.Tensors {
				ti, ok := f.Tensor(rt.Name)
				if !ok {
					t.Errorf("tensor %s: not in the model file", rt.Name)
					continue
				}
				if ti.Type.String() != rt.Type {
					t.Errorf("tensor %s: type %s, reference says %s", rt.Name, ti.Type, rt.Type)
					continue
				}
				n := 1
				for _, d := range ti.Dims {
					n *= int(d)
				}
				if cap(buf) < n {
					buf = make([]float32, n)
					bytesBuf = make([]byte, 4*n)
				}
				out := buf[:n]
				if err := tensor.Dequantize(ti.Type, ti.Data, out); err != nil {
					t.Errorf("tensor %s: %v", rt.Name, err)
					continue
				}
				typesSeen[rt.Type]++
				b := bytesBuf[:4*n]
				for i, v := range out {
					binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
				}
				sum := sha256.Sum256(b)
				if got := hex.EncodeToString(sum[:]); got != rt.SHA256 {
					var s float64
					for _, v := range out {
						s += float64(v)
					}
					t.Errorf("tensor %s (%s %v): sha256 %s, want %s (sum %.9g, want %.9g)",
						rt.Name, rt.Type, rt.Ne, got[:16], rt.SHA256[:16], s, rt.Sum)
				}
				for i, want := range rt.Row0 {
					if i >= n || float64(out[i]) != want {
						t.Errorf("tensor %s: row 0 element %d = %v, want %v", rt.Name, i, out[i], want)
						break
					}
				}
			}
		})
	}
	// Every storage type the reference covers must have been checked.
	for _, name := range []string{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"} {
		if typesSeen[name] == 0 {
			t.Errorf("no %s tensor was checked", name)
		}
	}
}
