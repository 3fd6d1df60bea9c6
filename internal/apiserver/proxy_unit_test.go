package apiserver

import (
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodContainer(t *testing.T) {
	pod := func(init, ctrs []string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
		for _, n := range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
		}
		for _, n := range ctrs {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	for _, tc := range []struct {
		pod       *corev1.Pod
		name      string
		want, err string
	}{
		{pod(nil, []string{"a"}), "", "a", ""},
		{pod(nil, []string{"a", "b"}), "b", "b", ""},
		{pod([]string{"i"}, []string{"a"}), "i", "i", ""},
		{pod(nil, []string{"a", "b"}), "", "", "a container name must be specified for pod web, choose one of: [a b]"},
		{pod([]string{"i"}, []string{"a", "b"}), "", "", "a container name must be specified for pod web, choose one of: [i a b]"},
		{pod(nil, nil), "", "", "a container name must be specified for pod web"},
		{pod(nil, []string{"a"}), "x", "", "container x is not valid for pod web"},
	} {
		got, err := podContainer(tc.pod, tc.name)
		if tc.err != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != tc.err {
				t.Errorf("%q: got %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v", tc.name, got, err)
		}
	}
}

func TestPodLogQuery(t *testing.T) {
	for _, tc := range []struct {
		query, want, err string
	}{
		{"container=c&follow=true&previous=1&timestamps=true", "follow=true&previous=true&timestamps=true", ""},
		{"follow=false&tailLines=10&limitBytes=5&sinceSeconds=30", "limitBytes=5&sinceSeconds=30&tailLines=10", ""},
		{"sinceTime=2024-05-01T10:00:00.5Z", "sinceTime=2024-05-01T10%3A00%3A00Z", ""},
		{"stream=Stderr", "stream=Stderr", ""},
		{"tailLines=-1", "", `PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`},
		{"limitBytes=0", "", `PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0`},
		{"sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z", "", "PodLogOptions \"web\" is invalid: []: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"},
		{"stream=Stderr&tailLines=1", "", "PodLogOptions \"web\" is invalid: []: Forbidden: `tailLines` and specific `stream` are mutually exclusive for now"},
		{"tailLines=x", "", "tailLines"},
	} {
		q, _ := url.ParseQuery(tc.query)
		_, _, got, err := podLogQuery("web", q)
		if tc.err != "" {
			if err == nil || (err.Error() != tc.err && !apierrors.IsBadRequest(err)) {
				t.Errorf("%q: got %v, want %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || got.Encode() != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.query, got.Encode(), err, tc.want)
		}
	}
}

func TestNodeAddressAndProxyPath(t *testing.T) {
	node := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "vm"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}}}
	if got := nodeAddress(node); got != "10.0.0.5" {
		t.Errorf("address %q", got)
	}
	if got := nodeAddress(&corev1.Node{}); got != "" {
		t.Errorf("no address: %q", got)
	}
	for p, want := range map[string]string{
		"/api/v1/nodes/vm/proxy/stats/summary": "/stats/summary",
		"/api/v1/nodes/vm/proxy":               "/",
		"/api/v1/nodes/vm/proxy/":              "/",
		"/api/v1/nodes/vm:10250/proxy/metrics": "/metrics",
	} {
		name := "vm"
		if p == "/api/v1/nodes/vm:10250/proxy/metrics" {
			name = "vm:10250"
		}
		if got := proxyPath(p, name); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
}
