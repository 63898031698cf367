package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/sample"
	"github.com/golem-llm/golem/internal/store"
)

// defaultNumCtx is Ollama's default context size; it is capped by the
// context the model was trained for unless --num-ctx asks for more.
const defaultNumCtx = 4096

func runCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem run MODEL [PROMPT] [flags]")
		fmt.Fprintln(stderr, "\nMODEL is a .gguf file or the name of a model in the store (see golem pull, golem list).")
		fmt.Fprintln(stderr, "\nWith PROMPT, prints the generated text and exits. Without it, reads the prompt from")
		fmt.Fprintln(stderr, "standard input when it is piped, or starts an interactive session on a terminal.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	def := sample.DefaultOptions()
	temperature := fs.Float64("temperature", float64(def.Temperature), "sampling temperature; 0 is greedy (the most likely token)")
	topK := fs.Int("top-k", def.TopK, "sample from the k most likely tokens (0 = all)")
	topP := fs.Float64("top-p", float64(def.TopP), "sample from the smallest set of tokens whose probability reaches p")
	minP := fs.Float64("min-p", float64(def.MinP), "drop tokens less likely than min-p times the most likely one")
	repeatPenalty := fs.Float64("repeat-penalty", float64(def.RepeatPenalty), "penalty for repeating recent tokens (1 = none)")
	repeatLastN := fs.Int("repeat-last-n", def.RepeatLastN, "how many recent tokens the penalties look at (-1 = the whole context)")
	presence := fs.Float64("presence-penalty", float64(def.PresencePenalty), "penalty for tokens already present")
	frequency := fs.Float64("frequency-penalty", float64(def.FrequencyPenalty), "penalty growing with each repetition of a token")
	seed := fs.Int64("seed", def.Seed, "random seed (-1 = random); the same seed gives the same output")
	numPredict := fs.Int("num-predict", -1, "most tokens to generate (-1 = until the model stops or the context is full)")
	numCtx := fs.Int("num-ctx", 0, fmt.Sprintf("context size in tokens (default %d, or the model's training context if smaller)", defaultNumCtx))
	threads := fs.Int("threads", 0, "worker threads (0 = one per CPU)")
	var stops stringList
	fs.Var(&stops, "stop", "stop sequence (repeatable)")
	verbose := fs.Bool("verbose", false, "print token counts and speeds after each answer")

	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(positional) == 0 || len(positional) > 2 {
		fs.Usage()
		return 2
	}
	// A model name (not a file) runs on the server when one is up.
	if fi, err := os.Stat(positional[0]); (err != nil || !fi.Mode().IsRegular()) && !store.LooksLikePath(positional[0]) {
		if c, ok, err := serverClient(); err != nil {
			fmt.Fprintf(stderr, "golem run: %v\n", err)
			return 1
		} else if ok {
			return runRemote(c, fs, positional, stdin, stdout, stderr)
		}
	}
	modelPath, err := resolveModelArg(fs, positional[0])
	if err != nil {
		fmt.Fprintf(stderr, "golem run: %v\n", err)
		return 1
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	opts := runner.Options{NumPredict: *numPredict, Stop: stops}
	opts.Sample = sample.Options{
		Temperature: float32(*temperature), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
		RepeatPenalty: float32(*repeatPenalty), RepeatLastN: *repeatLastN,
		PresencePenalty: float32(*presence), FrequencyPenalty: float32(*frequency), Seed: *seed,
	}
	// Temperature 0 means greedy: the argmax of the model's own logits,
	// unless a penalty was asked for explicitly.
	if opts.Sample.Temperature <= 0 {
		if !set["repeat-penalty"] {
			opts.Sample.RepeatPenalty = 1
		}
		if !set["presence-penalty"] {
			opts.Sample.PresencePenalty = 0
		}
		if !set["frequency-penalty"] {
			opts.Sample.FrequencyPenalty = 0
		}
	}
	if _, err := sample.New(opts.Sample); err != nil {
		fmt.Fprintf(stderr, "golem run: %v\n", err)
		return 2
	}

	loadStart := time.Now()
	l, err := runner.LoadFile(modelPath, *threads)
	if err != nil {
		fmt.Fprintf(stderr, "golem run: %v\n", err)
		return 1
	}
	defer l.Close()
	ctxSize := *numCtx
	if ctxSize <= 0 {
		ctxSize = min(defaultNumCtx, l.ContextLength())
	}
	r, err := runner.NewRunner(l, runner.Config{NumParallel: 1, NumCtx: ctxSize})
	if err != nil {
		fmt.Fprintf(stderr, "golem run: %v\n", err)
		return 1
	}
	defer r.Close()
	loadDur := time.Since(loadStart)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// history holds every token of the conversation so far, so each turn
	// continues it (the runner reuses the cached prefix).
	var history []int32
	generate := func(prompt string) error {
		start := time.Now()
		ids := append(append([]int32{}, history...), l.Tokenizer.Encode(prompt, len(history) == 0, true)...)
		stream, err := r.Submit(ctx, &runner.Request{Prompt: ids, Options: opts})
		if err != nil {
			return err
		}
		w := bufio.NewWriter(stdout)
		defer w.Flush()
		var st runner.Stats
		for {
			ev, ok := stream.Next(ctx)
			if !ok {
				break
			}
			ids = append(ids, ev.Tokens...)
			if ev.Text != "" {
				w.WriteString(ev.Text)
				w.Flush()
			}
			if ev.Done {
				if ev.Err != nil {
					w.WriteString("\n")
					return ev.Err
				}
				st = ev.Stats
			}
		}
		w.WriteString("\n")
		w.Flush()
		history = ids
		if *verbose {
			printStats(stderr, st, time.Since(start), loadDur)
			loadDur = 0
		}
		return nil
	}

	if len(positional) == 2 {
		if err := generate(positional[1]); err != nil {
			fmt.Fprintf(stderr, "golem run: %v\n", err)
			return 1
		}
		return 0
	}
	if !isTerminal(stdin) {
		data, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "golem run: reading the prompt from standard input: %v\n", err)
			return 1
		}
		// A piped prompt usually ends with the newline of its last line.
		prompt := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if err := generate(prompt); err != nil {
			fmt.Fprintf(stderr, "golem run: %v\n", err)
			return 1
		}
		return 0
	}
	return interactive(stdin, stdout, stderr, generate)
}

// interactive reads prompts line by line until end of input or /bye. The
// session keeps its context between turns, so each prompt continues the
// text so far.
func interactive(stdin io.Reader, stdout, stderr io.Writer, generate func(string) error) int {
	fmt.Fprintln(stdout, "Type a prompt and press Enter. /bye or Ctrl-D ends the session.")
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 16<<20)
	for {
		fmt.Fprint(stdout, ">>> ")
		if !in.Scan() {
			fmt.Fprintln(stdout)
			return 0
		}
		line := strings.TrimSpace(in.Text())
		switch line {
		case "":
			continue
		case "/bye", "/exit", "/quit":
			return 0
		}
		if err := generate(line); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			if errors.Is(err, context.Canceled) {
				return 130
			}
		}
	}
}

func printStats(w io.Writer, st runner.Stats, total, load time.Duration) {
	rate := func(n int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	fmt.Fprintf(w, "total duration:       %v\n", total+load)
	fmt.Fprintf(w, "load duration:        %v\n", load)
	fmt.Fprintf(w, "prompt eval count:    %d token(s)\n", st.PromptTokens)
	if st.CachedTokens > 0 {
		fmt.Fprintf(w, "prompt cache hits:    %d token(s)\n", st.CachedTokens)
	}
	fmt.Fprintf(w, "prompt eval duration: %v\n", st.PromptDuration)
	fmt.Fprintf(w, "prompt eval rate:     %.2f tokens/s\n", rate(st.PromptTokens, st.PromptDuration))
	fmt.Fprintf(w, "eval count:           %d token(s)\n", st.EvalTokens)
	fmt.Fprintf(w, "eval duration:        %v\n", st.EvalDuration)
	fmt.Fprintf(w, "eval rate:            %.2f tokens/s\n", rate(st.EvalTokens, st.EvalDuration))
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, as users type them (golem run m.gguf "hi" --verbose).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// The flag package stops after "--": everything after it is positional.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
