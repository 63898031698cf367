// Package helm tests the chart in golem/: it renders the chart with the helm binary (built
// from helm's Go module by scripts/helm.sh into a cache), decodes every object strictly
// into the k8s.io/api types and checks the seed's topology and the chart's invariants.
// With GOLEM_SLOW=1 it also applies the rendered objects to a real kube-apiserver.
package helm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

var (
	rootOnce sync.Once
	rootDir  string
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// repoRoot is the product module's folder (deploy/ sits inside it).
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, _ := os.Getwd()
		for {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && strings.HasPrefix(string(b), "module github.com/golem-llm/golem\n") {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if rootDir == "" {
		t.Fatal("cannot find the repository root (go.mod of github.com/golem-llm/golem) above the test's folder")
	}
	return rootDir
}

// shared returns a path under ../shared beside the repository; the test fails when it is missing.
func shared(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{repoRoot(t), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared data missing: %v (the tests expect ../shared beside the repository)", err)
	}
	return p
}

func chartDir(t testing.TB) string {
	return filepath.Join(repoRoot(t), "deploy", "helm", "golem")
}

// helmBinary is $GOLEM_HELM, or the helm that scripts/helm.sh builds (once) into its cache.
func helmBinary(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("GOLEM_HELM"); p != "" {
			helmPath = p
			return
		}
		cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "helm.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("scripts/helm.sh: %v\n%s", err, stderr.String())
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// runHelm runs helm with args and returns stdout, or stderr as the error.
func runHelm(t testing.TB, helm string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// renderArgs are helm template's arguments for a release with value files and inline values.
func renderArgs(t testing.TB, release, ns string, files []string, inline string) []string {
	args := []string{"template", release, chartDir(t), "--namespace", ns}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	if inline != "" {
		// Not t.TempDir: its name comes from the test's, and helm splits -f on commas.
		f, err := os.CreateTemp("", "golem-values-*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(f.Name()) })
		if _, err := f.WriteString(inline); err != nil {
			t.Fatal(err)
		}
		f.Close()
		args = append(args, "-f", f.Name())
	}
	return args
}

// object is one rendered object, decoded into its k8s.io/api type.
type object struct {
	Kind, Name string
	Obj        any
	YAML       []byte
}

// manifest is a decoded `helm template` output.
type manifest struct {
	NS           string
	Objects      []object
	Deployments  map[string]*appsv1.Deployment
	StatefulSets map[string]*appsv1.StatefulSet
	Services     map[string]*corev1.Service
	PVCs         map[string]*corev1.PersistentVolumeClaim
	Secrets      map[string]*corev1.Secret
	Ingresses    map[string]*networkingv1.Ingress
	Accounts     map[string]*corev1.ServiceAccount
	Pods         map[string]*corev1.Pod
}

func render(t testing.TB, release, ns string, files []string, inline string) *manifest {
	t.Helper()
	out, err := runHelm(t, helmBinary(t), renderArgs(t, release, ns, files, inline)...)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, ns, out)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits helm's output into documents and decodes each strictly (unknown or
// duplicate fields fail) into the k8s.io/api type of its kind.
func decode(t testing.TB, ns, out string) *manifest {
	t.Helper()
	m := &manifest{
		NS:           ns,
		Deployments:  map[string]*appsv1.Deployment{},
		StatefulSets: map[string]*appsv1.StatefulSet{},
		Services:     map[string]*corev1.Service{},
		PVCs:         map[string]*corev1.PersistentVolumeClaim{},
		Secrets:      map[string]*corev1.Secret{},
		Ingresses:    map[string]*networkingv1.Ingress{},
		Accounts:     map[string]*corev1.ServiceAccount{},
		Pods:         map[string]*corev1.Pod{},
	}
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1 StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1 Pod":
			obj = &corev1.Pod{}
		case "networking.k8s.io/v1 Ingress":
			obj = &networkingv1.Ingress{}
		default:
			t.Fatalf("unexpected object %s %s:\n%s", tm.APIVersion, tm.Kind, doc)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s does not decode strictly: %v\n%s", tm.Kind, err, doc)
		}
		meta := obj.(metav1.Object)
		name := meta.GetName()
		if meta.GetNamespace() != ns {
			t.Errorf("%s %s: namespace %q, want %q", tm.Kind, name, meta.GetNamespace(), ns)
		}
		m.Objects = append(m.Objects, object{tm.Kind, name, obj, []byte(doc)})
		dup := false
		switch o := obj.(type) {
		case *appsv1.Deployment:
			_, dup = m.Deployments[name]
			m.Deployments[name] = o
		case *appsv1.StatefulSet:
			_, dup = m.StatefulSets[name]
			m.StatefulSets[name] = o
		case *corev1.Service:
			_, dup = m.Services[name]
			m.Services[name] = o
		case *corev1.PersistentVolumeClaim:
			_, dup = m.PVCs[name]
			m.PVCs[name] = o
		case *corev1.Secret:
			_, dup = m.Secrets[name]
			m.Secrets[name] = o
		case *corev1.ServiceAccount:
			_, dup = m.Accounts[name]
			m.Accounts[name] = o
		case *corev1.Pod:
			_, dup = m.Pods[name]
			m.Pods[name] = o
		case *networkingv1.Ingress:
			_, dup = m.Ingresses[name]
			m.Ingresses[name] = o
		}
		if dup {
			t.Errorf("two %s objects named %s", tm.Kind, name)
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// workload is a Deployment or StatefulSet with its pod template.
type workload struct {
	Kind, Name string
	Labels     map[string]string
	Template   *corev1.PodTemplateSpec
	Replicas   int32
}

func (m *manifest) workloads() []workload {
	var w []workload
	for n, d := range m.Deployments {
		w = append(w, workload{"Deployment", n, d.Labels, &d.Spec.Template, deref(d.Spec.Replicas)})
	}
	for n, s := range m.StatefulSets {
		w = append(w, workload{"StatefulSet", n, s.Labels, &s.Spec.Template, deref(s.Spec.Replicas)})
	}
	sort.Slice(w, func(i, j int) bool { return w[i].Name < w[j].Name })
	return w
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// component finds the one workload with app.kubernetes.io/component=c.
func (m *manifest) component(t testing.TB, c string) workload {
	t.Helper()
	var found []workload
	for _, w := range m.workloads() {
		if w.Labels["app.kubernetes.io/component"] == c {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d workloads of component %s, want 1", len(found), c)
	}
	return found[0]
}

func (m *manifest) hasComponent(c string) bool {
	for _, w := range m.workloads() {
		if w.Labels["app.kubernetes.io/component"] == c {
			return true
		}
	}
	return false
}

// serviceFor is the Service whose selector picks w's pods.
func (m *manifest) serviceFor(t testing.TB, w workload) *corev1.Service {
	t.Helper()
	var found []*corev1.Service
	for _, s := range m.Services {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.Template.Labels)) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d Services select %s %s, want 1", len(found), w.Kind, w.Name)
	}
	return found[0]
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func container(t testing.TB, w workload) corev1.Container {
	t.Helper()
	if len(w.Template.Spec.Containers) != 1 {
		t.Fatalf("%s has %d containers, want 1", w.Name, len(w.Template.Spec.Containers))
	}
	return w.Template.Spec.Containers[0]
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkInvariants asserts what must hold for every set of values: hardened, probed pods
// with resources; Services that select a workload and name its port; claims, Secrets and
// env references that resolve; valid names; connection URLs that name rendered Services.
// existing lists claims and Secrets the values say exist outside the chart.
func checkInvariants(t *testing.T, m *manifest, existing ...string) {
	t.Helper()
	ext := map[string]bool{}
	for _, e := range existing {
		ext[e] = true
	}
	for _, o := range m.Objects {
		if errs := validation.IsDNS1123Subdomain(o.Name); len(errs) > 0 {
			t.Errorf("%s %s: bad name: %v", o.Kind, o.Name, errs)
		}
		if l := o.Obj.(metav1.Object).GetLabels(); l["app.kubernetes.io/managed-by"] == "" || l["app.kubernetes.io/instance"] == "" {
			t.Errorf("%s %s: missing standard labels: %v", o.Kind, o.Name, l)
		}
	}
	for n, s := range m.Services {
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			t.Errorf("Service %s: %v", n, errs)
		}
		var sel []workload
		for _, w := range m.workloads() {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.Template.Labels)) {
				sel = append(sel, w)
			}
		}
		if len(s.Spec.Selector) == 0 || len(sel) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", n, len(sel))
			continue
		}
		for _, p := range s.Spec.Ports {
			found := false
			for _, c := range sel[0].Template.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == p.TargetPort.String() || fmt.Sprint(cp.ContainerPort) == p.TargetPort.String() {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("Service %s targets port %s, which %s does not expose", n, p.TargetPort.String(), sel[0].Name)
			}
		}
	}
	type podSpec struct {
		name string
		spec *corev1.PodSpec
		long bool // a server, not the test hook
	}
	var pods []podSpec
	for _, w := range m.workloads() {
		pods = append(pods, podSpec{w.Kind + " " + w.Name, &w.Template.Spec, true})
		for k, v := range w.Template.Labels {
			if w.Labels[k] != v && strings.HasPrefix(k, "app.kubernetes.io/") && k != "app.kubernetes.io/version" {
				t.Errorf("%s: pod label %s=%s differs from the workload's", w.Name, k, v)
			}
		}
	}
	for n, p := range m.Pods {
		pods = append(pods, podSpec{"Pod " + n, &p.Spec, false})
	}
	for _, p := range pods {
		sc := p.spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod does not run as a non-root user: %+v", p.name, sc)
		}
		if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token", p.name)
		}
		if p.spec.EnableServiceLinks == nil || *p.spec.EnableServiceLinks {
			t.Errorf("%s: service links would inject *_PORT variables into the environment", p.name)
		}
		if sa := p.spec.ServiceAccountName; sa != "" && sa != "default" && m.Accounts[sa] == nil && !ext[sa] {
			t.Errorf("%s: ServiceAccount %s is not rendered", p.name, sa)
		}
		vols := map[string]corev1.Volume{}
		for _, v := range p.spec.Volumes {
			vols[v.Name] = v
			if v.PersistentVolumeClaim != nil && m.PVCs[v.PersistentVolumeClaim.ClaimName] == nil && !ext[v.PersistentVolumeClaim.ClaimName] {
				t.Errorf("%s: claim %s is neither rendered nor an existing claim of the values", p.name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		for _, c := range p.spec.Containers {
			where := p.name + " container " + c.Name
			cs := c.SecurityContext
			if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
				t.Errorf("%s: root file system is writable", where)
			}
			if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
				t.Errorf("%s: allows privilege escalation", where)
			}
			if cs == nil || cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" {
				t.Errorf("%s: capabilities not dropped", where)
			}
			if len(c.Resources.Requests) == 0 || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: no resource requests or memory limit: %+v", where, c.Resources)
			}
			if p.long {
				ports := map[string]bool{}
				for _, cp := range c.Ports {
					ports[cp.Name] = true
				}
				for kind, pr := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if pr == nil || pr.HTTPGet == nil {
						t.Errorf("%s: no HTTP %s probe", where, kind)
						continue
					}
					if !ports[pr.HTTPGet.Port.String()] {
						t.Errorf("%s: %s probe port %s is not a container port", where, kind, pr.HTTPGet.Port.String())
					}
				}
				if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
					t.Errorf("%s: readiness path %s, want /readyz", where, c.ReadinessProbe.HTTPGet.Path)
				}
			}
			mounted := map[string]bool{}
			for _, vm := range c.VolumeMounts {
				if _, ok := vols[vm.Name]; !ok {
					t.Errorf("%s: mounts unknown volume %s", where, vm.Name)
				}
				mounted[vm.MountPath] = true
			}
			if p.long && (!mounted["/data"] || !mounted["/tmp"]) {
				t.Errorf("%s: /data and /tmp must be mounted on a read-only root: %v", where, mounted)
			}
			defined := map[string]bool{}
			for _, e := range c.Env {
				if defined[e.Name] {
					t.Errorf("%s: %s set twice", where, e.Name)
				}
				for _, ref := range varRef.FindAllStringSubmatch(e.Value, -1) {
					if !defined[ref[1]] {
						t.Errorf("%s: %s refers to $(%s), not defined before it", where, e.Name, ref[1])
					}
				}
				defined[e.Name] = true
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					s := m.Secrets[ref.Name]
					switch {
					case s == nil && !ext[ref.Name]:
						t.Errorf("%s: %s refers to Secret %s, not rendered", where, e.Name, ref.Name)
					case s != nil:
						if _, ok := s.Data[ref.Key]; !ok {
							t.Errorf("%s: %s refers to key %s, which Secret %s lacks", where, e.Name, ref.Key, ref.Name)
						}
					}
				}
				switch e.Name {
				case "OLLAMA_BASE_URLS", "OPENAI_API_BASE_URLS":
					for _, u := range strings.Split(e.Value, ";") {
						checkServiceURL(t, m, where+" "+e.Name, u)
					}
				case "PIPELINES_MODELS_URL":
					checkServiceURL(t, m, where+" "+e.Name, strings.TrimSuffix(e.Value, "/v1"))
				}
			}
		}
		for _, c := range p.spec.Containers {
			if p.long {
				continue
			}
			for _, a := range c.Args {
				if strings.HasPrefix(a, "http") {
					checkServiceURL(t, m, "Pod "+p.name+" probe", strings.TrimSuffix(a, "/healthz"))
				}
			}
		}
	}
}

var clusterURL = regexp.MustCompile(`^http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.[a-z0-9.-]+)?:([0-9]+)$`)

// checkServiceURL: an in-cluster URL must name a rendered Service, in the release's
// namespace, on one of its ports. Other URLs (external servers) are left alone.
func checkServiceURL(t *testing.T, m *manifest, where, u string) {
	t.Helper()
	g := clusterURL.FindStringSubmatch(u)
	if g == nil {
		if strings.Contains(u, ".svc") {
			t.Errorf("%s: %q looks like a cluster URL but does not parse", where, u)
		}
		return
	}
	s := m.Services[g[1]]
	if s == nil {
		t.Errorf("%s: %s names Service %s, which is not rendered", where, u, g[1])
		return
	}
	if g[2] != m.NS {
		t.Errorf("%s: %s is in namespace %s, want %s", where, u, g[2], m.NS)
	}
	for _, p := range s.Spec.Ports {
		if fmt.Sprint(p.Port) == g[4] {
			return
		}
	}
	t.Errorf("%s: %s: Service %s has no port %s", where, u, g[1], g[4])
}
