package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/gguf"
	"github.com/golem-llm/golem/internal/model"
	"github.com/golem-llm/golem/internal/parallel"
	"github.com/golem-llm/golem/internal/tensor"
	"github.com/golem-llm/golem/tools/genmodel"
)

// benchResult is what `golem bench --json` prints.
type benchResult struct {
	Model       string     `json:"model"`
	FileBytes   int64      `json:"file_bytes"`
	Arch        string     `json:"arch"`
	Params      int64      `json:"params"`
	WeightBytes int64      `json:"weight_bytes_per_token"`
	Threads     int        `json:"threads"`
	Kernels     string     `json:"kernels"`
	Mode        string     `json:"mode"`
	CPU         string     `json:"cpu_features"`
	Tests       []benchRun `json:"tests"`

	// BandwidthGBs is the best read bandwidth over memory in small pages,
	// as the page cache maps the weights: the limit decoding is held to
	// (DecodeFraction). HugeBandwidthGBs is the same test in huge pages.
	BandwidthGBs     float64   `json:"read_bandwidth_gb_s"`
	BandwidthRuns    []float64 `json:"read_bandwidth_runs_gb_s"`
	HugeBandwidthGBs float64   `json:"read_bandwidth_hugepages_gb_s"`
	DecodeFraction   float64   `json:"decode_fraction_of_bandwidth"`
	// PairedFractions are each generation run's speed as a fraction of the
	// bandwidth test run right after it (PairedBandwidthRuns), and
	// PairedFraction their median: robust to a bandwidth that moves during
	// the run, as it does on a shared machine.
	PairedBandwidthRuns []float64 `json:"paired_read_bandwidth_gb_s"`
	PairedFractions     []float64 `json:"paired_decode_fractions"`
	PairedFraction      float64   `json:"paired_decode_fraction"`

	// RSSBytes is the resident memory after the last test, with its
	// session still alive and the garbage of earlier ones returned to the
	// system; RSSOverheadBytes is what it holds beyond the model file and
	// that session's KV cache.
	RSSBytes         int64 `json:"rss_bytes"`
	KVBytes          int64 `json:"kv_cache_bytes"`
	RSSOverheadBytes int64 `json:"rss_overhead_bytes"`

	// StreamsSpeedup is the median aggregate speed of --streams sequences
	// decoded together (the tgNxS test) over the one-sequence median.
	StreamsSpeedup float64 `json:"streams_speedup,omitempty"`
}

// benchRun is one test (pp or tg) over its repetitions.
type benchRun struct {
	Name   string    `json:"name"` // "pp512", "tg128", "tg128x4" (--streams)
	Tokens int       `json:"tokens"`
	Runs   []float64 `json:"tokens_per_s"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

func benchCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem bench MODEL.gguf [flags]")
		fmt.Fprintln(stderr, "       golem bench --shape SHAPE --type TYPE [flags]   (generates a random model, cached)")
		fmt.Fprintln(stderr, "\nMeasures prompt processing (pp) and generation (tg) speed in tokens/s, llama-bench style,")
		fmt.Fprintln(stderr, "each repeated; then the machine's read bandwidth with the same thread count, and how close")
		fmt.Fprintln(stderr, "generation comes to the bandwidth limit (weight bytes read per token × tokens/s ÷ bandwidth).")
		fmt.Fprintf(stderr, "\nShapes: %s. Types: %s.\n\nFlags:\n", strings.Join(genmodel.ShapeNames(), ", "), strings.Join(genmodel.Types, ", "))
		fs.PrintDefaults()
	}
	threads := fs.Int("threads", 0, "worker threads (0 = one per CPU)")
	reps := fs.Int("reps", 5, "repetitions of each test")
	pp := fs.Int("pp", 512, "prompt tokens of the prompt-processing test (0 = skip)")
	tg := fs.Int("tg", 128, "tokens of the generation test (0 = skip)")
	streams := fs.Int("streams", 1, "also decode this many sequences together, one token each per pass (test tgNxS: their aggregate t/s; 1 = skip)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	exact := fs.Bool("exact", false, "compute in the exact float32 mode instead of the fast mode")
	simd := fs.String("simd", "", "kernel level: generic, avx2 or avx512 (default: the best this CPU has)")
	bwGiB := fs.Float64("bandwidth-gib", 1, "size of the read-bandwidth test in GiB (0 = skip)")
	shape := fs.String("shape", "", "benchmark a generated random model of this shape")
	typ := fs.String("type", "Q4_K_M", "tensor type of the generated model")
	seed := fs.Uint64("seed", 1, "seed of the generated model")
	generate := fs.Bool("generate", false, "only generate the model (--shape, --type) and print its path")
	cache := fs.String("cache", "", "folder for generated models (default: the user cache folder)/golem/bench")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the tests to this file")

	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var path string
	switch {
	case *shape != "" && len(positional) == 0:
		p, err := generatedModel(*cache, *shape, *typ, *seed, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "golem bench: %v\n", err)
			return 1
		}
		if *generate {
			fmt.Fprintln(stdout, p)
			return 0
		}
		path = p
	case *shape == "" && len(positional) == 1 && !*generate:
		path = positional[0]
	default:
		fs.Usage()
		return 2
	}
	if *reps < 1 || *pp < 0 || *tg < 0 || (*pp == 0 && *tg == 0) {
		fmt.Fprintln(stderr, "golem bench: --reps must be at least 1 and one of --pp, --tg positive")
		return 2
	}
	if *streams < 1 || *streams > 64 || *streams > 1 && *tg == 0 {
		fmt.Fprintln(stderr, "golem bench: --streams must be 1 to 64, and above 1 it needs --tg")
		return 2
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "golem bench: %v\n", err)
			return 1
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintf(stderr, "golem bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := runBench(path, benchConfig{threads: *threads, reps: *reps, pp: *pp, tg: *tg, streams: *streams, exact: *exact, simd: *simd, bwGiB: *bwGiB}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "golem bench: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "golem bench: %v\n", err)
			return 1
		}
		return 0
	}
	printBench(stdout, res)
	return 0
}

// generatedModel returns the path of the cached random model of a shape and
// type, generating it first if needed.
func generatedModel(cache, shapeName, typ string, seed uint64, stderr io.Writer) (string, error) {
	s, ok := genmodel.Shapes[shapeName]
	if !ok {
		return "", fmt.Errorf("unknown shape %q (have %s)", shapeName, strings.Join(genmodel.ShapeNames(), ", "))
	}
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder (%v): give --cache", err)
		}
		cache = filepath.Join(dir, "golem", "bench")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(cache, fmt.Sprintf("%s-%s-seed%d.gguf", shapeName, strings.ToUpper(typ), seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	fmt.Fprintf(stderr, "generating %s (%s, %.2fB parameters)...\n", path, strings.ToUpper(typ), float64(s.Params())/1e9)
	start := time.Now()
	last := time.Now()
	err := genmodel.Generate(context.Background(), path, s, typ, genmodel.Options{Seed: seed, Progress: func(done, total int64) {
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "  %.0f%%\n", 100*float64(done)/float64(total))
		}
	}})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "generated in %v\n", time.Since(start).Round(time.Second))
	return path, nil
}

type benchConfig struct {
	threads, reps, pp, tg, streams int
	exact                          bool
	simd                           string
	bwGiB                          float64
}

func runBench(path string, cfg benchConfig, stderr io.Writer) (*benchResult, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := model.LoadWithOptions(f, model.Options{Threads: cfg.threads, Exact: cfg.exact, SIMD: cfg.simd})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer m.Close()
	mode := "fast"
	if m.Exact() {
		mode = "exact"
	}
	res := &benchResult{Model: path, FileBytes: fi.Size(), Arch: m.Arch, WeightBytes: m.WeightBytes(),
		Threads: m.Threads(), Kernels: m.Level().String(), Mode: mode, CPU: tensor.CPUFeatures()}
	for _, t := range f.Tensors {
		res.Params += int64(t.Elements())
	}
	numCtx := max(cfg.pp, cfg.tg, 16) + 8
	tokens := make([]int32, max(cfg.pp, cfg.tg, 16))
	for i := range tokens {
		tokens[i] = int32(3 + (i*7919)%(m.NVocab-3))
	}
	session := func(batch int) (*model.Session, error) { return m.NewSessionBatch(numCtx, max(batch, 1)) }

	// Warm-up: map the weights in and size the workspaces.
	fmt.Fprintf(stderr, "%s: %s, %.2fB parameters, %d threads, %s kernels, %s mode\n", filepath.Base(path), m.Arch,
		float64(res.Params)/1e9, res.Threads, res.Kernels, mode)
	if s, err := session(16); err != nil {
		return nil, err
	} else if _, err := s.Eval(tokens[:16]); err != nil {
		return nil, err
	} else if _, err := s.Eval(tokens[:1]); err != nil {
		return nil, err
	}

	if cfg.pp > 0 {
		run := benchRun{Name: "pp" + strconv.Itoa(cfg.pp), Tokens: cfg.pp}
		for r := 0; r < cfg.reps; r++ {
			s, err := session(cfg.pp)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			if _, err := s.Eval(tokens[:cfg.pp]); err != nil {
				return nil, err
			}
			run.Runs = append(run.Runs, float64(cfg.pp)/time.Since(start).Seconds())
			fmt.Fprintf(stderr, "  %s run %d: %.2f t/s\n", run.Name, r+1, run.Runs[r])
		}
		res.Tests = append(res.Tests, summarize(run))
	}
	if cfg.tg > 0 {
		// The bandwidth of a shared machine moves from one second to the
		// next (neighbours): each generation run is paired with a read
		// bandwidth test right after it, and the fraction is taken per pair.
		var meter *bwMeter
		if cfg.bwGiB > 0 {
			if meter, err = newBWMeter(cfg.bwGiB, res.Threads, false); err != nil {
				return nil, err
			}
		}
		run := benchRun{Name: "tg" + strconv.Itoa(cfg.tg), Tokens: cfg.tg}
		var last *model.Session
		for r := 0; r < cfg.reps; r++ {
			s, err := session(1)
			if err != nil {
				return nil, err
			}
			last = s
			start := time.Now()
			for i := 0; i < cfg.tg; i++ {
				if _, err := s.Eval(tokens[i : i+1]); err != nil {
					return nil, err
				}
			}
			run.Runs = append(run.Runs, float64(cfg.tg)/time.Since(start).Seconds())
			fmt.Fprintf(stderr, "  %s run %d: %.2f t/s", run.Name, r+1, run.Runs[r])
			if meter != nil {
				bw := slices.Max(meter.read(3))
				f := run.Runs[r] * float64(res.WeightBytes) / (bw * 1e9)
				res.PairedBandwidthRuns = append(res.PairedBandwidthRuns, bw)
				res.PairedFractions = append(res.PairedFractions, f)
				fmt.Fprintf(stderr, ", then %.1f GB/s read: %.2f", bw, f)
			}
			fmt.Fprintln(stderr)
			res.KVBytes = s.CacheBytes()
		}
		if meter != nil {
			meter.close()
			res.PairedFraction = summarize(benchRun{Runs: res.PairedFractions}).Median
		}
		// Resident memory with the last session alive: the mapped file,
		// its cache, the workspace and the runtime.
		runtime.GC()
		debug.FreeOSMemory()
		res.RSSBytes = rss()
		runtime.KeepAlive(last)
		res.Tests = append(res.Tests, summarize(run))
	} else {
		runtime.GC()
		debug.FreeOSMemory()
		res.RSSBytes = rss()
	}
	if res.RSSBytes > 0 {
		res.RSSOverheadBytes = res.RSSBytes - res.FileBytes - res.KVBytes
	}
	if cfg.streams > 1 {
		run, err := benchStreams(m, cfg, numCtx, tokens, stderr)
		if err != nil {
			return nil, err
		}
		res.Tests = append(res.Tests, run)
		for _, t := range res.Tests {
			if t.Name == "tg"+strconv.Itoa(cfg.tg) {
				res.StreamsSpeedup = run.Median / t.Median
			}
		}
	}

	if cfg.bwGiB > 0 {
		if res.BandwidthRuns, err = readBandwidth(cfg.bwGiB, res.Threads, 5, false); err != nil {
			return nil, err
		}
		for _, b := range res.BandwidthRuns {
			res.BandwidthGBs = max(res.BandwidthGBs, b)
		}
		huge, err := readBandwidth(cfg.bwGiB, res.Threads, 5, true)
		if err != nil {
			return nil, err
		}
		for _, b := range huge {
			res.HugeBandwidthGBs = max(res.HugeBandwidthGBs, b)
		}
		for _, t := range res.Tests {
			if t.Name == "tg"+strconv.Itoa(cfg.tg) && res.BandwidthGBs > 0 {
				res.DecodeFraction = t.Median * float64(res.WeightBytes) / (res.BandwidthGBs * 1e9)
			}
		}
	}
	return res, nil
}

// benchStreams decodes cfg.streams sequences together, cfg.tg passes of
// one token each after an untimed prompt of eight tokens per sequence, as
// a server decodes concurrent requests; each run's figure is all
// sequences' tokens over the passes' time.
func benchStreams(m *model.Model, cfg benchConfig, numCtx int, tokens []int32, stderr io.Writer) (benchRun, error) {
	const prompt = 8
	run := benchRun{Name: fmt.Sprintf("tg%dx%d", cfg.tg, cfg.streams), Tokens: cfg.tg * cfg.streams}
	w, err := m.NewWorkspace(max(cfg.streams, prompt), cfg.streams)
	if err != nil {
		return run, err
	}
	var b model.Batch
	for r := 0; r < cfg.reps; r++ {
		seqs := make([]*model.Sequence, cfg.streams)
		for i := range seqs {
			if seqs[i], err = m.NewSequence(numCtx, prompt); err != nil {
				return run, err
			}
			b.Reset()
			for j := 0; j < prompt; j++ {
				b.Add(seqs[i], tokens[(prompt*i+j)%len(tokens)], j == prompt-1)
			}
			if _, err := w.Forward(&b); err != nil {
				return run, err
			}
		}
		start := time.Now()
		for step := 0; step < cfg.tg; step++ {
			b.Reset()
			for i, s := range seqs {
				b.Add(s, tokens[(step+i)%len(tokens)], true)
			}
			if _, err := w.Forward(&b); err != nil {
				return run, err
			}
		}
		run.Runs = append(run.Runs, float64(run.Tokens)/time.Since(start).Seconds())
		fmt.Fprintf(stderr, "  %s run %d: %.2f t/s\n", run.Name, r+1, run.Runs[r])
	}
	return summarize(run), nil
}

func summarize(r benchRun) benchRun {
	s := append([]float64(nil), r.Runs...)
	sort.Float64s(s)
	r.Min, r.Max = s[0], s[len(s)-1]
	if len(s)%2 == 1 {
		r.Median = s[len(s)/2]
	} else {
		r.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return r
}

// bwMeter measures how fast threads workers stream through a buffer of
// pseudo-random data (small pages, or huge ones), as often as asked.
type bwMeter struct {
	buf  []byte
	free func()
	pool *parallel.Pool
	sums []uint64
}

func newBWMeter(gib float64, threads int, huge bool) (*bwMeter, error) {
	n := int(gib * (1 << 30))
	n &^= 1<<20 - 1
	if n == 0 {
		return nil, fmt.Errorf("bandwidth test of %g GiB is below 1 MiB", gib)
	}
	buf, free, err := benchBuffer(n, huge)
	if err != nil {
		return nil, fmt.Errorf("bandwidth test buffer: %w", err)
	}
	// Fill every byte with pseudo-random data: the test must read memory,
	// not the zero page, and no two pages may be equal, or a host that
	// merges identical pages (KSM) serves the test from a few cached pages
	// and reports twice the real bandwidth.
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i+8 <= n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(buf[i:], x)
	}
	pool := parallel.New(threads)
	return &bwMeter{buf: buf, free: free, pool: pool, sums: make([]uint64, pool.Size())}, nil
}

// read streams through the buffer runs times and returns each rate in GB/s.
func (b *bwMeter) read(runs int) []float64 {
	const chunk = 1 << 20
	n := len(b.buf)
	read := func(w, lo, hi int) {
		for c := lo; c < hi; c++ {
			b.sums[w] += tensor.StreamRead(b.buf[c*chunk : (c+1)*chunk])
		}
	}
	var out []float64
	for r := 0; r < runs; r++ {
		start := time.Now()
		b.pool.For(n/chunk, 4, read)
		out = append(out, float64(n)/time.Since(start).Seconds()/1e9)
	}
	runtime.KeepAlive(b.sums)
	return out
}

func (b *bwMeter) close() {
	b.pool.Close()
	b.free()
}

// readBandwidth measures the read bandwidth over gib GiB runs times.
func readBandwidth(gib float64, threads, runs int, huge bool) ([]float64, error) {
	b, err := newBWMeter(gib, threads, huge)
	if err != nil {
		return nil, err
	}
	defer b.close()
	return b.read(runs), nil
}

// rss returns the process's resident memory (Linux), or 0.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func printBench(w io.Writer, r *benchResult) {
	gib := func(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }
	fmt.Fprintf(w, "model: %s (%s, %.2fB parameters, %s)\n", r.Model, r.Arch, float64(r.Params)/1e9, gib(r.FileBytes))
	fmt.Fprintf(w, "threads: %d, kernels: %s, mode: %s\n\n", r.Threads, r.Kernels, r.Mode)
	fmt.Fprintf(w, "| %-8s | %12s | %-21s |\n", "test", "t/s median", "spread (min-max)")
	fmt.Fprintf(w, "|%s|%s|%s|\n", strings.Repeat("-", 10), strings.Repeat("-", 14), strings.Repeat("-", 23))
	for _, t := range r.Tests {
		fmt.Fprintf(w, "| %-8s | %12.2f | %-21s |\n", t.Name, t.Median, fmt.Sprintf("%.2f-%.2f (%d runs)", t.Min, t.Max, len(t.Runs)))
	}
	if r.BandwidthGBs > 0 {
		fmt.Fprintf(w, "\nread bandwidth: %.1f GB/s (best of %d, %d threads, 4 KiB pages like the mapped weights; %.1f GB/s in huge pages)\n",
			r.BandwidthGBs, len(r.BandwidthRuns), r.Threads, r.HugeBandwidthGBs)
		if r.DecodeFraction > 0 {
			fmt.Fprintf(w, "generation: %.2f GB of weights per token, %.2f of the bandwidth limit\n", float64(r.WeightBytes)/1e9, r.DecodeFraction)
		}
	}
	if r.PairedFraction > 0 {
		fs := make([]string, len(r.PairedFractions))
		for i, f := range r.PairedFractions {
			fs[i] = fmt.Sprintf("%.2f of %.1f", f, r.PairedBandwidthRuns[i])
		}
		fmt.Fprintf(w, "generation paired with a bandwidth test after each run: median %.2f (%s GB/s)\n", r.PairedFraction, strings.Join(fs, ", "))
	}
	if r.RSSBytes > 0 {
		fmt.Fprintf(w, "resident memory: %s (file %s, KV cache %s, beyond both %.0f MiB)\n", gib(r.RSSBytes), gib(r.FileBytes), gib(r.KVBytes),
			float64(r.RSSOverheadBytes)/(1<<20))
	}
	if r.StreamsSpeedup > 0 {
		t := r.Tests[len(r.Tests)-1]
		fmt.Fprintf(w, "%s: sequences decoded together reach %.2fx one sequence's speed (aggregate, medians)\n", t.Name, r.StreamsSpeedup)
	}
}
