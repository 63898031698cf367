package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/server"
)

// serveSignals returns the context that stops the server: SIGINT or
// SIGTERM, and a second one during the graceful shutdown exits at once.
// Tests replace it.
var serveSignals = func(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		fmt.Fprintln(stderr, "golem serve: forced exit")
		os.Exit(130)
	}()
	return ctx, stop
}

func serveCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem serve [--role engine|ui] [flags]")
		fmt.Fprintln(stderr, "\nWithout --role, serves everything on one port (127.0.0.1:11434): the web UI at /, Ollama's API")
		fmt.Fprintln(stderr, "(/api/*), the OpenAI API (/v1/*), a Pipelines server (/pipelines/), /metrics, /healthz and /readyz.")
		fmt.Fprintln(stderr, "--role engine serves the model APIs alone; --role ui the web UI and its API alone (127.0.0.1:8080),")
		fmt.Fprintln(stderr, "reaching models through OLLAMA_BASE_URL(S) and OPENAI_API_BASE_URL(S). See docs/roles.md.")
		fmt.Fprintln(stderr, "\nEnvironment (flags override):")
		for _, e := range serveEnv {
			fmt.Fprintf(stderr, "  %-26s %s\n", e[0], e[1])
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	cfg, err := server.ConfigFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		return 2
	}
	roleFlag := fs.String("role", "", "engine (the model APIs) or ui (the web UI and its API); empty: everything on one port")
	host := fs.String("host", "", "listen address, as GOLEM_HOST (default 127.0.0.1:11434; 127.0.0.1:8080 for --role ui)")
	models := fs.String("models", cfg.ModelsDir, "model store folder (GOLEM_MODELS)")
	parallel := fs.Int("num-parallel", cfg.NumParallel, "sequences decoded together per model (GOLEM_NUM_PARALLEL; 0 = 4)")
	preload := fs.String("preload", strings.Join(cfg.Preload, ","), "models to load at start and keep loaded (GOLEM_PRELOAD)")
	pull := fs.String("pull", strings.Join(cfg.Pull, ","), "models to pull at start when missing, before /readyz is 200 (GOLEM_PULL)")
	keepAlive := fs.String("keep-alive", "", "how long idle models stay loaded, as GOLEM_KEEP_ALIVE (default 5m)")
	threads := fs.Int("threads", cfg.Threads, "worker threads per model (GOLEM_NUM_THREADS; 0 = one per CPU)")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(positional) > 0 {
		fs.Usage()
		return 2
	}
	role, err := parseRole(*roleFlag)
	if err != nil {
		fmt.Fprintf(stderr, "golem serve: --role: %v\n", err)
		return 2
	}
	if role == roleUI {
		// The UI's address is its own: OLLAMA_HOST names a model server.
		if cfg.Addr, err = listenAddr(os.Getenv("GOLEM_HOST"), uiDefaultPort); err != nil {
			fmt.Fprintf(stderr, "golem serve: GOLEM_HOST: %v\n", err)
			return 2
		}
	}
	if *host != "" {
		def := api.DefaultPort
		if role == roleUI {
			def = uiDefaultPort
		}
		addr, err := listenAddr(*host, def)
		if err != nil {
			fmt.Fprintf(stderr, "golem serve: --host: %v\n", err)
			return 2
		}
		cfg.Addr = addr
	}
	if *keepAlive != "" {
		d, err := api.ParseDuration(*keepAlive)
		if err != nil {
			fmt.Fprintf(stderr, "golem serve: --keep-alive: %v\n", err)
			return 2
		}
		cfg.KeepAlive = d
	}
	cfg.ModelsDir, cfg.NumParallel, cfg.Threads = *models, *parallel, *threads
	cfg.Preload, cfg.Pull = splitNames(*preload), splitNames(*pull)
	cfg.Version = version
	if f, ok := stderr.(*os.File); !ok || f != os.Stderr {
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(stderr, "Is another server (golem or ollama) already listening on %s? Set GOLEM_HOST to use another address.\n", cfg.Addr)
		}
		return 1
	}
	ctx, stop := serveSignals(stderr)
	defer stop()
	app, err := compose(ctx, role, cfg, ln.Addr(), os.Getenv)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		return 1
	}
	defer app.close()
	what := ""
	switch role {
	case roleEngine:
		what = " (engine)"
	case roleUI:
		what = " (web UI)"
	}
	fmt.Fprintf(stdout, "Golem %s%s listening on http://%s\n", version, what, ln.Addr())
	for _, n := range app.notes {
		fmt.Fprintln(stdout, n)
	}
	if err := app.serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		return 1
	}
	return 0
}

// splitNames reads a comma-separated list of model names.
func splitNames(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveEnv documents the server's environment in `golem serve --help`.
var serveEnv = [][2]string{
	{"GOLEM_HOST", "listen address: host:port, :port, 0.0.0.0 or http://host:port (also OLLAMA_HOST)"},
	{"GOLEM_MODELS", "model store folder (default ~/.golem/models; also OLLAMA_MODELS)"},
	{"GOLEM_API_KEYS", "comma-separated keys the model APIs require as 'Authorization: Bearer KEY' (web UI keys work too)"},
	{"GOLEM_ORIGINS", "extra CORS origins allowed, comma-separated, * wildcards (also OLLAMA_ORIGINS)"},
	{"GOLEM_HOME", "data folder: models, golem.db, pipelines (default ~/.golem)"},
	{"GOLEM_PRELOAD", "models pulled if missing, loaded at start and kept; /readyz is 200 once they are"},
	{"GOLEM_PULL", "models pulled at start if missing (not loaded); /readyz is 200 once they are present"},
	{"GOLEM_NUM_PARALLEL", "sequences decoded together per model (default 4)"},
	{"GOLEM_MAX_LOADED_MODELS", "models loaded at once (default 3)"},
	{"GOLEM_MAX_QUEUE", "waiting requests per model before 503 (default 512)"},
	{"GOLEM_KEEP_ALIVE", "idle time before a model is unloaded (default 5m; -1 = never)"},
	{"GOLEM_CONTEXT_LENGTH", "default num_ctx (default 4096, capped by the model)"},
	{"GOLEM_MEMORY_BUDGET", "bytes for weights and KV caches, e.g. 8GiB (default 90% of RAM)"},
	{"GOLEM_SHUTDOWN_TIMEOUT", "time running streams get to finish on shutdown (default 30s)"},
	{"GOLEM_LOG_LEVEL", "debug, info, warn or error (default info)"},
	{"GOLEM_REGISTRY_MIRROR", "registry mirror URL, or host=URL pairs"},
	{"HF_ENDPOINT", "Hugging Face endpoint for hf.co/... names (e.g. https://hf-mirror.com)"},
	{"GOLEM_KEY", "ed25519 key signing registry token requests, for pushes to ollama.com (default $GOLEM_HOME/id_ed25519, or ~/.ollama/id_ed25519 when only that exists)"},
	{"DATABASE_URL", "web UI: PostgreSQL URL (default SQLite $GOLEM_HOME/golem.db)"},
	{"WEBUI_SECRET_KEY", "web UI: session signing secret (default: made once, kept in the database)"},
	{"OLLAMA_BASE_URL(S)", "web UI: Ollama-API connections, ;-separated"},
	{"OPENAI_API_BASE_URL(S)", "web UI: OpenAI-API connections, ;-separated, keys in OPENAI_API_KEY(S) in the same order"},
	{"PIPELINES_API_KEY", "all in one: key of /pipelines/ (default: made once, kept in $GOLEM_HOME/pipelines/.api-key)"},
}
