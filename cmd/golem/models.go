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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/registry"
	"github.com/golem-llm/golem/internal/store"
)

// The model-store commands: pull, push, create, list, show, cp, rm. They
// work on the store at $GOLEM_MODELS (default ~/.golem/models) and print
// what Ollama's CLI prints.

func openStore() (*store.Store, error) { return store.OpenDefault() }

func newRegistryClient(st *store.Store, insecure bool) (*registry.Client, error) {
	cfg, err := registry.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	cfg.Insecure = insecure
	return registry.New(st, cfg), nil
}

// modelFlags is a flag set with the usage line the model commands share.
func modelFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem "+usage)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseArgs parses flags (anywhere among the arguments) and checks the
// number of positional arguments. It returns the exit code to use when
// the command should stop.
func parseArgs(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, int, bool) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

func fail(stderr io.Writer, err error) int {
	if errors.Is(err, context.Canceled) {
		return 130
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	return 1
}

func pullCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("pull", "pull MODEL [--insecure]\n\nDownloads a model from a registry (registry.ollama.ai, hf.co/USER/REPO[:QUANT], or HOST/NAMESPACE/MODEL).\nHF_ENDPOINT, GOLEM_REGISTRY_MIRROR, HF_TOKEN and HTTPS_PROXY are honoured; an interrupted pull resumes.", stderr)
	insecure := fs.Bool("insecure", false, "use plain HTTP for the registry")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		return remotePull(sc, pos[0], *insecure, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	c, err := newRegistryClient(st, *insecure)
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	view := newProgressView(stderr)
	err = c.Pull(ctx, pos[0], view.event)
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func pushCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("push", "push MODEL [--insecure]\n\nUploads a model to the registry its name points at (HOST/NAMESPACE/MODEL[:TAG]).\nGOLEM_REGISTRY_USERNAME and GOLEM_REGISTRY_PASSWORD are sent to the registry's token service;\nwithout them token requests are signed with the ed25519 key at GOLEM_KEY (default\n$GOLEM_HOME/id_ed25519, or ~/.ollama/id_ed25519 when only that exists; made by the first push),\nas ollama.com expects: add its public key (the .pub file) at https://ollama.com/settings/keys.", stderr)
	insecure := fs.Bool("insecure", false, "use plain HTTP for the registry")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		return remotePush(sc, pos[0], *insecure, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	c, err := newRegistryClient(st, *insecure)
	if err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	view := newProgressView(stderr)
	err = c.Push(ctx, pos[0], view.event)
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func createCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("create", "create MODEL [-f Modelfile] [--quantize TYPE]\n\nCreates a model from a Modelfile (FROM a .gguf file or an existing model).", stderr)
	file := fs.String("f", "", "the Modelfile (default ./Modelfile)")
	fs.StringVar(file, "file", "", "the Modelfile (same as -f)")
	var names []string
	for _, t := range store.QuantizeTypes {
		names = append(names, strings.ToLower(t.String()))
	}
	quantize := fs.String("quantize", "", "quantize an F32/F16/BF16 model to TYPE: "+strings.Join(names, ", "))
	fs.StringVar(quantize, "q", "", "same as --quantize")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	path := *file
	if path == "" {
		path = "Modelfile"
	}
	f, err := os.Open(path)
	if err != nil {
		if *file == "" && errors.Is(err, os.ErrNotExist) {
			return fail(stderr, errors.New("no Modelfile in the current folder; give one with -f"))
		}
		return fail(stderr, err)
	}
	mf, err := store.ParseModelfile(f)
	f.Close()
	if err != nil {
		return fail(stderr, fmt.Errorf("%s: %v", path, err))
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		dir, _ := filepath.Abs(filepath.Dir(path))
		return remoteCreate(sc, pos[0], mf, dir, *quantize, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	c, err := newRegistryClient(st, false)
	if err != nil {
		return fail(stderr, err)
	}
	dir, _ := filepath.Abs(filepath.Dir(path))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	view := newProgressView(stderr)
	err = st.Create(ctx, pos[0], mf, store.CreateOptions{Quantize: *quantize, Dir: dir, Pull: c.Pull}, view.event)
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func listCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("list", "list [PREFIX]\n\nLists the models in the store, newest first.", stderr)
	pos, code, ok := parseArgs(fs, args, 0, 1)
	if !ok {
		return code
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		return remoteList(sc, strings.Join(pos, ""), stdout, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	models, err := st.List()
	if err != nil {
		return fail(stderr, err)
	}
	rows := [][]string{{"NAME", "ID", "SIZE", "MODIFIED"}}
	for _, m := range models {
		name := m.Name.DisplayShortest()
		if len(pos) == 1 && !strings.HasPrefix(strings.ToLower(name), strings.ToLower(pos[0])) {
			continue
		}
		rows = append(rows, []string{name, m.ID(), store.HumanBytes(m.Manifest.Size()), humanTime(m.ModifiedAt, time.Now())})
	}
	writeTable(stdout, rows, "")
	return 0
}

// writeTable prints rows in columns separated by four spaces, each line
// starting with indent.
func writeTable(w io.Writer, rows [][]string, indent string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+4))
			}
		}
		bw.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	bw.Flush()
}

// humanTime is Ollama's "2 weeks ago" style.
func humanTime(t, now time.Time) string {
	if t.IsZero() {
		return "Never"
	}
	d := now.Sub(t)
	if d < 0 {
		return humanDuration(-d) + " from now"
	}
	return humanDuration(d) + " ago"
}

func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	m := int(d.Minutes())
	switch {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	h := int(d.Hours() + 0.5)
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

func showCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("show", "show MODEL [--modelfile|--parameters|--template|--system|--license] [-v]\n\nShows a model's details, parameters, template, system prompt and license.", stderr)
	modelfile := fs.Bool("modelfile", false, "print the model's Modelfile")
	parameters := fs.Bool("parameters", false, "print the model's parameters")
	template := fs.Bool("template", false, "print the model's template")
	system := fs.Bool("system", false, "print the model's system prompt")
	license := fs.Bool("license", false, "print the model's license")
	verbose := fs.Bool("verbose", false, "print all of the model's metadata")
	fs.BoolVar(verbose, "v", false, "same as --verbose")
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	n := 0
	for _, b := range []bool{*modelfile, *parameters, *template, *system, *license} {
		if b {
			n++
		}
	}
	if n > 1 {
		fmt.Fprintln(stderr, "Error: only one of --modelfile, --parameters, --template, --system or --license can be given")
		return 2
	}
	var si *store.ShowInfo
	if sc, ok, err := serverClient(); err != nil {
		return fail(stderr, err)
	} else if ok {
		if si, err = remoteShow(sc, pos[0], *verbose); err != nil {
			return fail(stderr, err)
		}
	} else {
		st, err := openStore()
		if err != nil {
			return fail(stderr, err)
		}
		if si, err = st.Show(pos[0], *verbose); err != nil {
			return fail(stderr, err)
		}
	}
	switch {
	case *modelfile:
		fmt.Fprint(stdout, si.Modelfile)
	case *parameters:
		fmt.Fprintln(stdout, si.Parameters)
	case *template:
		fmt.Fprintln(stdout, si.Template)
	case *system:
		fmt.Fprintln(stdout, si.System)
	case *license:
		fmt.Fprintln(stdout, si.License)
	default:
		printShow(stdout, si, *verbose)
	}
	return 0
}

// printShow prints the sections Ollama's `show` prints.
func printShow(w io.Writer, si *store.ShowInfo, verbose bool) {
	section := func(title string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintln(w, "  "+title)
		writeTable(w, rows, "    ")
		fmt.Fprintln(w)
	}
	model := [][]string{{"architecture", si.Details.Family}, {"parameters", si.Details.ParameterSize}}
	if n := si.ContextLength(); n > 0 {
		model = append(model, []string{"context length", strconv.FormatUint(n, 10)})
	}
	if n := si.EmbeddingLength(); n > 0 {
		model = append(model, []string{"embedding length", strconv.FormatUint(n, 10)})
	}
	model = append(model, []string{"quantization", si.Details.QuantizationLevel})
	section("Model", model)
	var caps [][]string
	for _, c := range si.Capabilities {
		caps = append(caps, []string{c})
	}
	section("Capabilities", caps)
	var params [][]string
	for _, line := range strings.Split(si.Parameters, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			params = append(params, []string{k, strings.TrimSpace(v)})
		}
	}
	section("Parameters", params)
	head := func(s string, n int) [][]string {
		var rows [][]string
		count := 0
		for _, line := range strings.Split(s, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			count++
			if n < 0 || count <= n {
				rows = append(rows, []string{line})
			}
		}
		if n >= 0 && count > n {
			rows = append(rows, []string{"..."})
		}
		return rows
	}
	section("System", head(si.System, 2))
	section("License", head(si.License, 2))
	if verbose {
		var meta [][]string
		for _, k := range sortedInfoKeys(si.ModelInfo) {
			v := si.ModelInfo[k]
			s := fmt.Sprint(v)
			if v == nil {
				s = "[...]"
			}
			if len(s) > 80 {
				s = s[:77] + "..."
			}
			meta = append(meta, []string{k, s})
		}
		section("Metadata", meta)
	}
}

func sortedInfoKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func copyCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("cp", "cp SOURCE DESTINATION\n\nGives a model a second name; the files are shared, not copied.", stderr)
	pos, code, ok := parseArgs(fs, args, 2, 2)
	if !ok {
		return code
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		return remoteCopy(sc, pos[0], pos[1], stdout, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	if err := st.Copy(pos[0], pos[1]); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "copied '%s' to '%s'\n", pos[0], pos[1])
	return 0
}

func removeCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("rm", "rm MODEL [MODEL...]\n\nRemoves models, and the files no other model uses.", stderr)
	pos, code, ok := parseArgs(fs, args, 1, -1)
	if !ok {
		return code
	}
	if sc, ok, err := serverClient(); err != nil || ok {
		if err != nil {
			return fail(stderr, err)
		}
		return remoteRemove(sc, pos, stdout, stderr)
	}
	st, err := openStore()
	if err != nil {
		return fail(stderr, err)
	}
	status := 0
	for _, name := range pos {
		if err := st.Delete(name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("model '%s' not found", name)
			}
			status = fail(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "deleted '%s'\n", name)
	}
	return status
}

// resolveModelArg turns the MODEL argument of `golem run` into a GGUF
// path: an existing file is used as it is; anything else is looked up in
// the store by name. The model's stored PARAMETERs become the defaults of
// the matching flags the user did not give.
func resolveModelArg(fs *flag.FlagSet, ref string) (string, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return ref, nil
	} else if store.LooksLikePath(ref) {
		if err == nil {
			return "", fmt.Errorf("%s is not a regular file", ref)
		}
		return "", err
	}
	st, err := openStore()
	if err != nil {
		return "", err
	}
	r, err := st.Resolve(ref)
	if err != nil {
		return "", err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	flagOf := map[string]string{"num_thread": "threads"}
	for _, k := range sortedInfoKeys(r.Parameters) {
		name, ok := flagOf[k]
		if !ok {
			name = strings.ReplaceAll(k, "_", "-")
		}
		if fs.Lookup(name) == nil || explicit[name] {
			continue
		}
		values := []string{fmt.Sprint(r.Parameters[k])}
		if ss, ok := r.Parameters[k].([]string); ok {
			values = ss
		}
		for _, v := range values {
			if err := fs.Set(name, v); err != nil {
				return "", fmt.Errorf("%s: stored parameter %s %q: %v", r.Name, k, v, err)
			}
		}
	}
	return r.ModelPath, nil
}
