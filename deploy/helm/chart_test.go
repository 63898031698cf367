package helm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

const seedNS = "kube-ai"

func seedFile(t testing.TB, name string) string { return shared(t, "seed", name) }

func TestLintStrict(t *testing.T) {
	helm := helmBinary(t)
	for _, f := range []string{"", "myvalues.yaml", "myvalues-full.yaml"} {
		args := []string{"lint", "--strict", chartDir(t), "--namespace", seedNS}
		if f != "" {
			args = append(args, "-f", seedFile(t, f))
		}
		if out, err := runHelm(t, helm, args...); err != nil {
			t.Errorf("lint with %q: %v", f, err)
		} else if !strings.Contains(out, "0 chart(s) failed") {
			t.Errorf("lint with %q:\n%s", f, out)
		}
	}
}

func service(t *testing.T, m *manifest, name string) *corev1.Service {
	t.Helper()
	s := m.Services[name]
	if s == nil {
		t.Fatalf("no Service %s; have %v", name, keys(m.Services))
	}
	return s
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func wantPort(t *testing.T, s *corev1.Service, port int32, typ corev1.ServiceType) {
	t.Helper()
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != port {
		t.Errorf("Service %s ports %+v, want one on %d", s.Name, s.Spec.Ports, port)
	}
	if s.Spec.Type != typ {
		t.Errorf("Service %s type %q, want %q", s.Name, s.Spec.Type, typ)
	}
}

// containerPortOf resolves a Service's target port in the workload it selects.
func containerPortOf(t *testing.T, s *corev1.Service, w workload) int32 {
	t.Helper()
	for _, c := range w.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == s.Spec.Ports[0].TargetPort.String() {
				return p.ContainerPort
			}
		}
	}
	t.Fatalf("Service %s target port %s not found in %s", s.Name, s.Spec.Ports[0].TargetPort.String(), w.Name)
	return 0
}

func claimOf(t *testing.T, w workload) string {
	t.Helper()
	for _, v := range w.Template.Spec.Volumes {
		if v.Name == "data" {
			if v.PersistentVolumeClaim == nil {
				return ""
			}
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	t.Fatalf("%s has no data volume", w.Name)
	return ""
}

func wantClass(t *testing.T, m *manifest, claim, class string) {
	t.Helper()
	pvc := m.PVCs[claim]
	if pvc == nil {
		t.Errorf("no PVC %s; have %v", claim, keys(m.PVCs))
		return
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != class {
		t.Errorf("PVC %s storage class %v, want %q", claim, pvc.Spec.StorageClassName, class)
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("PVC %s would be deleted by helm uninstall", claim)
	}
}

func wantEnv(t *testing.T, w workload, name, value string) {
	t.Helper()
	e, ok := envOf(container(t, w))[name]
	if !ok {
		t.Errorf("%s: no %s", w.Name, name)
	} else if e.Value != value {
		t.Errorf("%s: %s=%q, want %q", w.Name, name, e.Value, value)
	}
}

func noEnv(t *testing.T, w workload, name string) {
	t.Helper()
	if e, ok := envOf(container(t, w))[name]; ok {
		t.Errorf("%s: %s=%q is set", w.Name, name, e.Value)
	}
}

func urlOf(m *manifest, svc *corev1.Service) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", svc.Name, m.NS, svc.Spec.Ports[0].Port)
}

// secretRef checks that env name comes from a rendered Secret and returns it with the key.
func secretRef(t *testing.T, m *manifest, w workload, name string) (*corev1.Secret, string) {
	t.Helper()
	e, ok := envOf(container(t, w))[name]
	if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("%s: %s is not taken from a Secret: %+v", w.Name, name, e)
	}
	s := m.Secrets[e.ValueFrom.SecretKeyRef.Name]
	if s == nil {
		t.Fatalf("%s: %s: Secret %s not rendered", w.Name, name, e.ValueFrom.SecretKeyRef.Name)
	}
	return s, e.ValueFrom.SecretKeyRef.Key
}

func gpuLimit(w workload, res corev1.ResourceName) resource.Quantity {
	return w.Template.Spec.Containers[0].Resources.Limits[res]
}

// TestSeedValues renders the walkthrough's file exactly as users run it:
// helm upgrade --install ollama ... -f myvalues.yaml --namespace kube-ai.
func TestSeedValues(t *testing.T) {
	m := render(t, "ollama", seedNS, []string{seedFile(t, "myvalues.yaml")}, "")
	checkInvariants(t, m)
	if n := len(m.workloads()); n != 3 {
		t.Fatalf("%d workloads, want 3 (UI, engine, pipelines)", n)
	}
	ui, engine, pipes := m.component(t, "ui"), m.component(t, "engine"), m.component(t, "pipelines")
	// Without fullnameOverride the names follow the release.
	if ui.Name != "ollama-golem" || engine.Name != "ollama-golem-ollama" || pipes.Name != "ollama-golem-pipelines" {
		t.Errorf("names %s, %s, %s", ui.Name, engine.Name, pipes.Name)
	}
	if ui.Kind != "StatefulSet" {
		t.Errorf("UI with local persistence is a %s, want a StatefulSet", ui.Kind)
	}
	if d := m.Deployments[engine.Name]; d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("engine strategy %q, want Recreate", d.Spec.Strategy.Type)
	}
	uiSvc, engSvc, pipeSvc := m.serviceFor(t, ui), m.serviceFor(t, engine), m.serviceFor(t, pipes)
	wantPort(t, uiSvc, 80, corev1.ServiceTypeNodePort)
	wantPort(t, engSvc, 11434, corev1.ServiceTypeClusterIP)
	wantPort(t, pipeSvc, 9099, corev1.ServiceTypeNodePort)
	if p := containerPortOf(t, uiSvc, ui); p != 8080 {
		t.Errorf("UI Service targets container port %d, want 8080", p)
	}
	for _, w := range []workload{ui, engine, pipes} {
		wantClass(t, m, claimOf(t, w), "nfs-client")
	}
	wantEnv(t, ui, "OLLAMA_BASE_URLS", urlOf(m, engSvc))
	wantEnv(t, ui, "OPENAI_API_BASE_URLS", urlOf(m, pipeSvc))
	wantEnv(t, ui, "OPENAI_API_KEYS", "$(GOLEM_PIPELINES_API_KEY)")
	// The UI and the pipelines server read the same key.
	s1, k1 := secretRef(t, m, ui, "GOLEM_PIPELINES_API_KEY")
	s2, k2 := secretRef(t, m, pipes, "PIPELINES_API_KEY")
	if s1 != s2 || k1 != k2 || len(s1.Data[k1]) < 32 {
		t.Errorf("UI reads %s/%s, pipelines %s/%s (%d bytes)", s1.Name, k1, s2.Name, k2, len(s1.Data[k1]))
	}
	if s, k := secretRef(t, m, ui, "WEBUI_SECRET_KEY"); len(s.Data[k]) < 32 || s.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("session key %s/%s: %d bytes, annotations %v", s.Name, k, len(s.Data[k]), s.Annotations)
	}
	// HF_ENDPOINT reaches the engine, which downloads models, and the UI.
	wantEnv(t, engine, "HF_ENDPOINT", "https://hf-mirror.com")
	wantEnv(t, ui, "HF_ENDPOINT", "https://hf-mirror.com")
	wantEnv(t, engine, "GOLEM_HOST", "0.0.0.0:11434")
	wantEnv(t, ui, "GOLEM_HOST", "0.0.0.0:8080")
	// Pipelines scripts reach models through the engine's OpenAI API.
	wantEnv(t, pipes, "PIPELINES_MODELS_URL", urlOf(m, engSvc)+"/v1")
	noEnv(t, engine, "GOLEM_PULL")
	for _, r := range []corev1.ResourceName{"nvidia.com/gpu", "amd.com/gpu"} {
		if q := gpuLimit(engine, r); !q.IsZero() {
			t.Errorf("GPU off, yet engine limits %s=%s", r, q.String())
		}
	}
	if len(m.Ingresses) != 0 {
		t.Errorf("ingress rendered though the seed leaves it off")
	}
	wantArgs(t, ui, "serve --role ui")
	wantArgs(t, engine, "serve --role engine")
	wantArgs(t, pipes, "pipelines --host 0.0.0.0 --port 9099")
	if len(m.Pods) != 1 {
		t.Errorf("%d test hook pods, want 1", len(m.Pods))
	}
	for _, p := range m.Pods {
		if p.Annotations["helm.sh/hook"] != "test" {
			t.Errorf("pod %s is not a helm test hook", p.Name)
		}
		if got := strings.Join(p.Spec.Containers[0].Args, " "); strings.Count(got, "/healthz") != 3 {
			t.Errorf("test hook checks %q, want the three Services", got)
		}
	}
}

func wantArgs(t *testing.T, w workload, args string) {
	t.Helper()
	c := container(t, w)
	if got := strings.Join(c.Args, " "); got != args || len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/golem" {
		t.Errorf("%s runs %q %q, want /usr/local/bin/golem %s", w.Name, c.Command, got, args)
	}
}

// TestSeedFullValues renders the seed with every option on, with the open-webui names.
func TestSeedFullValues(t *testing.T) {
	m := render(t, "ollama", seedNS, []string{seedFile(t, "myvalues-full.yaml")}, "fullnameOverride: open-webui\n")
	checkInvariants(t, m, "ollama-models", "open-webui-data")
	ui, engine, pipes := m.component(t, "ui"), m.component(t, "engine"), m.component(t, "pipelines")
	if ui.Name != "open-webui" || engine.Name != "open-webui-ollama" || pipes.Name != "open-webui-pipelines" {
		t.Errorf("names %s, %s, %s, want the open-webui chart's", ui.Name, engine.Name, pipes.Name)
	}
	for _, n := range []string{"open-webui", "open-webui-ollama", "open-webui-pipelines"} {
		service(t, m, n)
	}
	// Existing claims are used and not created.
	if c := claimOf(t, engine); c != "ollama-models" {
		t.Errorf("engine claim %s, want ollama-models", c)
	}
	if c := claimOf(t, ui); c != "open-webui-data" {
		t.Errorf("UI claim %s, want open-webui-data", c)
	}
	if len(m.PVCs) != 1 {
		t.Errorf("PVCs %v, want only the pipelines claim", keys(m.PVCs))
	}
	wantClass(t, m, claimOf(t, pipes), "nfs-client")
	// GPU as the Ollama chart renders it.
	if q := gpuLimit(engine, "nvidia.com/gpu"); q.Value() != 1 {
		t.Errorf("engine nvidia.com/gpu limit %s, want 1", q.String())
	}
	tol := false
	for _, to := range engine.Template.Spec.Tolerations {
		if to.Key == "nvidia.com/gpu" && to.Operator == corev1.TolerationOpExists && to.Effect == corev1.TaintEffectNoSchedule {
			tol = true
		}
	}
	if !tol {
		t.Errorf("engine lacks the nvidia.com/gpu toleration: %+v", engine.Template.Spec.Tolerations)
	}
	// Models present before the engine is ready.
	wantEnv(t, engine, "GOLEM_PULL", "llama3,mistral")
	uiSvc, engSvc, pipeSvc := m.serviceFor(t, ui), m.serviceFor(t, engine), m.serviceFor(t, pipes)
	wantPort(t, uiSvc, 80, corev1.ServiceTypeNodePort)
	wantPort(t, engSvc, 11434, corev1.ServiceTypeClusterIP)
	wantPort(t, pipeSvc, 9099, corev1.ServiceTypeNodePort)
	wantEnv(t, ui, "OLLAMA_BASE_URLS", urlOf(m, engSvc))
	wantEnv(t, ui, "OPENAI_API_BASE_URLS", urlOf(m, pipeSvc)+";https://api.openai.com/v1")
	// Pipelines' key first, then the OPENAI_API_KEY the values file sets, same order as the URLs.
	wantEnv(t, ui, "OPENAI_API_KEYS", "$(GOLEM_PIPELINES_API_KEY);$(OPENAI_API_KEY)")
	wantEnv(t, ui, "OPENAI_API_KEY", "0p3n-w3bu!")
	ing := m.Ingresses["open-webui"]
	if ing == nil {
		t.Fatalf("no Ingress open-webui; have %v", keys(m.Ingresses))
	}
	r := ing.Spec.Rules
	if len(r) != 1 || r[0].Host != "open-webui.example.com" || r[0].HTTP.Paths[0].Backend.Service.Name != uiSvc.Name ||
		r[0].HTTP.Paths[0].Backend.Service.Port.Name != uiSvc.Spec.Ports[0].Name {
		t.Errorf("ingress rules %+v do not send open-webui.example.com to Service %s", r, uiSvc.Name)
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" || ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "" {
		t.Errorf("ingress lacks the streaming annotations: %v", ing.Annotations)
	}
}

// TestNames: names follow the release, or fullnameOverride, and stay valid when long.
func TestNames(t *testing.T) {
	m := render(t, "golem", "ai", nil, "")
	checkInvariants(t, m)
	if ui, e, p := m.component(t, "ui"), m.component(t, "engine"), m.component(t, "pipelines"); ui.Name != "golem" || e.Name != "golem-ollama" || p.Name != "golem-pipelines" {
		t.Errorf("release golem: %s, %s, %s", ui.Name, e.Name, p.Name)
	}
	long := strings.Repeat("a", 50)
	m = render(t, long, "ai", nil, "")
	checkInvariants(t, m)
	m = render(t, "x", "ai", nil, "ollama:\n  fullnameOverride: gpu-box\npipelines:\n  fullnameOverride: plugins\n")
	checkInvariants(t, m)
	e, p := m.component(t, "engine"), m.component(t, "pipelines")
	if e.Name != "gpu-box" || p.Name != "plugins" {
		t.Errorf("override names: %s, %s", e.Name, p.Name)
	}
	wantEnv(t, m.component(t, "ui"), "OLLAMA_BASE_URLS", "http://gpu-box.ai.svc.cluster.local:11434")
}

// TestValuesMatrix renders other values and checks what each changes.
func TestValuesMatrix(t *testing.T) {
	cases := []struct {
		name     string
		values   string
		existing []string
		check    func(t *testing.T, m *manifest)
	}{
		{"env as a map", "extraEnvVars:\n  HF_ENDPOINT: https://hf-mirror.com\n  NO_PROXY: .svc\n  GOLEM_LOG_LEVEL: debug\n", nil, func(t *testing.T, m *manifest) {
			for _, c := range []string{"ui", "engine"} {
				w := m.component(t, c)
				wantEnv(t, w, "HF_ENDPOINT", "https://hf-mirror.com")
				wantEnv(t, w, "NO_PROXY", ".svc")
				wantEnv(t, w, "GOLEM_LOG_LEVEL", "debug")
			}
		}},
		{"user env replaces the chart's", "extraEnvVars:\n  - name: GOLEM_HOST\n    value: 0.0.0.0:8080\n  - name: NUM\n    value: 3\n", nil, func(t *testing.T, m *manifest) {
			wantEnv(t, m.component(t, "engine"), "GOLEM_HOST", "0.0.0.0:8080")
			wantEnv(t, m.component(t, "engine"), "NUM", "3")
		}},
		{"env list with valueFrom", "extraEnvVars:\n  - name: HF_TOKEN\n    valueFrom:\n      secretKeyRef: {name: hf, key: token}\n  - name: HF_ENDPOINT\n    value: https://hf-mirror.com\nollama:\n  extraEnv: {GOLEM_NUM_PARALLEL: 2, HF_ENDPOINT: \"https://engine-mirror.example\"}\n", []string{"hf"}, func(t *testing.T, m *manifest) {
			e := m.component(t, "engine")
			env := envOf(container(t, e))
			if ref := env["HF_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "hf" {
				t.Errorf("HF_TOKEN: %+v", env["HF_TOKEN"])
			}
			wantEnv(t, e, "GOLEM_NUM_PARALLEL", "2")
			// ollama.extraEnv overrides extraEnvVars for the engine.
			wantEnv(t, e, "HF_ENDPOINT", "https://engine-mirror.example")
			noEnv(t, m.component(t, "ui"), "GOLEM_NUM_PARALLEL")
			wantEnv(t, m.component(t, "ui"), "HF_ENDPOINT", "https://hf-mirror.com")
		}},
		{"models pull and run", "ollama:\n  ollama:\n    models:\n      pull: [llama3]\n      run: [qwen2.5:0.5b]\n", nil, func(t *testing.T, m *manifest) {
			e := m.component(t, "engine")
			wantEnv(t, e, "GOLEM_PULL", "llama3,qwen2.5:0.5b")
			wantEnv(t, e, "GOLEM_PRELOAD", "qwen2.5:0.5b")
		}},
		{"amd gpus", "ollama:\n  runtimeClassName: rocm\n  ollama:\n    gpu: {enabled: true, type: amd, number: 2}\n", nil, func(t *testing.T, m *manifest) {
			e := m.component(t, "engine")
			if q := gpuLimit(e, "amd.com/gpu"); q.Value() != 2 {
				t.Errorf("amd.com/gpu %s, want 2", q.String())
			}
			if q := gpuLimit(e, "nvidia.com/gpu"); !q.IsZero() {
				t.Errorf("nvidia limit on an AMD request")
			}
			if e.Template.Spec.RuntimeClassName == nil || *e.Template.Spec.RuntimeClassName != "rocm" {
				t.Errorf("runtime class %v", e.Template.Spec.RuntimeClassName)
			}
			if q := e.Template.Spec.Containers[0].Resources.Limits.Memory(); q.String() != "16Gi" {
				t.Errorf("GPU limit replaced the memory limit: %s", q.String())
			}
		}},
		{"mig", "ollama:\n  ollama:\n    gpu: {enabled: true, mig: {enabled: true, devices: {1g.10gb: 1}}}\n", nil, func(t *testing.T, m *manifest) {
			if q := gpuLimit(m.component(t, "engine"), "nvidia.com/mig-1g.10gb"); q.Value() != 1 {
				t.Errorf("mig limit %s", q.String())
			}
		}},
		{"external ollama only", "ollama:\n  enabled: false\nollamaUrls: [\"http://gpu1:11434/\", \"http://gpu2:11434\"]\n", nil, func(t *testing.T, m *manifest) {
			if m.hasComponent("engine") || len(m.workloads()) != 2 {
				t.Errorf("engine rendered though disabled")
			}
			wantEnv(t, m.component(t, "ui"), "OLLAMA_BASE_URLS", "http://gpu1:11434;http://gpu2:11434")
			noEnv(t, m.component(t, "pipelines"), "PIPELINES_MODELS_URL")
		}},
		{"engine plus external ollama", "ollamaUrls: [\"http://gpu1:11434\"]\n", nil, func(t *testing.T, m *manifest) {
			wantEnv(t, m.component(t, "ui"), "OLLAMA_BASE_URLS", urlOf(m, m.serviceFor(t, m.component(t, "engine")))+";http://gpu1:11434")
		}},
		{"no pipelines, openai with a key", "pipelines:\n  enabled: false\nopenaiBaseApiUrl: https://api.openai.com/v1\nopenaiApiKey: sk-test\n", nil, func(t *testing.T, m *manifest) {
			ui := m.component(t, "ui")
			if m.hasComponent("pipelines") {
				t.Errorf("pipelines rendered though disabled")
			}
			wantEnv(t, ui, "OPENAI_API_BASE_URLS", "https://api.openai.com/v1")
			wantEnv(t, ui, "OPENAI_API_KEYS", "$(GOLEM_OPENAI_API_KEY)")
			if s, k := secretRef(t, m, ui, "GOLEM_OPENAI_API_KEY"); string(s.Data[k]) != "sk-test" {
				t.Errorf("key in Secret: %q", s.Data[k])
			}
		}},
		{"several openai urls and keys", "openaiBaseApiUrls: [\"https://a/v1\", \"https://b/v1\"]\nopenaiApiKeys: [ka, kb]\n", nil, func(t *testing.T, m *manifest) {
			ui := m.component(t, "ui")
			wantEnv(t, ui, "OPENAI_API_BASE_URLS", urlOf(m, m.serviceFor(t, m.component(t, "pipelines")))+";https://a/v1;https://b/v1")
			wantEnv(t, ui, "OPENAI_API_KEYS", "$(GOLEM_PIPELINES_API_KEY);$(GOLEM_OPENAI_API_KEY_0);$(GOLEM_OPENAI_API_KEY_1)")
			if s, k := secretRef(t, m, ui, "GOLEM_OPENAI_API_KEY_1"); string(s.Data[k]) != "kb" {
				t.Errorf("second key %q", s.Data[k])
			}
		}},
		{"no openai connections", "pipelines:\n  enabled: false\n", nil, func(t *testing.T, m *manifest) {
			noEnv(t, m.component(t, "ui"), "OPENAI_API_BASE_URLS")
			noEnv(t, m.component(t, "ui"), "OPENAI_API_KEYS")
		}},
		{"no persistence", "persistence:\n  enabled: false\nollama:\n  persistentVolume:\n    enabled: false\npipelines:\n  persistence:\n    enabled: false\n", nil, func(t *testing.T, m *manifest) {
			if ui := m.component(t, "ui"); ui.Kind != "Deployment" || claimOf(t, ui) != "" {
				t.Errorf("UI without persistence: %s with claim %q", ui.Kind, claimOf(t, ui))
			}
			if len(m.PVCs) != 0 {
				t.Errorf("PVCs %v rendered", keys(m.PVCs))
			}
		}},
		{"sizes and access modes", "persistence:\n  size: 5Gi\nollama:\n  persistentVolume:\n    size: 100Gi\n    storageClass: \"-\"\n", nil, func(t *testing.T, m *manifest) {
			e := m.PVCs[claimOf(t, m.component(t, "engine"))]
			if q := e.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "100Gi" {
				t.Errorf("engine claim size %s", q.String())
			}
			if e.Spec.StorageClassName == nil || *e.Spec.StorageClassName != "" {
				t.Errorf("storageClass \"-\" must give an empty class, got %v", e.Spec.StorageClassName)
			}
			if q := m.PVCs[claimOf(t, m.component(t, "ui"))].Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" {
				t.Errorf("UI claim size %s", q.String())
			}
		}},
		{"replicas with postgres", "replicaCount: 3\ndatabaseUrl: postgresql://u:p@db:5432/golem\npersistence:\n  accessModes: [ReadWriteMany]\n", nil, func(t *testing.T, m *manifest) {
			ui := m.component(t, "ui")
			if ui.Replicas != 3 {
				t.Errorf("replicas %d", ui.Replicas)
			}
			if s, k := secretRef(t, m, ui, "DATABASE_URL"); string(s.Data[k]) != "postgresql://u:p@db:5432/golem" {
				t.Errorf("database URL in Secret: %q", s.Data[k])
			}
		}},
		{"ingress with tls and class", "ingress:\n  enabled: true\n  class: nginx\n  host: chat.example.org\n  tls: true\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-read-timeout: \"60\"\n", nil, func(t *testing.T, m *manifest) {
			for _, ing := range m.Ingresses {
				if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].Hosts[0] != "chat.example.org" {
					t.Errorf("ingress spec %+v", ing.Spec)
				}
				if ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] != "60" || ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" {
					t.Errorf("user annotations must win over the defaults: %v", ing.Annotations)
				}
			}
		}},
		{"load balancer and fixed node port", "service:\n  type: LoadBalancer\npipelines:\n  service:\n    type: NodePort\n    nodePort: 30999\n", nil, func(t *testing.T, m *manifest) {
			if s := m.serviceFor(t, m.component(t, "ui")); s.Spec.Type != corev1.ServiceTypeLoadBalancer {
				t.Errorf("UI Service type %s", s.Spec.Type)
			}
			if s := m.serviceFor(t, m.component(t, "pipelines")); s.Spec.Ports[0].NodePort != 30999 {
				t.Errorf("pipelines node port %d", s.Spec.Ports[0].NodePort)
			}
		}},
		{"given secrets", "webuiSecretKey: s3cret-session-key\npipelines:\n  apiKey: 0p3n-w3bu!\n", nil, func(t *testing.T, m *manifest) {
			if s, k := secretRef(t, m, m.component(t, "ui"), "WEBUI_SECRET_KEY"); string(s.Data[k]) != "s3cret-session-key" {
				t.Errorf("session key %q", s.Data[k])
			}
			if s, k := secretRef(t, m, m.component(t, "pipelines"), "PIPELINES_API_KEY"); string(s.Data[k]) != "0p3n-w3bu!" {
				t.Errorf("pipelines key %q", s.Data[k])
			}
		}},
		{"existing secrets", "existingSecret: my-session\npipelines:\n  existingSecret: my-pipelines\n", []string{"my-session", "my-pipelines"}, func(t *testing.T, m *manifest) {
			e := envOf(container(t, m.component(t, "ui")))
			if e["WEBUI_SECRET_KEY"].ValueFrom.SecretKeyRef.Name != "my-session" || e["GOLEM_PIPELINES_API_KEY"].ValueFrom.SecretKeyRef.Name != "my-pipelines" {
				t.Errorf("existing secrets not used: %+v", e)
			}
			if _, ok := m.Secrets["my-pipelines"]; ok {
				t.Errorf("chart rendered the existing pipelines Secret")
			}
		}},
		{"scheduling", "nodeSelector: {pool: web}\nollama:\n  nodeSelector: {pool: cpu}\n  tolerations: [{key: dedicated, operator: Equal, value: llm, effect: NoSchedule}]\n  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}\n", nil, func(t *testing.T, m *manifest) {
			e := m.component(t, "engine").Template.Spec
			if e.NodeSelector["pool"] != "cpu" || len(e.Tolerations) != 1 || e.Affinity == nil || e.Affinity.NodeAffinity == nil {
				t.Errorf("engine scheduling: %v %v %v", e.NodeSelector, e.Tolerations, e.Affinity)
			}
			if m.component(t, "ui").Template.Spec.NodeSelector["pool"] != "web" {
				t.Errorf("UI node selector lost")
			}
		}},
		{"the open-webui chart's own defaults", openWebUIDefaults, nil, func(t *testing.T, m *manifest) {
			// Its empty probes, resources and security contexts keep the chart's (helm merges
			// maps), which checkInvariants has checked; its names and connections apply.
			e := m.component(t, "engine")
			if e.Name != "open-webui-ollama" {
				t.Errorf("engine name %s", e.Name)
			}
			ui := m.component(t, "ui")
			wantEnv(t, ui, "OLLAMA_BASE_URLS", "http://open-webui-ollama.ai.svc.cluster.local:11434")
			wantEnv(t, ui, "OPENAI_API_BASE_URLS", urlOf(m, m.serviceFor(t, m.component(t, "pipelines")))+";https://api.openai.com/v1")
			wantEnv(t, ui, "OPENAI_API_KEYS", "$(GOLEM_PIPELINES_API_KEY);$(GOLEM_OPENAI_API_KEY)")
		}},
		{"no tests", "tests:\n  enabled: false\n", nil, func(t *testing.T, m *manifest) {
			if len(m.Pods) != 0 {
				t.Errorf("test pod rendered")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := render(t, "golem", "ai", nil, c.values)
			checkInvariants(t, m, c.existing...)
			c.check(t, m)
		})
	}
}

// TestRejected: values that cannot work fail at render time with a message naming the fix.
func TestRejected(t *testing.T) {
	helm := helmBinary(t)
	cases := []struct{ values, want string }{
		{"replicaCount: 2\n", "databaseUrl"},
		{"replicaCount: 2\ndatabaseUrl: postgresql://u:p@db/golem\n", "ReadWriteMany"},
		{"ollama:\n  replicaCount: 2\n", "ReadWriteMany"},
		{"ollama:\n  ollama:\n    gpu: {enabled: true, type: intel}\n", "type"},
		{"service:\n  type: Ingress\n", "type"},
		{"ollama:\n  ollama:\n    models: {create: [{name: x}]}\n", "create"},
		{"openaiBaseApiUrls: [\"https://a/v1\"]\nopenaiApiKeys: [a, b]\n", "one key per URL"},
		{"persistence:\n  provider: s3\n", "provider"},
		{"databaseUrl: mysql://db\n", "databaseUrl"},
		{"ollamaUrls: [gpu1:11434]\n", "ollamaUrls"},
		{"image:\n  repository: ghcr.io/open-webui/open-webui\n", "not Golem's image"},
	}
	for _, c := range cases {
		_, err := runHelm(t, helm, renderArgs(t, "golem", "ai", nil, c.values)...)
		if err == nil {
			t.Errorf("values accepted:\n%s", c.values)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("values:\n%s\nerror does not mention %q: %v", c.values, c.want, err)
		}
	}
	// Upgrading from a values file that set replicaCount > 1 with DATABASE_URL in extraEnvVars is fine.
	if _, err := runHelm(t, helm, renderArgs(t, "golem", "ai", nil, "replicaCount: 2\npersistence:\n  enabled: false\nextraEnvVars:\n  DATABASE_URL: postgresql://u:p@db/golem\n")...); err != nil {
		t.Errorf("DATABASE_URL through extraEnvVars: %v", err)
	}
}

// TestSessionSecretStable: the rendered session key is random per fresh install, so two
// installs do not share it (upgrades keep theirs through lookup; the slow test checks that).
func TestSessionSecretRandom(t *testing.T) {
	a := render(t, "golem", "ai", nil, "")
	b := render(t, "golem", "ai", nil, "")
	ka := a.Secrets["golem"].Data["webui-secret-key"]
	kb := b.Secrets["golem"].Data["webui-secret-key"]
	if len(ka) < 32 || string(ka) == string(kb) {
		t.Errorf("session keys %q and %q: want two different random keys", ka, kb)
	}
}

// TestNotes: NOTES.txt tells how to reach the UI for each Service kind, and says the engine
// runs on the CPU when GPUs are asked for.
func TestNotes(t *testing.T) {
	helm := helmBinary(t)
	// helm template leaves NOTES.txt out and helm install needs a cluster, so render a copy
	// of the chart in which NOTES.txt is an ordinary template.
	dir := filepath.Join(t.TempDir(), "golem")
	if err := os.CopyFS(dir, os.DirFS(chartDir(t))); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "templates", "NOTES.txt"))
	files := map[string]string{
		"_notes.tpl": `{{- define "test.notes" -}}` + string(src) + `{{- end -}}`,
		"notes.yaml": `notes: {{ include "test.notes" . | toJson }}`,
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, "templates", n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	notes := func(values string) string {
		t.Helper()
		args := renderArgs(t, "ollama", seedNS, nil, values)
		args[2] = dir
		out, err := runHelm(t, helm, append(args, "--show-only", "templates/notes.yaml")...)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Notes string }
		if err := yaml.Unmarshal([]byte(out), &doc); err != nil || doc.Notes == "" {
			t.Fatalf("notes: %v\n%s", err, out)
		}
		return doc.Notes
	}
	for _, c := range []struct{ values, want string }{
		{"service:\n  type: NodePort\n", "jsonpath=\"{.spec.ports[0].nodePort}\" services ollama-golem"},
		{"", "port-forward svc/ollama-golem 8080:80"},
		{"ingress:\n  enabled: true\n  host: chat.example.org\n", "http://chat.example.org/"},
		{"ollama:\n  ollama:\n    gpu: {enabled: true}\n", "does not use the GPU"},
		{"ollama:\n  ollama:\n    models: [llama3]\n", "pulls llama3 at start"},
	} {
		if n := notes(c.values); !strings.Contains(n, c.want) {
			t.Errorf("values %q: notes lack %q:\n%s", c.values, c.want, n)
		}
	}
	if n := notes(""); !strings.Contains(n, "runs models on the CPU") || strings.Contains(n, "GPU stays idle") {
		t.Errorf("notes without GPU:\n%s", n)
	}
}

// openWebUIDefaults are the open-webui chart's default values for the keys this chart
// shares with it, as a user who copied that chart's whole values.yaml would pass them
// (without its image, which the chart refuses).
const openWebUIDefaults = `nameOverride: ""
ollama:
  enabled: true
  fullnameOverride: "open-webui-ollama"
ollamaUrls: []
pipelines:
  enabled: true
  extraEnvVars: []
tika:
  enabled: false
websocket:
  enabled: true
  manager: redis
  url: redis://open-webui-redis:6379/0
clusterDomain: cluster.local
extraLabels: {}
annotations: {}
podAnnotations: {}
podLabels: {}
replicaCount: 1
strategy: {}
imagePullSecrets: []
serviceAccount:
  enable: true
  create: true
  name: "existing-sa"
  annotations: {}
  automountServiceAccountToken: false
livenessProbe: {}
readinessProbe: {}
startupProbe: {}
resources: {}
ingress:
  enabled: false
  class: ""
  annotations: {}
  host: "chat.example.com"
  additionalHosts: []
  tls: false
  existingSecret: ""
persistence:
  enabled: true
  size: 2Gi
  existingClaim: ""
  subPath: ""
  accessModes:
    - ReadWriteOnce
  storageClass: ""
  selector: {}
  annotations: {}
  provider: local
nodeSelector: {}
tolerations: []
affinity: {}
topologySpreadConstraints: []
service:
  type: ClusterIP
  annotations: {}
  port: 80
  containerPort: 8080
  nodePort: ""
  labels: {}
  loadBalancerClass: ""
enableOpenaiApi: true
openaiBaseApiUrl: "https://api.openai.com/v1"
openaiBaseApiUrls: []
openaiApiKey: "0p3n-w3bu!"
openaiApiKeys: []
databaseUrl: ""
extraEnvVars: []
commonEnvVars: []
extraEnvFrom: []
runtimeClassName: ""
podSecurityContext: {}
containerSecurityContext: {}
`
