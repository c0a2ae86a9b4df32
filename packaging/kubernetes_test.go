package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/rulekeeper/rulekeeper/agent"
)

// The manifests are checked against the Kubernetes API types, offline: a
// field the API does not know (a typo, a wrong level) is an error, as
// `kubectl apply --validate=strict` would make it.

// decodeStrict decodes each document of a manifest file into its API type.
func decodeStrict(t *testing.T, file string) []any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s: document %d: %v", file, i+1, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "apps/v1 DaemonSet":
			obj = &appsv1.DaemonSet{}
		default:
			t.Fatalf("%s: document %d: kind %q %q has no check here", file, i+1, head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: document %d (%s): %v", file, i+1, head.Kind, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestKubernetesStrictDecodingCatchesTypos(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n        - name: rulekeeper\n          volumeMount: []\n"), 0o644)
	var ds appsv1.DaemonSet
	b, _ := os.ReadFile(bad)
	err := yaml.UnmarshalStrict(b, &ds)
	if err == nil || !strings.Contains(err.Error(), `unknown field "volumeMount"`) {
		t.Fatalf("a misspelt field was not caught: %v", err)
	}
}

// agentConfig loads the agent.hcl of the ConfigMap as the daemon would.
func agentConfig(t *testing.T, cm *corev1.ConfigMap) *agent.Config {
	t.Helper()
	text, ok := cm.Data["agent.hcl"]
	if !ok {
		t.Fatalf("ConfigMap %s has no agent.hcl", cm.Name)
	}
	file := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(file, []byte(text), 0o644)
	l := agent.LoadConfig(file)
	if l.Config == nil {
		t.Fatalf("agent.hcl of ConfigMap %s: %v", cm.Name, l.Diags)
	}
	return l.Config
}

func TestKubernetesConfig(t *testing.T) {
	objs := decodeStrict(t, "kubernetes/rulekeeper-config.yaml")
	cm := objs[0].(*corev1.ConfigMap)
	if cm.Name != "rulekeeper-agent" {
		t.Fatalf("first object %s, want ConfigMap rulekeeper-agent", cm.Name)
	}
	c := agentConfig(t, cm)
	// In a pod Falco watches its files and no falco binary is at hand.
	if c.Falco.Reload != "watch" || c.Falco.Binary != "none" {
		t.Errorf("falco { reload = %q, binary = %q }, want watch and none", c.Falco.Reload, c.Falco.Binary)
	}
	if c.Source == nil || c.Source.PasswordFile != "/etc/rulekeeper/git/token" {
		t.Errorf("source %+v: want the token of the Secret mounted at /etc/rulekeeper/git", c.Source)
	}
	if s := objs[1].(*corev1.Secret); s.Name != "rulekeeper-git" || s.StringData["token"] == "" {
		t.Errorf("second object: want Secret rulekeeper-git with a token")
	}
}

func TestKubernetesDaemonSet(t *testing.T) {
	var ds *appsv1.DaemonSet
	for _, o := range decodeStrict(t, "kubernetes/falco-daemonset.yaml") {
		if d, ok := o.(*appsv1.DaemonSet); ok {
			ds = d
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	spec := ds.Spec.Template.Spec
	if sel := ds.Spec.Selector.MatchLabels; sel["app.kubernetes.io/name"] != ds.Spec.Template.Labels["app.kubernetes.io/name"] {
		t.Errorf("the selector %v does not match the pod labels %v", sel, ds.Spec.Template.Labels)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("container %s mounts volume %q, which the pod does not declare", c.Name, m.Name)
			}
		}
	}
	falco, rk := container(spec.Containers, "falco"), container(spec.Containers, "rulekeeper")
	if falco == nil || rk == nil {
		t.Fatal("want containers falco and rulekeeper in one pod")
	}
	checkSidecar(t, rk, mountAt(falco, "/etc/falco"))
	if v := volumes[mountAt(rk, "/etc/rulekeeper")]; v.ConfigMap == nil || v.ConfigMap.Name != "rulekeeper-agent" {
		t.Errorf("/etc/rulekeeper is not the rulekeeper-agent ConfigMap")
	}
	if v := volumes[mountAt(falco, "/etc/falco")]; v.EmptyDir == nil {
		t.Errorf("the shared /etc/falco should be an emptyDir, seeded by the init container")
	}
}

// The Helm values: the parts under extra and mounts go into the chart's pod
// template as they are, so they are decoded as the API types they become.
func TestKubernetesHelmValues(t *testing.T) {
	b, err := os.ReadFile("kubernetes/falco-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Falco struct {
			WatchConfigFiles bool `json:"watch_config_files"`
		} `json:"falco"`
		Falcoctl struct {
			Artifact struct {
				Install struct{ Enabled bool } `json:"install"`
				Follow  struct{ Enabled bool } `json:"follow"`
			} `json:"artifact"`
		} `json:"falcoctl"`
		Extra struct {
			InitContainers []corev1.Container `json:"initContainers"`
		} `json:"extra"`
		Mounts struct {
			Volumes []corev1.Volume `json:"volumes"`
		} `json:"mounts"`
	}
	if err := yaml.UnmarshalStrict(b, &values); err != nil {
		t.Fatalf("falco-values.yaml: %v", err)
	}
	if !values.Falco.WatchConfigFiles || !values.Falcoctl.Artifact.Install.Enabled {
		t.Error("want falco.watch_config_files and falcoctl's install: they make the shared volume and the reload")
	}
	rk := container(values.Extra.InitContainers, "rulekeeper")
	if rk == nil {
		t.Fatal("no rulekeeper in extra.initContainers")
	}
	if rk.RestartPolicy == nil || *rk.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("rulekeeper must be a native sidecar (restartPolicy: Always), else the pod waits for it forever")
	}
	// Volumes the chart makes itself, and those the values add.
	declared := map[string]bool{"rulesfiles-install-dir": true, "falco-yaml": true}
	for _, v := range values.Mounts.Volumes {
		declared[v.Name] = true
	}
	for _, m := range rk.VolumeMounts {
		if !declared[m.Name] {
			t.Errorf("rulekeeper mounts %q, which neither the chart nor mounts.volumes declares", m.Name)
		}
	}
	checkSidecar(t, rk, "rulesfiles-install-dir")
}

// checkSidecar: rulekeeper shares Falco's rules volume at /etc/falco, runs
// the daemon, and has nothing it does not need.
func checkSidecar(t *testing.T, rk *corev1.Container, rulesVolume string) {
	t.Helper()
	if got := mountAt(rk, "/etc/falco"); got == "" || got != rulesVolume {
		t.Errorf("rulekeeper mounts %q at /etc/falco, want Falco's rules volume %q", got, rulesVolume)
	}
	if strings.Join(rk.Args, " ") != "run --config /etc/rulekeeper/agent.hcl" {
		t.Errorf("rulekeeper args %q", rk.Args)
	}
	sc := rk.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("rulekeeper's securityContext is not tight: %+v", sc)
	}
	if mountAt(rk, "/var/lib/rulekeeper") == "" || mountAt(rk, "/tmp") == "" {
		t.Error("with a read-only root, the state directory and /tmp need volumes")
	}
}

func container(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func mountAt(c *corev1.Container, path string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m.Name
		}
	}
	return ""
}
