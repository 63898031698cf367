package helm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The kube-apiserver and etcd that scripts/kube-apiserver.sh builds from their Go modules.
// Only the API server runs: no controllers, no kubelet. It validates, defaults and admits
// every object as a real cluster does, which is what a server-side dry-run apply checks.

func slow(t *testing.T) {
	t.Helper()
	if os.Getenv("GOLEM_SLOW") != "1" {
		t.Skip("slow: starts etcd and kube-apiserver; set GOLEM_SLOW=1 (CI does)")
	}
}

// kubeBinaries returns kube-apiserver's and etcd's paths: $GOLEM_KUBE_APISERVER and
// $GOLEM_ETCD, or what scripts/kube-apiserver.sh prints (it builds them when missing).
func kubeBinaries(t *testing.T) (apiserver, etcd string) {
	t.Helper()
	apiserver, etcd = os.Getenv("GOLEM_KUBE_APISERVER"), os.Getenv("GOLEM_ETCD")
	if apiserver != "" && etcd != "" {
		return apiserver, etcd
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "kube-apiserver.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/kube-apiserver.sh: %v\n%s", err, stderr.String())
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "KUBE_APISERVER="); ok {
			apiserver = v
		}
		if v, ok := strings.CutPrefix(l, "ETCD="); ok {
			etcd = v
		}
	}
	if apiserver == "" || etcd == "" {
		t.Fatalf("scripts/kube-apiserver.sh printed no paths:\n%s", out)
	}
	return apiserver, etcd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster is a running etcd + kube-apiserver on loopback.
type cluster struct {
	URL, Token, Kubeconfig string
	client                 *http.Client
}

func startProcess(t *testing.T, logName string, bin string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s log (end):\n%s", logName, b)
		}
		log.Close()
	})
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	apiserver, etcd := kubeBinaries(t)
	dir := t.TempDir()
	client, peer, secure := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	startProcess(t, "etcd.log", etcd,
		"--name", "golem-test", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "golem-test="+peerURL, "--log-level", "warn")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "sa.key")
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenBytes := make([]byte, 16)
	rand.Read(tokenBytes)
	token := fmt.Sprintf("%x", tokenBytes)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",golem-test,golem-test-uid,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "kube-apiserver.log", apiserver,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(secure), "--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", keyFile, "--service-account-signing-key-file", keyFile,
		"--service-cluster-ip-range", "10.96.0.0/16", "--service-node-port-range", "30000-32767",
		"--enable-priority-and-fairness=false")

	c := &cluster{
		URL:   fmt.Sprintf("https://127.0.0.1:%d", secure),
		Token: token,
		// The server's certificate is self-signed for this run; the connection never leaves loopback.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		code, body, err := c.do("GET", "/readyz", "", nil)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 120s: %d %s %v", code, body, err)
		}
		time.Sleep(time.Second)
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, c.URL, token)
	if err := os.WriteFile(c.Kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) do(method, path, contentType string, body []byte) (int, []byte, error) {
	code, b, _, err := c.doHeaders(method, path, contentType, body)
	return code, b, err
}

func (c *cluster) doHeaders(method, path, contentType string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

func (c *cluster) createNamespace(t *testing.T, ns string) {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns)
	if code, b, err := c.do("POST", "/api/v1/namespaces", "application/json", []byte(body)); err != nil || code != 201 {
		t.Fatalf("create namespace %s: %d %s %v", ns, code, b, err)
	}
}

// resourcePath is the REST path of a rendered object.
func resourcePath(ns string, o object) (string, error) {
	core := map[string]string{"Service": "services", "PersistentVolumeClaim": "persistentvolumeclaims", "Secret": "secrets", "ServiceAccount": "serviceaccounts", "Pod": "pods"}
	if r, ok := core[o.Kind]; ok {
		return fmt.Sprintf("/api/v1/namespaces/%s/%s/%s", ns, r, o.Name), nil
	}
	group := map[string][2]string{"Deployment": {"apps/v1", "deployments"}, "StatefulSet": {"apps/v1", "statefulsets"}, "Ingress": {"networking.k8s.io/v1", "ingresses"}}
	if r, ok := group[o.Kind]; ok {
		return fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s", r[0], ns, r[1], o.Name), nil
	}
	return "", fmt.Errorf("no REST path for kind %s", o.Kind)
}

// apply server-side applies o; dryRun leaves nothing behind. Warnings fail the test too:
// a field the server ignores or a duplicate the kubelet would resolve silently.
func (c *cluster) apply(t *testing.T, ns string, o object, dryRun bool) {
	t.Helper()
	path, err := resourcePath(ns, o)
	if err != nil {
		t.Fatal(err)
	}
	q := "?fieldManager=golem-test&force=true&fieldValidation=Strict"
	if dryRun {
		q += "&dryRun=All"
	}
	code, body, hdr, err := c.doHeaders("PATCH", path+q, "application/apply-patch+yaml", o.YAML)
	if err != nil {
		t.Fatalf("apply %s %s: %v", o.Kind, o.Name, err)
	}
	if code != 200 && code != 201 {
		t.Errorf("apply %s %s: %d %s", o.Kind, o.Name, code, body)
		return
	}
	if w := hdr.Values("Warning"); len(w) > 0 {
		t.Errorf("apply %s %s: warnings %q", o.Kind, o.Name, w)
	}
}

// TestServerSideDryRun applies every rendered object of the seed's files and other values
// with a server-side dry run: the API server's validation, defaulting and admission
// (namespaces, service accounts, node ports, limits) accept them as a cluster would.
func TestServerSideDryRun(t *testing.T) {
	slow(t)
	c := startCluster(t)
	cases := []struct {
		name   string
		files  []string
		values string
	}{
		{"seed", []string{seedFile(t, "myvalues.yaml")}, ""},
		{"seed-full", []string{seedFile(t, "myvalues-full.yaml")}, "fullnameOverride: open-webui\n"},
		{"defaults", nil, ""},
		{"matrix", nil, "replicaCount: 2\ndatabaseUrl: postgresql://u:p@db:5432/golem\npersistence:\n  accessModes: [ReadWriteMany]\n" +
			"ingress: {enabled: true, class: nginx, host: chat.example.org, tls: true}\nservice: {type: LoadBalancer}\n" +
			"ollama:\n  ollama:\n    gpu: {enabled: true, type: amd, number: 2}\n    models: {pull: [llama3], run: [qwen2.5:0.5b]}\n  persistentVolume: {enabled: false}\n" +
			"pipelines:\n  service: {type: NodePort, nodePort: 30999}\nextraEnvVars: {HF_ENDPOINT: https://hf-mirror.com}\nopenaiBaseApiUrls: [\"https://a/v1\"]\nopenaiApiKeys: [k]\n"},
		{"no-pipelines-no-engine", nil, "pipelines: {enabled: false}\nollama: {enabled: false}\nollamaUrls: [\"http://gpu1:11434\"]\npersistence: {enabled: false}\n"},
	}
	// The server must be able to say no: an ingress host the chart's schema lets through
	// but Kubernetes rejects.
	t.Run("invalid object rejected", func(t *testing.T) {
		ns := "dry-invalid"
		c.createNamespace(t, ns)
		m := render(t, "ollama", ns, nil, "ingress: {enabled: true, host: Not_A_Host}\n")
		for _, o := range m.Objects {
			if o.Kind != "Ingress" {
				continue
			}
			path, _ := resourcePath(ns, o)
			code, body, err := c.do("PATCH", path+"?fieldManager=golem-test&force=true&dryRun=All", "application/apply-patch+yaml", o.YAML)
			if err != nil || code != 422 || !strings.Contains(string(body), "Not_A_Host") {
				t.Errorf("invalid ingress host: %d %s %v, want 422", code, body, err)
			}
			return
		}
		t.Fatal("no Ingress rendered")
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := "dry-" + tc.name
			c.createNamespace(t, ns)
			m := render(t, "ollama", ns, tc.files, tc.values)
			// The ServiceAccount admission plugin admits a pod only once its account exists,
			// so the accounts are created for real and everything else is a dry run.
			for _, o := range m.Objects {
				if o.Kind == "ServiceAccount" {
					c.apply(t, ns, o, false)
				}
			}
			for _, o := range m.Objects {
				if o.Kind != "ServiceAccount" {
					c.apply(t, ns, o, true)
				}
			}
			// Nothing but the accounts was stored.
			for _, o := range m.Objects {
				if o.Kind == "ServiceAccount" {
					continue
				}
				path, _ := resourcePath(ns, o)
				if code, _, _ := c.do("GET", path, "", nil); code != 404 {
					t.Errorf("dry run stored %s %s (GET %d)", o.Kind, o.Name, code)
				}
			}
		})
	}
}

// TestHelmInstallUpgrade installs the seed's release with helm, as the walkthrough does,
// upgrades it, and checks that the session key and the pipelines key survive the upgrade
// (lookup keeps them), so an upgrade logs nobody out and the UI keeps its connection.
func TestHelmInstallUpgrade(t *testing.T) {
	slow(t)
	c := startCluster(t)
	helm := helmBinary(t)
	ns := "kube-ai"
	args := []string{"upgrade", "--install", "ollama", chartDir(t), "-f", seedFile(t, "myvalues.yaml"),
		"--create-namespace", "--namespace", ns, "--kubeconfig", c.Kubeconfig}
	secrets := func() (string, string) {
		t.Helper()
		get := func(name, key string) string {
			code, body, err := c.do("GET", "/api/v1/namespaces/"+ns+"/secrets/"+name, "", nil)
			if err != nil || code != 200 {
				t.Fatalf("get secret %s: %d %s %v", name, code, body, err)
			}
			var s struct{ Data map[string]string }
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatal(err)
			}
			if len(s.Data[key]) < 32 {
				t.Fatalf("secret %s key %s: %q", name, key, s.Data[key])
			}
			return s.Data[key]
		}
		return get("ollama-golem", "webui-secret-key"), get("ollama-golem-pipelines", "api-key")
	}
	if out, err := runHelm(t, helm, args...); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(out, "NOTES:") {
		t.Errorf("install printed no notes:\n%s", out)
	}
	session1, pipes1 := secrets()
	for _, kind := range []string{"statefulsets/ollama-golem", "deployments/ollama-golem-ollama", "deployments/ollama-golem-pipelines"} {
		if code, body, _ := c.do("GET", "/apis/apps/v1/namespaces/"+ns+"/"+kind, "", nil); code != 200 {
			t.Errorf("%s not created: %d %s", kind, code, body)
		}
	}
	if _, err := runHelm(t, helm, args...); err != nil {
		t.Fatal(err)
	}
	session2, pipes2 := secrets()
	if session1 != session2 || pipes1 != pipes2 {
		t.Errorf("upgrade replaced the keys: session %s -> %s, pipelines %s -> %s", session1, session2, pipes1, pipes2)
	}
	// Uninstall keeps the claims and the session key (resource-policy keep), so a
	// reinstall finds the same data and sessions.
	if _, err := runHelm(t, helm, "uninstall", "ollama", "--namespace", ns, "--kubeconfig", c.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"persistentvolumeclaims/ollama-golem", "persistentvolumeclaims/ollama-golem-ollama", "secrets/ollama-golem"} {
		if code, _, _ := c.do("GET", "/api/v1/namespaces/"+ns+"/"+path, "", nil); code != 200 {
			t.Errorf("%s deleted by uninstall (GET %d)", path, code)
		}
	}
	if _, err := runHelm(t, helm, args...); err != nil {
		t.Fatal(err)
	}
	if session3, _ := secrets(); session3 != session1 {
		t.Errorf("reinstall replaced the session key")
	}
}
