package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/registry"
)

// Config is everything a Server needs to know; ConfigFromEnv fills it from
// the environment and flags may override fields afterwards.
type Config struct {
	// Addr is the listen address, host:port (GOLEM_HOST, default
	// 127.0.0.1:11434).
	Addr string
	// ModelsDir is the model store root (GOLEM_MODELS; empty = the
	// store's default, ~/.golem/models).
	ModelsDir string
	// APIKeys, when any are set, are required as "Authorization: Bearer
	// KEY" on every endpoint except /healthz (GOLEM_API_KEYS, comma-separated).
	APIKeys []string
	// Origins are extra CORS origins allowed besides the local ones
	// (GOLEM_ORIGINS, comma-separated; "*" allows any; a "*" inside an
	// origin matches any text, as in "https://*.example.com").
	Origins []string
	// Preload names models loaded at start and kept loaded; /readyz
	// answers 200 only once they are (GOLEM_PRELOAD, comma-separated).
	// Those the store lacks are pulled first.
	Preload []string
	// Pull names models pulled at start when the store lacks them, without
	// loading them; /readyz answers 200 only once they are present
	// (GOLEM_PULL, comma-separated).
	Pull []string

	NumParallel  int           // GOLEM_NUM_PARALLEL: sequences per model (default 4)
	MaxLoaded    int           // GOLEM_MAX_LOADED_MODELS (default 3)
	MaxQueue     int           // GOLEM_MAX_QUEUE: waiting requests per model before 503 (default 512)
	KeepAlive    time.Duration // GOLEM_KEEP_ALIVE (default 5m; negative = forever)
	MemoryBudget int64         // GOLEM_MEMORY_BUDGET bytes (default 90% of RAM)
	NumCtx       int           // GOLEM_CONTEXT_LENGTH: default num_ctx (default 4096, capped by the model)
	Threads      int           // GOLEM_NUM_THREADS: workers per model (0 = one per CPU)
	Batch        int           // GOLEM_NUM_BATCH: most tokens per forward pass (0 = engine default)

	// ShutdownTimeout is how long running streams may take to finish on
	// shutdown before they are ended (GOLEM_SHUTDOWN_TIMEOUT, default 30s).
	ShutdownTimeout time.Duration

	// Registry configures pulls and pushes (GOLEM_REGISTRY_MIRROR,
	// HF_ENDPOINT, HF_TOKEN, ...).
	Registry registry.Config

	// Version is reported by /api/version.
	Version string
	// Logger receives request logs; nil logs JSON to stderr at the level
	// of GOLEM_LOG_LEVEL (debug, info, warn, error; default info).
	Logger *slog.Logger
}

// DefaultAddr is where the server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:11434"

// ConfigFromEnv reads the GOLEM_* variables (and OLLAMA_HOST,
// OLLAMA_ORIGINS, OLLAMA_KEEP_ALIVE, OLLAMA_NUM_PARALLEL,
// OLLAMA_MAX_LOADED_MODELS, OLLAMA_MAX_QUEUE, OLLAMA_CONTEXT_LENGTH and
// OLLAMA_MODELS when the GOLEM_ one is unset, so an Ollama setup carries
// over).
func ConfigFromEnv() (Config, error) {
	var cfg Config
	u, err := api.ParseHost(env("GOLEM_HOST", "OLLAMA_HOST"))
	if err != nil {
		return cfg, fmt.Errorf("GOLEM_HOST: %v", err)
	}
	cfg.Addr = u.Host
	cfg.ModelsDir = env("GOLEM_MODELS", "OLLAMA_MODELS")
	cfg.APIKeys = splitList(os.Getenv("GOLEM_API_KEYS"))
	cfg.Origins = splitList(env("GOLEM_ORIGINS", "OLLAMA_ORIGINS"))
	cfg.Preload = splitList(os.Getenv("GOLEM_PRELOAD"))
	cfg.Pull = splitList(os.Getenv("GOLEM_PULL"))
	ints := []struct {
		dst   *int
		names []string
	}{
		{&cfg.NumParallel, []string{"GOLEM_NUM_PARALLEL", "OLLAMA_NUM_PARALLEL"}},
		{&cfg.MaxLoaded, []string{"GOLEM_MAX_LOADED_MODELS", "OLLAMA_MAX_LOADED_MODELS"}},
		{&cfg.MaxQueue, []string{"GOLEM_MAX_QUEUE", "OLLAMA_MAX_QUEUE"}},
		{&cfg.NumCtx, []string{"GOLEM_CONTEXT_LENGTH", "OLLAMA_CONTEXT_LENGTH"}},
		{&cfg.Threads, []string{"GOLEM_NUM_THREADS"}},
		{&cfg.Batch, []string{"GOLEM_NUM_BATCH"}},
	}
	for _, v := range ints {
		s := env(v.names...)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return cfg, fmt.Errorf("%s=%q: want a whole number >= 0", v.names[0], s)
		}
		*v.dst = n
	}
	cfg.KeepAlive = 5 * time.Minute
	if s := env("GOLEM_KEEP_ALIVE", "OLLAMA_KEEP_ALIVE"); s != "" {
		d, err := api.ParseDuration(s)
		if err != nil {
			return cfg, fmt.Errorf("GOLEM_KEEP_ALIVE: %v", err)
		}
		cfg.KeepAlive = d
	}
	if s := os.Getenv("GOLEM_MEMORY_BUDGET"); s != "" {
		n, err := parseBytes(s)
		if err != nil {
			return cfg, fmt.Errorf("GOLEM_MEMORY_BUDGET: %v", err)
		}
		cfg.MemoryBudget = n
	}
	cfg.ShutdownTimeout = 30 * time.Second
	if s := os.Getenv("GOLEM_SHUTDOWN_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("GOLEM_SHUTDOWN_TIMEOUT=%q: want a duration such as 30s", s)
		}
		cfg.ShutdownTimeout = d
	}
	if cfg.Registry, err = registry.ConfigFromEnv(); err != nil {
		return cfg, err
	}
	level := slog.LevelInfo
	if s := os.Getenv("GOLEM_LOG_LEVEL"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return cfg, fmt.Errorf("GOLEM_LOG_LEVEL=%q: want debug, info, warn or error", s)
		}
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// env returns the first non-empty variable among names.
func env(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseBytes reads "8GiB", "512MB", "1073741824".
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as 8GiB", s)
	}
	return int64(f * float64(mult)), nil
}
