package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
)

// TestModelsMatchManifest opens every shared model and checks it against
// the facts MANIFEST.md records for it.
func TestModelsMatchManifest(t *testing.T) {
	manifest := readManifest(t)
	// Parameter counts from the manifest's architecture tables, by file
	// name prefix.
	params := map[string]uint64{
		"stories260K":         292800,
		"llama-2-tiny-random": 513048,
		"syn-llama-256":       1836288,
		"syn-qwen2-256":       919808,
		"syn-qwen3-256":       919296,
		"syn-phi3-256":        1049856,
		"syn-gemma3-256":      2300928,
		"syn-gemma2-32":       339232,
		"syn-bert-128":        466176,
	}
	for _, path := range allModels(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != 3 {
				t.Errorf("version %d, want 3", f.Version)
			}
			if f.Alignment != 32 {
				t.Errorf("alignment %d, want 32", f.Alignment)
			}
			if _, ok := f.Lookup(KeyAlignment); ok {
				t.Errorf("unexpected %s key", KeyAlignment)
			}
			if f.DataOffset%32 != 0 {
				t.Errorf("data offset %d is not aligned", f.DataOffset)
			}
			// Every tensor's bytes lie in the file and in the right place.
			for _, ti := range f.Tensors {
				if uint64(len(ti.Data)) != ti.Size {
					t.Errorf("%s: len(Data) %d != Size %d", ti.Name, len(ti.Data), ti.Size)
				}
				if f.DataOffset+ti.Offset+ti.Size > uint64(st.Size()) {
					t.Errorf("%s: ends past the file", ti.Name)
				}
				if ti.Offset%32 != 0 {
					t.Errorf("%s: offset %d unaligned", ti.Name, ti.Offset)
				}
				if got, ok := f.Tensor(ti.Name); !ok || got != ti {
					t.Errorf("Tensor(%q) does not find it", ti.Name)
				}
			}

			if row, ok := manifest[name]; ok {
				if row.size != st.Size() {
					t.Errorf("file is %d bytes, manifest says %d", st.Size(), row.size)
				}
				if row.types != nil {
					if got := typeCounts(f); !reflect.DeepEqual(got, row.types) {
						t.Errorf("tensor types %v, manifest says %v", got, row.types)
					}
					ft, ok := f.Uint("general.file_type")
					if !ok || int64(ft) != row.fileType {
						t.Errorf("general.file_type = %d (%v), manifest says %d", ft, ok, row.fileType)
					}
				}
				if row.nTokens > 0 {
					checkVocab(t, f, row)
				}
			} else if strings.HasPrefix(name, "syn-") || strings.Contains(name, "-mix") || strings.HasPrefix(name, "ggml-vocab") {
				t.Errorf("no manifest row for %s", name)
			}

			for prefix, n := range params {
				if strings.HasPrefix(name, prefix) {
					var total uint64
					for _, ti := range f.Tensors {
						total += ti.Elements()
					}
					if total != n {
						t.Errorf("%d parameters, manifest says %d", total, n)
					}
				}
			}
		})
	}
}

func checkVocab(t *testing.T, f *File, row manifestRow) {
	t.Helper()
	if len(f.Tensors) != 0 {
		t.Errorf("vocab file has %d tensors, want 0", len(f.Tensors))
	}
	if got := f.Architecture(); got != row.arch {
		t.Errorf("architecture %q, manifest says %q", got, row.arch)
	}
	if got, _ := f.String("tokenizer.ggml.model"); got != row.model {
		t.Errorf("tokenizer model %q, manifest says %q", got, row.model)
	}
	if got, _ := f.String("tokenizer.ggml.pre"); got != row.pre {
		t.Errorf("tokenizer pre %q, manifest says %q", got, row.pre)
	}
	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) != row.nTokens {
		t.Errorf("%d tokens (%v), manifest says %d", len(tokens), ok, row.nTokens)
	}
	merges, _ := f.Strings("tokenizer.ggml.merges")
	if len(merges) != row.nMerges {
		t.Errorf("%d merges, manifest says %d", len(merges), row.nMerges)
	}
	types, ok := f.Int32s("tokenizer.ggml.token_type")
	if !ok || len(types) != row.nTokens {
		t.Errorf("%d token types (%v), want %d", len(types), ok, row.nTokens)
	}
}

func TestStories260K(t *testing.T) {
	f, err := Open(filepath.Join(modelsDir(t), "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || len(f.Tensors) != 48 || len(f.KVs) != 19 {
		t.Fatalf("version %d, %d tensors, %d KVs; want 3, 48, 19", f.Version, len(f.Tensors), len(f.KVs))
	}
	if f.Architecture() != "llama" {
		t.Errorf("architecture %q", f.Architecture())
	}
	for key, want := range map[string]uint64{
		"llama.block_count":               5,
		"llama.embedding_length":          64,
		"llama.feed_forward_length":       172,
		"llama.attention.head_count":      8,
		"llama.attention.head_count_kv":   4,
		"llama.rope.dimension_count":      8,
		"llama.context_length":            2048,
		"tokenizer.ggml.bos_token_id":     1,
		"tokenizer.ggml.eos_token_id":     2,
		"tokenizer.ggml.unknown_token_id": 0,
	} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
		}
	}
	if eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || float32(eps) != 1e-5 {
		t.Errorf("rms epsilon %g (%v), want 1e-5", eps, ok)
	}
	for _, key := range []string{"general.file_type", "general.alignment", "llama.rope.freq_base", "tokenizer.ggml.pre"} {
		if _, ok := f.Lookup(key); ok {
			t.Errorf("key %s present; the manifest says it is not", key)
		}
	}
	if _, ok := f.Lookup("tokenizer.ggml.seperator_token_id"); !ok {
		t.Error("the converter's misspelled tokenizer.ggml.seperator_token_id key is missing")
	}

	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) != 512 {
		t.Fatalf("%d tokens, want 512", len(tokens))
	}
	for id, want := range map[int]string{0: "<unk>", 1: "<s>", 2: "</s>", 3: "<0x00>", 258: "<0xFF>"} {
		if tokens[id] != want {
			t.Errorf("token %d = %q, want %q", id, tokens[id], want)
		}
	}
	scores, ok := f.Float32s("tokenizer.ggml.scores")
	if !ok || len(scores) != 512 {
		t.Fatalf("%d scores", len(scores))
	}
	// 253 normal tokens with scores 0..-252.
	if scores[259] != 0 || scores[511] != -252 {
		t.Errorf("scores[259] = %g, scores[511] = %g; want 0 and -252", scores[259], scores[511])
	}
	types, ok := f.Int32s("tokenizer.ggml.token_type")
	if !ok || len(types) != 512 || types[3] != 6 || types[258] != 6 {
		t.Errorf("token types: ok=%v len=%d; byte tokens want type 6", ok, len(types))
	}

	for _, ti := range f.Tensors {
		if ti.Type != tensor.F32 {
			t.Errorf("%s has type %s, want F32", ti.Name, ti.Type)
		}
	}
	emb, ok1 := f.Tensor("token_embd.weight")
	out, ok2 := f.Tensor("output.weight")
	if !ok1 || !ok2 {
		t.Fatal("token_embd.weight or output.weight missing")
	}
	if !slices.Equal(emb.Dims, []uint64{64, 512}) || emb.Rows() != 512 || emb.Elements() != 64*512 || emb.Size != 64*512*4 {
		t.Errorf("token_embd.weight: dims %v rows %d size %d", emb.Dims, emb.Rows(), emb.Size)
	}
	// The manifest says the tied classifier is stored twice, byte for byte.
	if !bytes.Equal(emb.Data, out.Data) {
		t.Error("output.weight differs from token_embd.weight")
	}
	norm, _ := f.Tensor("blk.0.attn_norm.weight")
	if norm == nil || norm.Rows() != 1 || norm.Elements() != 64 {
		t.Errorf("blk.0.attn_norm.weight: %+v", norm)
	}
}

func TestLlama2TinyRandom(t *testing.T) {
	dir := modelsDir(t)
	f, err := Open(filepath.Join(dir, "llama-2-tiny-random.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || len(f.Tensors) != 12 || len(f.KVs) != 18 {
		t.Fatalf("version %d, %d tensors, %d KVs; want 3, 12, 18", f.Version, len(f.Tensors), len(f.KVs))
	}
	if ft, ok := f.Uint("general.file_type"); !ok || ft != 1 {
		t.Errorf("general.file_type = %d (%v), want 1", ft, ok)
	}
	if name, _ := f.String("general.name"); name != "LLaMA v2" {
		t.Errorf("general.name = %q", name)
	}
	if got := typeCounts(f); !reflect.DeepEqual(got, map[string]int{"F16": 9, "F32": 3}) {
		t.Errorf("tensor types %v", got)
	}
	for key, want := range map[string]int64{"llama.block_count": 1, "llama.embedding_length": 8, "llama.feed_forward_length": 32, "llama.attention.head_count": 2, "llama.context_length": 4096} {
		if got, ok := f.Int(key); !ok || got != want {
			t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
		}
	}

	// The manifest says the tokens and scores equal those of the
	// llama-spm vocab file.
	v, err := Open(filepath.Join(dir, "vocab", "ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, key := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.scores"} {
		a, _ := f.Lookup(key)
		b, _ := v.Lookup(key)
		if a == nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs from the llama-spm vocab", key)
		}
	}
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	if len(tokens) != 32000 {
		t.Errorf("%d tokens, want 32000", len(tokens))
	}
}

func TestMixVariants(t *testing.T) {
	dir := modelsDir(t)
	want := map[string]struct {
		fileType      uint64
		embd, outType tensor.Type
	}{
		"stories260K-q8_0-mix.gguf": {7, tensor.Q8_0, tensor.Q8_0},
		"stories260K-q4_0-mix.gguf": {2, tensor.Q5_0, tensor.Q8_0},
		"stories260K-q5_0-mix.gguf": {8, tensor.Q5_0, tensor.Q8_0},
	}
	for name, w := range want {
		f, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) != 48 {
			t.Errorf("%s: %d tensors, want 48", name, len(f.Tensors))
		}
		// The manifest says the KV tag was patched to UINT32.
		if v, _ := f.Lookup("general.file_type"); v != any(uint32(w.fileType)) {
			t.Errorf("%s: general.file_type = %#v, want uint32(%d)", name, v, w.fileType)
		}
		if e, _ := f.Tensor("token_embd.weight"); e == nil || e.Type != w.embd {
			t.Errorf("%s: token_embd.weight %+v, want %s", name, e, w.embd)
		}
		if o, _ := f.Tensor("output.weight"); o == nil || o.Type != w.outType {
			t.Errorf("%s: output.weight %+v, want %s", name, o, w.outType)
		}
		for _, ti := range f.Tensors {
			if strings.HasSuffix(ti.Name, "ffn_down.weight") && ti.Type != tensor.F16 {
				t.Errorf("%s: %s is %s, want F16", name, ti.Name, ti.Type)
			}
		}
		f.Close()
	}
}

// TestRoundTripModels writes every shared model back out. The files were
// made by llama.cpp and by an independent Python writer, so writing the
// parsed contents must reproduce them byte for byte; parsing the copy
// must give the same metadata, shapes and data.
func TestRoundTripModels(t *testing.T) {
	for _, path := range allModels(t) {
		name := filepath.Base(path)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(orig)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := mustWrite(t, f.KVs, writeTensors(f))
		if !bytes.Equal(out, orig) {
			t.Errorf("%s: written copy (%d bytes) differs from the original (%d bytes)", name, len(out), len(orig))
		}
		g, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: reparse: %v", name, err)
		}
		if !reflect.DeepEqual(f.KVs, g.KVs) {
			t.Errorf("%s: KVs differ after the round trip", name)
		}
		if len(f.Tensors) != len(g.Tensors) || f.DataOffset != g.DataOffset {
			t.Fatalf("%s: %d/%d tensors, data offset %d/%d", name, len(f.Tensors), len(g.Tensors), f.DataOffset, g.DataOffset)
		}
		for i, a := range f.Tensors {
			b := g.Tensors[i]
			if a.Name != b.Name || !slices.Equal(a.Dims, b.Dims) || a.Type != b.Type || a.Offset != b.Offset || a.Size != b.Size || !bytes.Equal(a.Data, b.Data) {
				t.Errorf("%s: tensor %d differs: %s %v %s @%d vs %s %v %s @%d", name, i, a.Name, a.Dims, a.Type, a.Offset, b.Name, b.Dims, b.Type, b.Offset)
			}
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()

	missing := filepath.Join(dir, "nope.gguf")
	_, err := Open(missing)
	wantErr(t, err, missing, "no such file")

	_, err = Open(dir)
	wantErr(t, err, dir, "is a directory")

	empty := filepath.Join(dir, "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(empty)
	wantErr(t, err, empty, "empty file")

	junk := filepath.Join(dir, "junk.gguf")
	if err := os.WriteFile(junk, []byte("<!DOCTYPE html><html>not a model</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(junk)
	wantErr(t, err, junk, "not a GGUF file")

	// A download cut short: the path and the tensor are named.
	orig, err := os.ReadFile(filepath.Join(modelsDir(t), "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.gguf")
	if err := os.WriteFile(cut, orig[:len(orig)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(cut)
	wantErr(t, err, cut, "runs past the end of the file", "tensor \"")

	f, err := Open(filepath.Join(modelsDir(t), "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := f.Tensor("token_embd.weight")
	if !bytes.Equal(emb.Data, orig[f.DataOffset+emb.Offset:][:emb.Size]) {
		t.Error("mapped tensor data differs from the file's bytes")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if emb.Data != nil {
		t.Error("tensor Data still set after Close")
	}
	// Metadata outlives the mapping.
	if tokens, _ := f.Strings("tokenizer.ggml.tokens"); len(tokens) != 512 || tokens[1] != "<s>" {
		t.Error("metadata unusable after Close")
	}
}

// TestVocabParseAllocations checks that a 100k-token vocabulary is read
// without an allocation per token: the string arrays cost a handful of
// allocations each, whatever their length.
func TestVocabParseAllocations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(modelsDir(t), "vocab", "ggml-vocab-deepseek-llm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, data)
	if tokens, _ := f.Strings("tokenizer.ggml.tokens"); len(tokens) != 102400 {
		t.Fatalf("%d tokens, want 102400", len(tokens))
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := Parse(data); err != nil {
			t.Fatal(err)
		}
	})
	if limit := float64(10 * len(f.KVs)); allocs > limit {
		t.Errorf("parsing %d KVs took %.0f allocations, want at most %.0f", len(f.KVs), allocs, limit)
	}
}

func BenchmarkParseVocab(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(modelsDir(b), "vocab", "ggml-vocab-deepseek-llm.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
