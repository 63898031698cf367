package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/store"
)

// Client mode: when a server is running, the commands that touch models
// (run, pull, push, create, list, show, cp, rm, ps, stop) talk to it over
// HTTP, as the ollama CLI does, so that they see and share its store and
// its loaded models. With GOLEM_HOST (or OLLAMA_HOST) set, the server
// there is always used; otherwise a server on the default address is used
// when one answers, and the commands work on the local store directly
// when none does. GOLEM_API_KEY is sent as a Bearer token.

// serverClient returns a client for the running server. ok is false when
// there is none and the command should work locally; err is set when
// GOLEM_HOST names a server that does not answer.
func serverClient() (c *api.Client, ok bool, err error) {
	c, err = api.ClientFromEnv()
	if err != nil {
		return nil, false, err
	}
	explicit := os.Getenv("GOLEM_HOST") != "" || os.Getenv("OLLAMA_HOST") != ""
	timeout := 500 * time.Millisecond
	if explicit {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	herr := c.Heartbeat(ctx)
	var se api.StatusError
	switch {
	case herr == nil:
		return c, true, nil
	case errors.As(herr, &se) && se.StatusCode == http.StatusUnauthorized:
		return nil, false, fmt.Errorf("the server at %s needs an API key: set GOLEM_API_KEY", c.Base())
	case explicit:
		return nil, false, fmt.Errorf("could not connect to the server at %s (GOLEM_HOST): %v", c.Base(), herr)
	}
	return nil, false, nil
}

// needServer is serverClient for commands that only make sense with a
// server (ps, stop).
func needServer() (*api.Client, error) {
	c, ok, err := serverClient()
	if err != nil {
		return nil, err
	}
	if !ok {
		u, _ := api.HostFromEnv()
		return nil, fmt.Errorf("could not connect to a server at %s; start one with 'golem serve'", u.Host)
	}
	return c, nil
}

func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// remoteProgress feeds server progress events to the CLI's progress view.
func remoteProgress(view *progressView) func(api.ProgressResponse) error {
	return func(p api.ProgressResponse) error {
		view.event(store.Progress(p))
		return nil
	}
}

func remotePull(c *api.Client, name string, insecure bool, stderr io.Writer) int {
	ctx, cancel := interruptible()
	defer cancel()
	view := newProgressView(stderr)
	err := c.Pull(ctx, &api.PullRequest{Model: name, Insecure: insecure}, remoteProgress(view))
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func remotePush(c *api.Client, name string, insecure bool, stderr io.Writer) int {
	ctx, cancel := interruptible()
	defer cancel()
	view := newProgressView(stderr)
	err := c.Push(ctx, &api.PushRequest{Model: name, Insecure: insecure}, remoteProgress(view))
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// remoteCreate sends a Modelfile to the server as Ollama's CLI does: a
// FROM that names a local GGUF file is uploaded as a blob first (skipped
// when the server has it), and the other instructions go as fields.
func remoteCreate(c *api.Client, name string, mf *store.Modelfile, dir, quantize string, stderr io.Writer) int {
	ctx, cancel := interruptible()
	defer cancel()
	req := &api.CreateRequest{Model: name, Quantize: quantize, Parameters: map[string]any{}}
	for _, cmd := range mf.Commands {
		switch cmd.Name {
		case "model":
			path := cmd.Args
			if strings.HasPrefix(path, "~/") {
				if home, err := os.UserHomeDir(); err == nil {
					path = filepath.Join(home, path[2:])
				}
			} else if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
				digest, err := uploadBlob(ctx, c, path, stderr)
				if err != nil {
					return fail(stderr, err)
				}
				req.Files = map[string]string{filepath.Base(path): digest}
			} else if store.LooksLikePath(cmd.Args) {
				return fail(stderr, fmt.Errorf("FROM %s: %v", cmd.Args, err))
			} else {
				req.From = cmd.Args
			}
		case "template":
			req.Template = cmd.Args
		case "system":
			req.System = cmd.Args
		case "license":
			l, _ := req.License.([]string)
			req.License = append(l, cmd.Args)
		case "message":
			role, content, _ := strings.Cut(cmd.Args, ": ")
			req.Messages = append(req.Messages, api.Message{Role: role, Content: content})
		case "adapter":
			return fail(stderr, errors.New("ADAPTER is not supported by Golem yet"))
		default:
			v, err := store.ParseParameter(cmd.Name, cmd.Args)
			if err != nil {
				return fail(stderr, err)
			}
			if v == nil {
				continue
			}
			if cmd.Name == "stop" {
				prev, _ := req.Parameters["stop"].([]string)
				req.Parameters["stop"] = append(prev, v.(string))
			} else {
				req.Parameters[cmd.Name] = v
			}
		}
	}
	view := newProgressView(stderr)
	err := c.Create(ctx, req, remoteProgress(view))
	view.stop()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// uploadBlob hashes a file and uploads it unless the server has it.
func uploadBlob(ctx context.Context, c *api.Client, path string, stderr io.Writer) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	has, err := c.HasBlob(ctx, digest)
	if err != nil {
		return "", err
	}
	if has {
		return digest, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "uploading %s\n", filepath.Base(path))
	return digest, c.CreateBlob(ctx, digest, f)
}

func remoteList(c *api.Client, prefix string, stdout, stderr io.Writer) int {
	list, err := c.List(context.Background())
	if err != nil {
		return fail(stderr, err)
	}
	rows := [][]string{{"NAME", "ID", "SIZE", "MODIFIED"}}
	for _, m := range list.Models {
		if prefix != "" && !strings.HasPrefix(strings.ToLower(m.Name), strings.ToLower(prefix)) {
			continue
		}
		rows = append(rows, []string{m.Name, shortID(m.Digest), store.HumanBytes(m.Size), humanTime(m.ModifiedAt, time.Now())})
	}
	writeTable(stdout, rows, "")
	return 0
}

func shortID(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// remoteShow fetches what `show` prints from the server.
func remoteShow(c *api.Client, name string, verbose bool) (*store.ShowInfo, error) {
	r, err := c.Show(context.Background(), &api.ShowRequest{Model: name, Verbose: verbose})
	if err != nil {
		return nil, err
	}
	si := &store.ShowInfo{Name: name, License: r.License, Modelfile: r.Modelfile, Parameters: r.Parameters, Template: r.Template,
		System: r.System, ModelInfo: r.ModelInfo, Capabilities: r.Capabilities, ModifiedAt: r.ModifiedAt,
		Details: store.Details{ParentModel: r.Details.ParentModel, Format: r.Details.Format, Family: r.Details.Family,
			Families: r.Details.Families, ParameterSize: r.Details.ParameterSize, QuantizationLevel: r.Details.QuantizationLevel}}
	for _, m := range r.Messages {
		si.Messages = append(si.Messages, store.Message{Role: m.Role, Content: m.Content})
	}
	return si, nil
}

func remoteCopy(c *api.Client, src, dst string, stdout, stderr io.Writer) int {
	if err := c.Copy(context.Background(), &api.CopyRequest{Source: src, Destination: dst}); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "copied '%s' to '%s'\n", src, dst)
	return 0
}

func remoteRemove(c *api.Client, names []string, stdout, stderr io.Writer) int {
	status := 0
	for _, n := range names {
		if err := c.Delete(context.Background(), &api.DeleteRequest{Model: n}); err != nil {
			status = fail(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "deleted '%s'\n", n)
	}
	return status
}

func psCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("ps", "ps\n\nLists the models the running server has loaded.", stderr)
	if _, code, ok := parseArgs(fs, args, 0, 0); !ok {
		return code
	}
	c, err := needServer()
	if err != nil {
		return fail(stderr, err)
	}
	ps, err := c.ListRunning(context.Background())
	if err != nil {
		return fail(stderr, err)
	}
	rows := [][]string{{"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"}}
	now := time.Now()
	for _, m := range ps.Models {
		until := "Forever"
		if d := m.ExpiresAt.Sub(now); d < 100*365*24*time.Hour {
			until = humanDuration(d) + " from now"
			if d <= 0 {
				until = "Stopping..."
			}
		}
		rows = append(rows, []string{m.Name, shortID(m.Digest), store.HumanBytes(m.Size), "100% CPU", strconv.Itoa(m.ContextLength), until})
	}
	writeTable(stdout, rows, "")
	return 0
}

func stopCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := modelFlags("stop", "stop MODEL\n\nUnloads a model from the running server.", stderr)
	pos, code, ok := parseArgs(fs, args, 1, 1)
	if !ok {
		return code
	}
	c, err := needServer()
	if err != nil {
		return fail(stderr, err)
	}
	zero := &api.Duration{}
	err = c.Generate(context.Background(), &api.GenerateRequest{Model: pos[0], KeepAlive: zero}, func(api.GenerateResponse) error { return nil })
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// runRemote is `golem run` against the server: /api/generate with the raw
// prompt (as the local run continues the text it is given), the session's
// context carried from turn to turn, and the flags the user set sent as
// options over the model's own parameters.
func runRemote(c *api.Client, fs *flag.FlagSet, positional []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts := map[string]any{}
	optionOf := map[string]string{"temperature": "temperature", "top-k": "top_k", "top-p": "top_p", "min-p": "min_p",
		"repeat-penalty": "repeat_penalty", "repeat-last-n": "repeat_last_n", "presence-penalty": "presence_penalty",
		"frequency-penalty": "frequency_penalty", "seed": "seed", "num-predict": "num_predict", "num-ctx": "num_ctx", "threads": "num_thread"}
	verbose := false
	var stops []string
	var bad error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "verbose":
			verbose = f.Value.String() == "true"
		case "stop":
			stops = append(stops, strings.Split(f.Value.String(), ",")...)
		default:
			name, ok := optionOf[f.Name]
			if !ok {
				return
			}
			if n, err := strconv.ParseInt(f.Value.String(), 10, 64); err == nil {
				opts[name] = n
			} else if x, err := strconv.ParseFloat(f.Value.String(), 64); err == nil {
				opts[name] = x
			} else {
				bad = fmt.Errorf("--%s %s: %v", f.Name, f.Value, err)
			}
		}
	})
	if bad != nil {
		return fail(stderr, bad)
	}
	if len(stops) > 0 {
		opts["stop"] = stops
	}
	ctx, cancel := interruptible()
	defer cancel()
	model := positional[0]
	var context []int
	generate := func(prompt string) error {
		var final api.GenerateResponse
		// The plain {{ .Prompt }} template continues the text as the
		// local run does, and (unlike raw) returns the context.
		err := c.Generate(ctx, &api.GenerateRequest{Model: model, Prompt: prompt, Context: context,
			Template: "{{ .Prompt }}", Options: opts}, func(r api.GenerateResponse) error {
			io.WriteString(stdout, r.Response)
			if r.Done {
				final = r
			}
			return nil
		})
		fmt.Fprintln(stdout)
		if err != nil {
			return err
		}
		context = final.Context
		if verbose {
			m := final.Metrics
			rate := func(n int, d time.Duration) float64 {
				if d <= 0 {
					return 0
				}
				return float64(n) / d.Seconds()
			}
			fmt.Fprintf(stderr, "total duration:       %v\n", m.TotalDuration)
			fmt.Fprintf(stderr, "load duration:        %v\n", m.LoadDuration)
			fmt.Fprintf(stderr, "prompt eval count:    %d token(s)\n", m.PromptEvalCount)
			fmt.Fprintf(stderr, "prompt eval duration: %v\n", m.PromptEvalDuration)
			fmt.Fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", rate(m.PromptEvalCount, m.PromptEvalDuration))
			fmt.Fprintf(stderr, "eval count:           %d token(s)\n", m.EvalCount)
			fmt.Fprintf(stderr, "eval duration:        %v\n", m.EvalDuration)
			fmt.Fprintf(stderr, "eval rate:            %.2f tokens/s\n", rate(m.EvalCount, m.EvalDuration))
		}
		return nil
	}
	if len(positional) == 2 {
		if err := generate(positional[1]); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if !isTerminal(stdin) {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fail(stderr, err)
		}
		if err := generate(strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	return interactive(stdin, stdout, stderr, generate)
}
