package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golem-llm/golem/internal/pipelines"
)

// upstreamDefaultKey is the key Open WebUI's Pipelines server uses when
// none is set, and the one Open WebUI's chart configures for it; Golem
// accepts it so that existing setups keep working, and warns.
const upstreamDefaultKey = "0p3n-w3bu!"

// pipelinesSignals returns the context that stops the server; tests
// replace it.
var pipelinesSignals = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// pipelinesEnv documents the environment in `golem pipelines --help`.
var pipelinesEnv = [][2]string{
	{"PIPELINES_HOST", "listen address: host or host:port (default 0.0.0.0:9099)"},
	{"PIPELINES_API_KEY", "bearer key every request but /healthz and /readyz needs (default " + upstreamDefaultKey + ", as Open WebUI's Pipelines)"},
	{"PIPELINES_DIR", "data folder: pipelines (<id>.star) and valves (default $GOLEM_HOME/pipelines or ~/.golem/pipelines)"},
	{"PIPELINES_URLS", "pipelines to install at start, separated by ; or , (http, https, file; GitHub page URLs work)"},
	{"PIPELINES_HTTP_ALLOW", "hosts scripts may reach with http.* or models.*(url=...), comma-separated; *.example.com, host:port, *"},
	{"PIPELINES_MODELS_URL", "OpenAI-compatible API for models.* (default " + pipelines.DefaultModelsURL + ", Golem's)"},
	{"PIPELINES_MODELS_API_KEY", "key for that API (default GOLEM_API_KEY)"},
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func defaultPipelinesDir() string {
	if d := os.Getenv("PIPELINES_DIR"); d != "" {
		return d
	}
	if h := os.Getenv("GOLEM_HOME"); h != "" {
		return filepath.Join(h, "pipelines")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".golem", "pipelines")
	}
	return "pipelines"
}

// pipelinesListen reads PIPELINES_HOST: "host" or "host:port"; the
// default is 0.0.0.0:9099, as Open WebUI's Pipelines listens.
func pipelinesListen(s string) (string, int) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "0.0.0.0", 9099
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return h, n
		}
	}
	return strings.Trim(s, "[]"), 9099
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func pipelinesCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipelines", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem pipelines [flags]")
		fmt.Fprintln(stderr, "\nServes Open WebUI's Pipelines protocol: filters, pipes and manifolds written in Starlark")
		fmt.Fprintln(stderr, "(see examples/pipelines), run in a sandbox. Add it to the web UI as an OpenAI connection")
		fmt.Fprintln(stderr, "with its URL (http://HOST:9099) and API key.")
		fmt.Fprintln(stderr, "\nEnvironment (flags override):")
		for _, e := range pipelinesEnv {
			fmt.Fprintf(stderr, "  %-26s %s\n", e[0], e[1])
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	defHost, defPort := pipelinesListen(os.Getenv("PIPELINES_HOST"))
	host := fs.String("host", defHost, "address to listen on, or host:port (PIPELINES_HOST)")
	port := fs.Int("port", defPort, "port to listen on")
	dir := fs.String("data-dir", defaultPipelinesDir(), "folder of pipelines and valves (PIPELINES_DIR)")
	key := fs.String("api-key", os.Getenv("PIPELINES_API_KEY"), "bearer key every request needs (PIPELINES_API_KEY)")
	urls := fs.String("urls", os.Getenv("PIPELINES_URLS"), "pipelines to install at start (PIPELINES_URLS)")
	var allow stringsFlag
	fs.Var(&allow, "allow-host", "host scripts may reach (repeatable; adds to PIPELINES_HTTP_ALLOW)")
	modelsURL := fs.String("models-url", envOr("PIPELINES_MODELS_URL", pipelines.DefaultModelsURL), "OpenAI-compatible API for models.*")
	modelsKey := fs.String("models-api-key", envOr("PIPELINES_MODELS_API_KEY", os.Getenv("GOLEM_API_KEY")), "key for --models-url")
	if _, err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	portSet := false
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" })
	if h, p, err := net.SplitHostPort(*host); err == nil {
		// --host host:port (or PIPELINES_HOST's port): --port, when given, wins.
		*host = h
		if n, err := strconv.Atoi(p); err == nil && !portSet {
			*port = n
		}
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "golem pipelines: --port %d: want 0 to 65535\n", *port)
		return 2
	}
	hosts, err := pipelines.ParseHostList(os.Getenv("PIPELINES_HTTP_ALLOW") + "," + strings.Join(allow, ","))
	if err != nil {
		fmt.Fprintf(stderr, "golem pipelines: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *key == "" {
		*key = upstreamDefaultKey
		log.Warn("PIPELINES_API_KEY is not set: using Open WebUI's well-known default key; set a key of your own")
	}

	ctx, stop := pipelinesSignals()
	defer stop()
	m, err := pipelines.Open(ctx, pipelines.Options{
		Dir: *dir, APIKey: *key, AllowHosts: hosts,
		ModelsURL: *modelsURL, ModelsAPIKey: *modelsKey, Logger: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "golem pipelines: %v\n", err)
		return 1
	}
	if *urls != "" {
		if errs := m.InstallURLs(ctx, *urls); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(stderr, "golem pipelines: PIPELINES_URLS: %v\n", e)
			}
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(stderr, "golem pipelines: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(stdout, "Golem pipelines listening on http://%s (data in %s, %d pipelines)\n", ln.Addr(), *dir, len(m.List()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "golem pipelines: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "golem pipelines: shutdown: %v\n", err)
		return 1
	}
	return 0
}
