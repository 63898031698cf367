package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/internal/testutil"
)

// raw builds GGUF bytes by hand, independently of the package's writer, so
// hostile files can say anything.
type raw struct{ b []byte }

func rawHeader(version uint32, nTensors, nKV uint64) *raw {
	r := &raw{b: []byte("GGUF")}
	return r.u32(version).u64(nTensors).u64(nKV)
}

func (r *raw) u8(v uint8) *raw   { r.b = append(r.b, v); return r }
func (r *raw) u16(v uint16) *raw { r.b = binary.LittleEndian.AppendUint16(r.b, v); return r }
func (r *raw) u32(v uint32) *raw { r.b = binary.LittleEndian.AppendUint32(r.b, v); return r }
func (r *raw) u64(v uint64) *raw { r.b = binary.LittleEndian.AppendUint64(r.b, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.b = append(r.b, s...); return r }

// kv appends a key and a value type tag; the caller appends the value.
func (r *raw) kv(key string, t ValueType) *raw { return r.str(key).u32(uint32(t)) }

// tensor appends a tensor info.
func (r *raw) tensor(name string, dims []uint64, typ tensor.Type, offset uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// padTo appends zeros up to a multiple of align.
func (r *raw) padTo(align int) *raw {
	for len(r.b)%align != 0 {
		r.b = append(r.b, 0)
	}
	return r
}

func (r *raw) zeros(n int) *raw { r.b = append(r.b, make([]byte, n)...); return r }

// modelsDir is the shared test-model folder.
func modelsDir(t testing.TB) string {
	return testutil.Shared(t, "testdata", "models")
}

// allModels lists every .gguf file of the shared test data.
func allModels(t testing.TB) []string {
	dir := modelsDir(t)
	var files []string
	for _, pattern := range []string{"*.gguf", "synthetic/*.gguf", "vocab/*.gguf"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 70 {
		t.Fatalf("found only %d .gguf files under %s; the manifest lists 73", len(files), dir)
	}
	sort.Strings(files)
	return files
}

// manifestRow is what MANIFEST.md's file tables say about one model file.
type manifestRow struct {
	size     int64
	fileType int64          // general.file_type, -1 when the table has none
	types    map[string]int // tensor type name -> count
	// vocab tables only
	arch, model, pre string
	nTokens, nMerges int
}

// readManifest parses the file tables of MANIFEST.md: sections 2 and 8
// (name | size | sha256 | [quantize] | file_type | tensor types) and
// section 3 (vocab name | size | sha256 | arch | model / pre | n_tokens |
// n_merges | notes).
func readManifest(t testing.TB) map[string]manifestRow {
	data, err := os.ReadFile(filepath.Join(modelsDir(t), "MANIFEST.md"))
	if err != nil {
		t.Fatal(err)
	}
	ftRe := regexp.MustCompile(`(\d+) \(`)
	typeRe := regexp.MustCompile(`\b([A-Z][A-Z0-9_]*) ×(\d+)`)
	rows := map[string]manifestRow{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(line, "|")
		cells = cells[1 : len(cells)-1]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := cells[0]
		if !strings.HasSuffix(name, ".gguf") || len(cells) < 5 {
			continue
		}
		size, err := strconv.ParseInt(cells[1], 10, 64)
		if err != nil {
			continue
		}
		row := manifestRow{size: size, fileType: -1}
		if strings.HasPrefix(name, "ggml-vocab-") {
			if len(cells) < 8 {
				t.Fatalf("manifest vocab row has %d cells: %s", len(cells), line)
			}
			row.arch = cells[3]
			mp := strings.Split(cells[4], " / ")
			row.model, row.pre = mp[0], mp[1]
			row.nTokens, _ = strconv.Atoi(cells[5])
			row.nMerges, _ = strconv.Atoi(cells[6]) // "-" gives 0
			rows[name] = row
			continue
		}
		m := ftRe.FindStringSubmatch(cells[len(cells)-2])
		if m == nil {
			t.Fatalf("manifest row without a file_type: %s", line)
		}
		row.fileType, _ = strconv.ParseInt(m[1], 10, 64)
		row.types = map[string]int{}
		for _, m := range typeRe.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			n, _ := strconv.Atoi(m[2])
			row.types[m[1]] += n
		}
		rows[name] = row
	}
	if len(rows) < 60 {
		t.Fatalf("parsed only %d file rows from MANIFEST.md", len(rows))
	}
	return rows
}

func typeCounts(f *File) map[string]int {
	m := map[string]int{}
	for _, t := range f.Tensors {
		m[t.Type.String()]++
	}
	return m
}

func writeTensors(f *File) []WriteTensor {
	out := make([]WriteTensor, len(f.Tensors))
	for i, t := range f.Tensors {
		out[i] = WriteTensor{Name: t.Name, Dims: t.Dims, Type: t.Type, Data: t.Data}
	}
	return out
}

func mustParse(t testing.TB, data []byte) *File {
	t.Helper()
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustWrite(t testing.TB, kvs []KV, tensors []WriteTensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantErr checks that err is a gguf error whose text contains every one of
// the substrings.
func wantErr(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", subs)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "gguf: ") {
		t.Errorf("error %q does not start with \"gguf: \"", msg)
	}
	for _, s := range subs {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
}
