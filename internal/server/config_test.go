package server

import (
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	for _, k := range []string{"OLLAMA_HOST", "OLLAMA_ORIGINS", "OLLAMA_KEEP_ALIVE", "OLLAMA_NUM_PARALLEL", "OLLAMA_MODELS",
		"OLLAMA_MAX_LOADED_MODELS", "OLLAMA_MAX_QUEUE", "OLLAMA_CONTEXT_LENGTH", "GOLEM_MEMORY_BUDGET", "GOLEM_SHUTDOWN_TIMEOUT",
		"GOLEM_LOG_LEVEL", "GOLEM_REGISTRY_MIRROR", "HF_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("GOLEM_HOST", "0.0.0.0")
	t.Setenv("GOLEM_API_KEYS", " a, b ,,")
	t.Setenv("GOLEM_ORIGINS", "https://*.example.com")
	t.Setenv("GOLEM_PRELOAD", "llama3,mistral")
	t.Setenv("GOLEM_NUM_PARALLEL", "8")
	t.Setenv("GOLEM_KEEP_ALIVE", "-1")
	t.Setenv("GOLEM_MEMORY_BUDGET", "2GiB")
	t.Setenv("OLLAMA_MAX_QUEUE", "7")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "0.0.0.0:11434" || len(cfg.APIKeys) != 2 || cfg.APIKeys[1] != "b" || cfg.Origins[0] != "https://*.example.com" ||
		len(cfg.Preload) != 2 || cfg.NumParallel != 8 || cfg.KeepAlive >= 0 || cfg.MemoryBudget != 2<<30 || cfg.MaxQueue != 7 ||
		cfg.ShutdownTimeout != 30*time.Second {
		t.Fatalf("config: %+v", cfg)
	}
	for _, tc := range []struct{ host, addr string }{{":8080", ":8080"}, {"http://10.0.0.1:9", "10.0.0.1:9"}, {"", "127.0.0.1:11434"}} {
		t.Setenv("GOLEM_HOST", tc.host)
		if cfg, err := ConfigFromEnv(); err != nil || cfg.Addr != tc.addr {
			t.Errorf("GOLEM_HOST=%q: %q %v, want %q", tc.host, cfg.Addr, err, tc.addr)
		}
	}
	t.Setenv("GOLEM_HOST", "")
	t.Setenv("OLLAMA_HOST", "127.0.0.1:5555")
	if cfg, _ := ConfigFromEnv(); cfg.Addr != "127.0.0.1:5555" {
		t.Errorf("OLLAMA_HOST not read: %q", cfg.Addr)
	}
	for k, v := range map[string]string{"GOLEM_NUM_PARALLEL": "four", "GOLEM_KEEP_ALIVE": "soon", "GOLEM_MEMORY_BUDGET": "lots",
		"GOLEM_HOST": "ftp://x", "GOLEM_LOG_LEVEL": "loud", "GOLEM_SHUTDOWN_TIMEOUT": "-3s"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := ConfigFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		})
	}
}
