package apiserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/apiserver/apitest"
)

// fakeKubelet answers like a kubelet and records what it was asked.
type fakeKubelet struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD path?query"
}

func (k *fakeKubelet) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.requests...)
}

func newFakeKubelet(t *testing.T) *fakeKubelet {
	k := &fakeKubelet{}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.requests = append(k.requests, r.Method+" "+r.URL.RequestURI())
		k.mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "the client's credentials reached the kubelet", http.StatusInternalServerError)
			return
		}
		switch {
		case r.URL.Path == "/containerLogs/default/waiting/c":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `container "c" in pod "waiting" is waiting to start: ContainerCreating`)
		case strings.HasPrefix(r.URL.Path, "/containerLogs/"):
			io.WriteString(w, "line 1\nline 2\n")
		case r.Header.Get("Upgrade") == "test/1":
			// An upgrade: switch, then echo what the client sends.
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test/1\r\n\r\n")
			brw.Flush()
			buf := make([]byte, 64)
			n, _ := brw.Read(buf)
			brw.Write(buf[:n])
			brw.Flush()
		default:
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "kubelet says "+r.URL.Path)
		}
	}))
	t.Cleanup(k.Close)
	return k
}

// startWithKubelet runs an API server, a fake kubelet and a node "n1"
// whose status points at it.
func startWithKubelet(t *testing.T) (*apitest.Server, *fakeKubelet) {
	t.Helper()
	s := apitest.New(t)
	k := newFakeKubelet(t)
	ctx := context.Background()
	u, _ := url.Parse(k.URL)
	port, _ := strconv.Atoi(u.Port())
	node, err := s.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := s.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{
		podOn("web", "n1", "c"), podOn("two", "n1", "a", "b"), podOn("waiting", "n1", "c"), podOn("unscheduled", "", "c"),
	} {
		if _, err := s.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return s, k
}

func podOn(name, node string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "localhost/busybox:1.36"})
	}
	return p
}

func TestPodLogsComeFromTheKubelet(t *testing.T) {
	s, k := startWithKubelet(t)
	ctx := context.Background()
	pods := s.Client.CoreV1().Pods("default")
	read := func(name string, opts *corev1.PodLogOptions) (string, error) {
		rc, err := pods.GetLogs(name, opts).Stream(ctx)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}

	got, err := read("web", &corev1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](2), Timestamps: true, SinceSeconds: ptr.To[int64](60)})
	if err != nil || got != "line 1\nline 2\n" {
		t.Fatalf("logs: %q, %v", got, err)
	}
	last := k.seen()[len(k.seen())-1]
	if last != "GET /containerLogs/default/web/c?follow=true&sinceSeconds=60&tailLines=2&timestamps=true" {
		t.Errorf("kubelet was asked %q", last)
	}

	for _, tc := range []struct {
		pod     string
		opts    corev1.PodLogOptions
		code    int32
		message string
	}{
		{"two", corev1.PodLogOptions{}, 400, "a container name must be specified for pod two, choose one of: [a b]"},
		{"web", corev1.PodLogOptions{Container: "nope"}, 400, "container nope is not valid for pod web"},
		{"waiting", corev1.PodLogOptions{}, 400, `container "c" in pod "waiting" is waiting to start: ContainerCreating`},
		{"web", corev1.PodLogOptions{TailLines: ptr.To[int64](-1)}, 422, `PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`},
		{"missing", corev1.PodLogOptions{}, 404, `pods "missing" not found`},
	} {
		_, err := read(tc.pod, &tc.opts)
		var se *apierrors.StatusError
		if !errorsAs(err, &se) || se.ErrStatus.Code != tc.code || se.ErrStatus.Message != tc.message {
			t.Errorf("logs of %s %+v: got %v, want %d %q", tc.pod, tc.opts, err, tc.code, tc.message)
		}
	}
	if got, err := read("two", &corev1.PodLogOptions{Container: "b"}); err != nil || got != "line 1\nline 2\n" {
		t.Errorf("logs of a named container: %q, %v", got, err)
	}
	// A pod no node runs yet has no log.
	if got, err := read("unscheduled", &corev1.PodLogOptions{}); err != nil || got != "" {
		t.Errorf("logs of an unscheduled pod: %q, %v", got, err)
	}
}

func errorsAs(err error, se **apierrors.StatusError) bool {
	s, ok := err.(*apierrors.StatusError)
	if ok {
		*se = s
	}
	return ok
}

// upgrade sends a raw upgrade request through the API server and checks
// the connection is handed through to the kubelet.
func upgrade(t *testing.T, cfg *rest.Config, path string) (status int, body string) {
	t.Helper()
	tc, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc.NextProtos = []string{"http/1.1"}
	u, _ := url.Parse(cfg.Host)
	conn, err := tls.Dial("tcp", u.Host, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: test/1\r\nAuthorization: Bearer secret\r\nContent-Length: 0\r\n\r\n", path, u.Host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(buf)
}

func TestExecAttachPortForwardAreProxiedUpgrades(t *testing.T) {
	s, k := startWithKubelet(t)
	for _, tc := range []struct {
		path, kubelet string
	}{
		{"/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo+hi&stdin=true&tty=true",
			"POST /exec/default/web/c?command=sh&command=-c&command=echo+hi&error=1&input=1&output=1&tty=1"},
		{"/api/v1/namespaces/default/pods/two/exec?container=b&command=ls&stdout=true&stderr=false",
			"POST /exec/default/two/b?command=ls&output=1"},
		{"/api/v1/namespaces/default/pods/web/attach?stdin=true&stdout=true&stderr=true",
			"POST /attach/default/web/c?error=1&input=1&output=1"},
		{"/api/v1/namespaces/default/pods/web/portforward?ports=8080&ports=9090",
			"POST /portForward/default/web?port=8080&port=9090"},
	} {
		code, body := upgrade(t, s.Config, tc.path)
		if code != http.StatusSwitchingProtocols || body != "ping" {
			t.Errorf("%s: %d %q", tc.path, code, body)
			continue
		}
		seen := k.seen()
		if last := seen[len(seen)-1]; last != tc.kubelet {
			t.Errorf("%s: kubelet was asked %q, want %q", tc.path, last, tc.kubelet)
		}
	}
	for _, tc := range []struct {
		path, message string
	}{
		{"/api/v1/namespaces/default/pods/two/exec?command=ls", "a container name must be specified for pod two, choose one of: [a b]"},
		{"/api/v1/namespaces/default/pods/unscheduled/exec?command=ls", "pod unscheduled does not have a host assigned"},
		{"/api/v1/namespaces/default/pods/unscheduled/portforward?ports=80", "pod unscheduled does not have a host assigned"},
	} {
		code, body := upgrade(t, s.Config, tc.path)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.message) {
			t.Errorf("%s: %d %q, want 400 with %q", tc.path, code, body, tc.message)
		}
	}
}

func TestNodeProxy(t *testing.T) {
	s, k := startWithKubelet(t)
	rc := s.Client.CoreV1().RESTClient()
	ctx := context.Background()
	body, err := rc.Get().AbsPath("/api/v1/nodes/n1/proxy/stats/summary").Param("only_cpu_and_memory", "true").
		SetHeader("Accept", "text/plain").DoRaw(ctx)
	if err != nil || string(body) != "kubelet says /stats/summary" {
		t.Fatalf("nodes/proxy: %q, %v", body, err)
	}
	seen := k.seen()
	if last := seen[len(seen)-1]; last != "GET /stats/summary?only_cpu_and_memory=true" {
		t.Errorf("kubelet was asked %q", last)
	}
	if body, err := rc.Get().AbsPath("/api/v1/nodes/n1/proxy").DoRaw(ctx); err != nil || string(body) != "kubelet says /" {
		t.Errorf("nodes/proxy without a path: %q, %v", body, err)
	}
	if _, err := rc.Get().AbsPath("/api/v1/nodes/nope/proxy/healthz").DoRaw(ctx); !apierrors.IsNotFound(err) {
		t.Errorf("proxy to a missing node: %v", err)
	}
}

func TestDiscoveryListsKubeletSubresources(t *testing.T) {
	s := apitest.New(t)
	list, err := s.Client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range list.APIResources {
		got[r.Name] = r.Kind + " " + strings.Join(r.Verbs, ",")
	}
	for name, want := range map[string]string{
		"pods/attach":      "PodAttachOptions create,get",
		"pods/exec":        "PodExecOptions create,get",
		"pods/log":         "Pod get",
		"pods/portforward": "PodPortForwardOptions create,get",
		"nodes/proxy":      "NodeProxyOptions create,delete,get,patch,update",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
}
