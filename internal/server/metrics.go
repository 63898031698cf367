package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/golem-llm/golem/internal/sched"
)

// metrics are the server's Prometheus series. Every inference series is
// exported twice: under golem_ names, and under the vllm: names that
// Kubernetes inference gateways (Gateway API inference extension, KServe,
// llm-d) read to route by queue depth and KV-cache use.
type metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec   // endpoint, code
	requestDuration *prometheus.HistogramVec // endpoint
	inflight        prometheus.Gauge

	promptTokens [2]*prometheus.CounterVec // golem, vllm
	genTokens    [2]*prometheus.CounterVec
	cachedTokens *prometheus.CounterVec
	ttft         [2]*prometheus.HistogramVec
	tpot         [2]*prometheus.HistogramVec
	e2e          [2]*prometheus.HistogramVec
	success      *prometheus.CounterVec // vllm:request_success_total{finished_reason}
	rejected     *prometheus.CounterVec // requests refused with 503 (queue full)
}

var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}
	tpotBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5}
	e2eBuckets  = []float64{0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960}
)

func newMetrics(s *sched.Scheduler) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	model := []string{"model"}
	vmodel := []string{"model_name"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "golem_http_requests_total",
		Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "golem_http_request_duration_seconds",
		Help: "Time from request to the end of the response (streams included).", Buckets: e2eBuckets}, []string{"endpoint"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "golem_http_requests_in_flight", Help: "HTTP requests being served."})
	m.promptTokens[0] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "golem_prompt_tokens_total",
		Help: "Prompt tokens processed (including those served from the prefix cache)."}, model)
	m.promptTokens[1] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vllm:prompt_tokens_total",
		Help: "Number of prefill tokens processed."}, vmodel)
	m.genTokens[0] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "golem_generation_tokens_total",
		Help: "Tokens generated."}, model)
	m.genTokens[1] = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vllm:generation_tokens_total",
		Help: "Number of generation tokens processed."}, vmodel)
	m.cachedTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "golem_prompt_cached_tokens_total",
		Help: "Prompt tokens served from the prefix cache instead of being evaluated."}, model)
	m.ttft[0] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "golem_time_to_first_token_seconds",
		Help: "Time from request submission to the first generated token.", Buckets: ttftBuckets}, model)
	m.ttft[1] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vllm:time_to_first_token_seconds",
		Help: "Histogram of time to first token in seconds.", Buckets: ttftBuckets}, vmodel)
	m.tpot[0] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "golem_time_per_output_token_seconds",
		Help: "Mean time between generated tokens of a request.", Buckets: tpotBuckets}, model)
	m.tpot[1] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vllm:time_per_output_token_seconds",
		Help: "Histogram of time per output token in seconds.", Buckets: tpotBuckets}, vmodel)
	m.e2e[0] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "golem_e2e_request_latency_seconds",
		Help: "Time from submission to the end of a generation.", Buckets: e2eBuckets}, model)
	m.e2e[1] = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vllm:e2e_request_latency_seconds",
		Help: "Histogram of end to end request latency in seconds.", Buckets: e2eBuckets}, vmodel)
	m.success = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vllm:request_success_total",
		Help: "Count of successfully processed requests."}, []string{"model_name", "finished_reason"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "golem_requests_rejected_total",
		Help: "Generation requests refused because the model's queue was full (HTTP 503)."}, model)

	m.reg.MustRegister(m.requests, m.requestDuration, m.inflight, m.cachedTokens, m.success, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i := 0; i < 2; i++ {
		m.reg.MustRegister(m.promptTokens[i], m.genTokens[i], m.ttft[i], m.tpot[i], m.e2e[i])
	}
	m.reg.MustRegister(&schedCollector{s: s})
	return m
}

// observeGeneration records a finished generation.
func (m *metrics) observeGeneration(model string, promptTokens, cached, genTokens int, ttft, eval, total time.Duration, reason string) {
	for i := 0; i < 2; i++ {
		m.promptTokens[i].WithLabelValues(model).Add(float64(promptTokens + cached))
		m.genTokens[i].WithLabelValues(model).Add(float64(genTokens))
		if genTokens > 0 {
			m.ttft[i].WithLabelValues(model).Observe(ttft.Seconds())
		}
		if genTokens > 1 {
			m.tpot[i].WithLabelValues(model).Observe(eval.Seconds() / float64(genTokens-1))
		}
		m.e2e[i].WithLabelValues(model).Observe(total.Seconds())
	}
	m.cachedTokens.WithLabelValues(model).Add(float64(cached))
	if reason != "" {
		m.success.WithLabelValues(model, reason).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// schedCollector reads the scheduler's loaded models and their runners'
// counters at scrape time.
type schedCollector struct{ s *sched.Scheduler }

var (
	descLoaded     = prometheus.NewDesc("golem_loaded_models", "Models loaded in memory.", nil, nil)
	descModelBytes = prometheus.NewDesc("golem_model_memory_bytes", "Bytes of weights and KV cache of a loaded model.", []string{"model"}, nil)
	descRunning    = prometheus.NewDesc("golem_requests_running", "Sequences being decoded (in the running batch).", []string{"model"}, nil)
	descWaiting    = prometheus.NewDesc("golem_requests_waiting", "Requests queued for a free sequence slot (queue depth).", []string{"model"}, nil)
	descKV         = prometheus.NewDesc("golem_kv_cache_usage_ratio", "Fraction of the KV cache holding tokens (0-1).", []string{"model"}, nil)
	descKVBytes    = prometheus.NewDesc("golem_kv_cache_bytes", "Bytes of KV cache allocated.", []string{"model"}, nil)
	descVRunning   = prometheus.NewDesc("vllm:num_requests_running", "Number of requests in model execution batches.", []string{"model_name"}, nil)
	descVWaiting   = prometheus.NewDesc("vllm:num_requests_waiting", "Number of requests waiting to be processed.", []string{"model_name"}, nil)
	descVGPUCache  = prometheus.NewDesc("vllm:gpu_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", []string{"model_name"}, nil)
	descVKVCache   = prometheus.NewDesc("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", []string{"model_name"}, nil)
)

func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLoaded, descModelBytes, descRunning, descWaiting, descKV, descKVBytes,
		descVRunning, descVWaiting, descVGPUCache, descVKVCache} {
		ch <- d
	}
}

func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	running := c.s.Running()
	ch <- prometheus.MustNewConstMetric(descLoaded, prometheus.GaugeValue, float64(len(running)))
	seen := map[string]bool{}
	for _, ms := range running {
		if seen[ms.Name] {
			continue // the same name twice would be a duplicate series
		}
		seen[ms.Name] = true
		st := ms.Runner.Stats()
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, ms.Name)
		}
		g(descModelBytes, float64(ms.Size))
		g(descRunning, float64(st.Running))
		g(descWaiting, float64(st.Waiting))
		g(descKV, st.KVCacheUsedFraction)
		g(descKVBytes, float64(st.KVCacheBytes))
		g(descVRunning, float64(st.Running))
		g(descVWaiting, float64(st.Waiting))
		g(descVGPUCache, st.KVCacheUsedFraction)
		g(descVKVCache, st.KVCacheUsedFraction)
	}
}
