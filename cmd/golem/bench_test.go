package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// TestBenchGeneratedModel runs the whole bench on a generated tiny model:
// the model is generated into the cache folder, both tests run the asked
// number of times, and the JSON report carries sane numbers.
func TestBenchGeneratedModel(t *testing.T) {
	cache := t.TempDir()
	var out, errb bytes.Buffer
	code := benchCommand([]string{"--shape", "tiny", "--type", "Q8_0", "--cache", cache, "--generate"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errb.String())
	}
	path := strings.TrimSpace(out.String())
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 || !strings.HasPrefix(path, cache) {
		t.Fatalf("generate printed %q (%v)", path, err)
	}

	out.Reset()
	errb.Reset()
	code = benchCommand([]string{path, "--reps", "2", "--pp", "16", "--tg", "4", "--bandwidth-gib", "0.0625", "--threads", "2", "--json"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errb.String())
	}
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out.String())
	}
	if res.Mode != "fast" || res.Threads != 2 || res.WeightBytes <= 0 || res.FileBytes <= res.WeightBytes/2 {
		t.Errorf("report header: %+v", res)
	}
	if len(res.Tests) != 2 || res.Tests[0].Name != "pp16" || res.Tests[1].Name != "tg4" {
		t.Fatalf("tests: %+v", res.Tests)
	}
	for _, r := range res.Tests {
		if len(r.Runs) != 2 || r.Median <= 0 || r.Min > r.Median || r.Median > r.Max {
			t.Errorf("test %s: %+v", r.Name, r)
		}
	}
	if res.BandwidthGBs <= 0 || len(res.BandwidthRuns) == 0 || res.DecodeFraction <= 0 {
		t.Errorf("bandwidth: %v GB/s (runs %v), decode fraction %v", res.BandwidthGBs, res.BandwidthRuns, res.DecodeFraction)
	}
	if len(res.PairedFractions) != 2 || len(res.PairedBandwidthRuns) != 2 || res.PairedFraction <= 0 {
		t.Errorf("paired bandwidth %v, fractions %v, median %v: want one pair per generation run", res.PairedBandwidthRuns, res.PairedFractions, res.PairedFraction)
	}
	for i, f := range res.PairedFractions {
		if want := res.Tests[1].Runs[i] * float64(res.WeightBytes) / (res.PairedBandwidthRuns[i] * 1e9); math.Abs(f-want) > 1e-9*want {
			t.Errorf("paired fraction %d = %v, want %v", i, f, want)
		}
	}
	if res.RSSBytes > 0 && res.RSSOverheadBytes != res.RSSBytes-res.FileBytes-res.KVBytes {
		t.Errorf("RSS overhead %d, want %d", res.RSSOverheadBytes, res.RSSBytes-res.FileBytes-res.KVBytes)
	}

	// The exact mode and the portable kernels are selectable.
	out.Reset()
	errb.Reset()
	if code := benchCommand([]string{path, "--reps", "1", "--pp", "8", "--tg", "2", "--bandwidth-gib", "0", "--exact", "--simd", "generic", "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exact bench: exit %d: %s", code, errb.String())
	}
	res = benchResult{}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Mode != "exact" || res.Kernels != "generic" {
		t.Errorf("exact bench: mode %q kernels %q (%v)", res.Mode, res.Kernels, err)
	}

	// --streams adds the test of sequences decoded together.
	out.Reset()
	errb.Reset()
	if code := benchCommand([]string{path, "--reps", "2", "--pp", "0", "--tg", "6", "--streams", "3", "--bandwidth-gib", "0", "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("streams bench: exit %d: %s", code, errb.String())
	}
	res = benchResult{}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Tests) != 2 {
		t.Fatalf("streams bench: %+v (%v)", res, err)
	}
	st := res.Tests[1]
	if st.Name != "tg6x3" || st.Tokens != 18 || len(st.Runs) != 2 || st.Median <= 0 {
		t.Errorf("streams test %+v", st)
	}
	if want := st.Median / res.Tests[0].Median; math.Abs(res.StreamsSpeedup-want) > 1e-9*want {
		t.Errorf("streams speed-up %v, want %v", res.StreamsSpeedup, want)
	}
}

// TestBenchBadArguments checks that bad input gets an error message and a
// non-zero exit, never a panic.
func TestBenchBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--shape", "no-such-shape", "--cache", t.TempDir()},
		{"--shape", "tiny", "--type", "Q9_9", "--cache", t.TempDir()},
		{"/no/such/model.gguf"},
		{"--reps", "0", "x.gguf"},
		{"--simd", "avx9", "--shape", "tiny", "--type", "F16", "--cache", t.TempDir(), "--pp", "4", "--tg", "0", "--bandwidth-gib", "0"},
		{"--streams", "0", "x.gguf"},
		{"--streams", "2", "--tg", "0", "x.gguf"},
	} {
		var out, errb bytes.Buffer
		if code := benchCommand(args, nil, &out, &errb); code == 0 || errb.Len() == 0 {
			t.Errorf("bench %q: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
