package kubelet

import (
	"fmt"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"plain":          "plain",
		"$(A)":           "1",
		"x$(A)y$(B)z":    "x1ytwoz",
		"$(MISSING)":     "$(MISSING)",
		"$$(A)":          "$(A)",
		"$$":             "$",
		"cost $5":        "cost $5",
		"$(unterminated": "$(unterminated",
		"$":              "$",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeEnvSource struct {
	cms     map[string]*v1.ConfigMap
	secrets map[string]*v1.Secret
}

func (f fakeEnvSource) configMap(ns, name string) (*v1.ConfigMap, error) {
	if cm, ok := f.cms[name]; ok {
		return cm, nil
	}
	return nil, fmt.Errorf("configmap %q not found", name)
}

func (f fakeEnvSource) secret(ns, name string) (*v1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("secret %q not found", name)
}

func TestMakeEnv(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	pod.Labels = map[string]string{"app": "web"}
	src := fakeEnvSource{
		cms:     map[string]*v1.ConfigMap{"cfg": {Data: map[string]string{"mode": "prod", "level": "info"}}},
		secrets: map[string]*v1.Secret{"sec": {Data: map[string][]byte{"pw": []byte("hunter2")}}},
	}
	c := &v1.Container{
		Name: "c",
		Resources: v1.ResourceRequirements{Limits: v1.ResourceList{
			v1.ResourceCPU: resource.MustParse("1500m"), v1.ResourceMemory: resource.MustParse("64Mi")}},
		EnvFrom: []v1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}},
		Env: []v1.EnvVar{
			{Name: "NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "HOST", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MEM_MI", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "PW", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "pw"}}},
			{Name: "MODE", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
			{Name: "OPT", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "x", Optional: ptr(true)}}},
			{Name: "GREETING", Value: "hi $(NAME) in $(CFG_mode)"},
		},
	}
	svc := func(ns, name, ip string, ports ...v1.ServicePort) *v1.Service {
		return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.ServiceSpec{ClusterIP: ip, Ports: ports}}
	}
	ec := envContext{
		Pod: pod, PodIPs: []string{"10.42.0.5"}, HostIPs: []string{"192.0.2.2"},
		Services: []*v1.Service{
			svc("default", "kubernetes", "10.43.0.1", v1.ServicePort{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}),
			svc("ns", "redis-main", "10.43.0.9", v1.ServicePort{Port: 6379, Protocol: v1.ProtocolTCP}),
			svc("ns", "headless", v1.ClusterIPNone, v1.ServicePort{Port: 80}),
			svc("other", "elsewhere", "10.43.0.10", v1.ServicePort{Port: 80}),
		},
	}
	env, err := makeEnv(c, ec, src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	for k, want := range map[string]string{
		"CFG_mode": "prod", "CFG_level": "info", "NAME": "p", "APP": "web", "IP": "10.42.0.5", "HOST": "192.0.2.2",
		"CPU": "2", "MEM_MI": "64", "PW": "hunter2", "MODE": "prod", "GREETING": "hi p in prod",
		"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT": "tcp://10.43.0.1:443", "KUBERNETES_PORT_443_TCP_ADDR": "10.43.0.1",
		"REDIS_MAIN_SERVICE_HOST": "10.43.0.9", "REDIS_MAIN_PORT_6379_TCP": "tcp://10.43.0.9:6379",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, absent := range []string{"OPT", "HEADLESS_SERVICE_HOST", "ELSEWHERE_SERVICE_HOST"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s is set", absent)
		}
	}

	pod.Spec.EnableServiceLinks = ptr(false)
	env, _ = makeEnv(&v1.Container{}, ec, src)
	names := []string{}
	for _, e := range env {
		names = append(names, e.Name)
	}
	if len(names) == 0 || !reflect.DeepEqual(names[:1], []string{"KUBERNETES_PORT"}) {
		t.Errorf("without service links only the kubernetes service is linked: %v", names)
	}
	for _, n := range names {
		if n == "REDIS_MAIN_SERVICE_HOST" {
			t.Errorf("service links disabled but %s set", n)
		}
	}

	missing := &v1.Container{Env: []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
		LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "absent"}}}}}
	if _, err := makeEnv(missing, ec, src); err == nil || err.Error() != "couldn't find key absent in ConfigMap ns/cfg" {
		t.Errorf("missing key error = %v", err)
	}
}
