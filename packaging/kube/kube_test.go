// Package kube_test renders the Helm chart with the Helm Go SDK and reads
// the plain manifests, decodes every object strictly into the k8s.io/api
// types (an unknown or misspelt field fails) and checks the properties the
// production guide promises, on both.
package kube_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"

	"github.com/rampart-gw/rampart/packaging/internal/testbin"
)

// objects are one install's decoded objects.
type objects struct {
	deployment *appsv1.Deployment
	configMap  *corev1.ConfigMap
	secret     *corev1.Secret
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
}

// kinds allocates the field of objects that an apiVersion and kind decode into.
var kinds = map[string]func(o *objects) any{
	"apps/v1 Deployment":                     func(o *objects) any { o.deployment = &appsv1.Deployment{}; return o.deployment },
	"v1 ConfigMap":                           func(o *objects) any { o.configMap = &corev1.ConfigMap{}; return o.configMap },
	"v1 Secret":                              func(o *objects) any { o.secret = &corev1.Secret{}; return o.secret },
	"v1 Service":                             func(o *objects) any { o.service = &corev1.Service{}; return o.service },
	"policy/v1 PodDisruptionBudget":          func(o *objects) any { o.pdb = &policyv1.PodDisruptionBudget{}; return o.pdb },
	"autoscaling/v2 HorizontalPodAutoscaler": func(o *objects) any { o.hpa = &autoscalingv2.HorizontalPodAutoscaler{}; return o.hpa },
	"networking.k8s.io/v1 NetworkPolicy":     func(o *objects) any { o.netpol = &networkingv1.NetworkPolicy{}; return o.netpol },
}

// decode splits YAML documents and decodes each strictly into its type.
func decode(t *testing.T, source string, docs []string) objects {
	t.Helper()
	var o objects
	for _, doc := range docs {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		newObject, ok := kinds[meta.APIVersion+" "+meta.Kind]
		if !ok {
			t.Fatalf("%s: unexpected object %s %s", source, meta.APIVersion, meta.Kind)
		}
		into := newObject(&o)
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", source, meta.APIVersion, meta.Kind, err, doc)
		}
	}
	return o
}

// check asserts what docs/production.md promises of a deployment.
func check(t *testing.T, o objects) {
	t.Helper()
	if o.deployment == nil || o.configMap == nil || o.service == nil || o.pdb == nil || o.netpol == nil {
		t.Fatalf("missing objects: %+v", o)
	}
	d := o.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Error("no pod anti-affinity")
	}
	if ps := pod.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: %+v", ps)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext: %+v", sc)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s probe: %+v", name, p)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Error("no CPU request")
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		t.Error("no memory request")
	}
	// The drain: grace = preStop + server.shutdown_timeout + 5 s.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep")
	}
	cfg := o.configMap.Data["rampart.yaml"]
	var parsed struct {
		Server struct {
			ShutdownTimeout string `json:"shutdown_timeout"`
		} `json:"server"`
	}
	if err := yaml.Unmarshal([]byte(cfg), &parsed); err != nil {
		t.Fatal(err)
	}
	drain, err := time.ParseDuration(parsed.Server.ShutdownTimeout)
	if err != nil {
		t.Fatalf("server.shutdown_timeout %q: %v", parsed.Server.ShutdownTimeout, err)
	}
	want := c.Lifecycle.PreStop.Sleep.Seconds + int64(drain.Seconds()) + 5
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != want {
		t.Errorf("terminationGracePeriodSeconds %v, want preStop %d + shutdown %v + 5 = %d", g, c.Lifecycle.PreStop.Sleep.Seconds, drain, want)
	}
	// The config is a directory mount (subPath mounts never update).
	var configMounted bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/rampart" && m.SubPath == "" {
			configMounted = true
		}
	}
	if !configMounted {
		t.Error("config not mounted as a directory at /etc/rampart")
	}
	// Secrets from the Secret via env, never in the ConfigMap.
	secretEnv := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretEnv[e.Name] = true
		}
	}
	for _, name := range []string{"RAMPART_ADMIN_TOKEN", "RAMPART_STORE_URL", "RAMPART_REDIS_URL"} {
		if !secretEnv[name] || !strings.Contains(cfg, "${"+name+"}") {
			t.Errorf("%s: from a Secret %v, used in the config %v", name, secretEnv[name], strings.Contains(cfg, "${"+name+"}"))
		}
	}
	// The Service exposes the public port only.
	for _, p := range o.service.Spec.Ports {
		if p.TargetPort.String() == "admin" || p.TargetPort.IntValue() == 9901 {
			t.Errorf("the Service exposes the admin port: %+v", p)
		}
	}
	// The NetworkPolicy opens the admin port to selected pods only.
	for _, rule := range o.netpol.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port != nil && p.Port.IntValue() == 9901 && len(rule.From) == 0 {
				t.Error("NetworkPolicy opens the admin port to everyone")
			}
		}
	}
	if o.pdb.Spec.MinAvailable == nil || o.pdb.Spec.MinAvailable.IntValue() < 1 {
		t.Errorf("PDB minAvailable %v", o.pdb.Spec.MinAvailable)
	}
	checkConfig(t, cfg)
}

// checkConfig runs `rampart check` on the config the ConfigMap carries, with
// the Secret's variables set as the pod has them.
func checkConfig(t *testing.T, cfg string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Rampart(t), "check", "-c", p)
	cmd.Env = append(os.Environ(), "RAMPART_ADMIN_TOKEN=0123456789abcdef0123456789abcdef0123456789",
		"RAMPART_STORE_URL=postgres://rampart@postgres:5432/rampart", "RAMPART_REDIS_URL=redis://redis:6379/0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("rampart check on the ConfigMap's config: %v\n%s\n%s", err, out, cfg)
	}
}

func render(t *testing.T, vals map[string]any) map[string]string {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(testbin.RepoRoot(t), "deploy", "helm", "rampart"))
	if err != nil {
		t.Fatal(err)
	}
	values, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: "rampart", Namespace: "default", IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(chrt, values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func docsOf(rendered map[string]string) []string {
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		if strings.HasSuffix(name, ".yaml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var docs []string
	for _, name := range names {
		docs = append(docs, regexp.MustCompile(`(?m)^---\s*$`).Split(rendered[name], -1)...)
	}
	return docs
}

var chartValues = map[string]any{
	"adminToken":  "0123456789abcdef0123456789abcdef0123456789",
	"postgresURL": "postgres://rampart@postgres:5432/rampart",
	"redisURL":    "redis://redis:6379/0",
}

func TestHelmChart(t *testing.T) {
	o := decode(t, "chart", docsOf(render(t, chartValues)))
	check(t, o)
	if o.secret == nil || o.secret.StringData["admin-token"] != chartValues["adminToken"] {
		t.Errorf("secret: %+v", o.secret)
	}
	if o.hpa != nil {
		t.Error("HPA rendered while autoscaling.enabled is false")
	}

	t.Run("autoscaling on: HPA, no fixed replicas", func(t *testing.T) {
		vals := map[string]any{"autoscaling": map[string]any{"enabled": true}, "existingSecret": "mine"}
		for k, v := range chartValues {
			vals[k] = v
		}
		o := decode(t, "chart", docsOf(render(t, vals)))
		if o.hpa == nil || o.hpa.Spec.MinReplicas == nil || *o.hpa.Spec.MinReplicas != 3 {
			t.Errorf("hpa: %+v", o.hpa)
		}
		if o.deployment.Spec.Replicas != nil {
			t.Error("replicas fixed while the HPA scales")
		}
		if o.secret != nil {
			t.Error("Secret rendered despite existingSecret")
		}
	})
	t.Run("no admin token: refused", func(t *testing.T) {
		chrt, err := loader.Load(filepath.Join(testbin.RepoRoot(t), "deploy", "helm", "rampart"))
		if err != nil {
			t.Fatal(err)
		}
		values, err := util.ToRenderValues(chrt, map[string]any{}, common.ReleaseOptions{Name: "rampart"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := engine.Render(chrt, values); err == nil || !strings.Contains(err.Error(), "adminToken") {
			t.Errorf("render without secrets: %v", err)
		}
	})
}

func TestPlainManifests(t *testing.T) {
	dir := filepath.Join(testbin.RepoRoot(t), "deploy", "kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1)...)
	}
	o := decode(t, "deploy/kubernetes", docs)
	check(t, o)
	if o.hpa == nil {
		t.Error("no HorizontalPodAutoscaler")
	}
}
