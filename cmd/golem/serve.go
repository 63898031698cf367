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

func serveCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem serve [flags]")
		fmt.Fprintln(stderr, "\nServes Ollama's API (/api/*) and the OpenAI API (/v1/*), with /metrics, /healthz and /readyz.")
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
	host := fs.String("host", "", "listen address, as GOLEM_HOST (default 127.0.0.1:11434)")
	models := fs.String("models", cfg.ModelsDir, "model store folder (GOLEM_MODELS)")
	parallel := fs.Int("num-parallel", cfg.NumParallel, "sequences decoded together per model (GOLEM_NUM_PARALLEL; 0 = 4)")
	preload := fs.String("preload", strings.Join(cfg.Preload, ","), "models to load at start and keep loaded (GOLEM_PRELOAD)")
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
	if *host != "" {
		u, err := api.ParseHost(*host)
		if err != nil {
			fmt.Fprintf(stderr, "golem serve: --host: %v\n", err)
			return 2
		}
		cfg.Addr = u.Host
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
	cfg.Preload = nil
	for _, p := range strings.Split(*preload, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Preload = append(cfg.Preload, p)
		}
	}
	cfg.Version = version
	if f, ok := stderr.(*os.File); !ok || f != os.Stderr {
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}

	s, err := server.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(stderr, "Is another server (golem or ollama) already listening on %s? Set GOLEM_HOST to use another address.\n", cfg.Addr)
		}
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "Golem %s listening on http://%s\n", version, ln.Addr())
	go func() {
		// A second signal during the graceful shutdown exits at once.
		<-ctx.Done()
		stop()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		fmt.Fprintln(stderr, "golem serve: forced exit")
		os.Exit(130)
	}()
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "golem serve: %v\n", err)
		return 1
	}
	return 0
}

// serveEnv documents the server's environment in `golem serve --help`.
var serveEnv = [][2]string{
	{"GOLEM_HOST", "listen address: host:port, :port, 0.0.0.0 or http://host:port (also OLLAMA_HOST)"},
	{"GOLEM_MODELS", "model store folder (default ~/.golem/models; also OLLAMA_MODELS)"},
	{"GOLEM_API_KEYS", "comma-separated keys required as 'Authorization: Bearer KEY' (not on /healthz)"},
	{"GOLEM_ORIGINS", "extra CORS origins allowed, comma-separated, * wildcards (also OLLAMA_ORIGINS)"},
	{"GOLEM_PRELOAD", "models pulled if missing, loaded at start and kept; /readyz is 200 once they are"},
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
}
