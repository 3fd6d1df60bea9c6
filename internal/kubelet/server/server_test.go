package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kedge-dev/kedge/internal/pki"
)

func exitError(code int) error {
	return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
}

// fakeRuntime answers the CRI calls the server makes from a fixed state.
type fakeRuntime struct {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
	containers []*runtimeapi.ContainerStatus // with labels
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, r *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	for _, c := range f.containers {
		if c.Id == r.ContainerId {
			return &runtimeapi.ContainerStatusResponse{Status: c}, nil
		}
	}
	return nil, io.EOF
}

func (f *fakeRuntime) ListContainers(_ context.Context, r *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	resp := &runtimeapi.ListContainersResponse{}
	for _, c := range f.containers {
		if st := r.GetFilter().GetState(); st != nil && st.State != c.State {
			continue
		}
		match := true
		for k, v := range r.GetFilter().GetLabelSelector() {
			if c.Labels[k] != v {
				match = false
			}
		}
		if match {
			resp.Containers = append(resp.Containers, &runtimeapi.Container{Id: c.Id, Metadata: c.Metadata, State: c.State, CreatedAt: c.CreatedAt, Labels: c.Labels})
		}
	}
	return resp, nil
}

type fakeHost []*v1.Pod

func (h fakeHost) Pods() []*v1.Pod { return h }

func (h fakeHost) Pod(ns, name string) (*v1.Pod, bool) {
	for _, p := range h {
		if p.Namespace == ns && p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// testServer serves the kubelet API over TLS with a CA of its own; its
// client presents a certificate of the given groups (none: no
// certificate).
func testServer(t *testing.T, host Host, rt Runtime) (*httptest.Server, func(groups ...string) *http.Client) {
	t.Helper()
	s, err := New(Config{NodeName: "n1", Host: host, Runtime: rt, RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	pair := func(name string, spec pki.CertSpec) tls.Certificate {
		cert, key, err := ca.EnsureCert(dir, name, spec)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair("serving", pki.CertSpec{CommonName: "n1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	client := func(groups ...string) *http.Client {
		tc := &tls.Config{RootCAs: pool}
		if len(groups) > 0 {
			tc.Certificates = []tls.Certificate{pair("client-"+strings.Join(groups, "-"), pki.CertSpec{CommonName: "tester", Organization: groups, Client: true})}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	return hs, client
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func runningPod(logPath string) (*v1.Pod, *runtimeapi.ContainerStatus) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c"}}},
		Status: v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{{Name: "c", ContainerID: "containerd://c1",
			State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}}},
	}
	ctr := &runtimeapi.ContainerStatus{Id: "c1", Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
		State: runtimeapi.ContainerState_CONTAINER_EXITED, LogPath: logPath,
		Labels: map[string]string{"io.kubernetes.pod.uid": "uid-1", "io.kubernetes.container.name": "c"}}
	return pod, ctr
}

func TestAuthentication(t *testing.T) {
	hs, client := testServer(t, fakeHost{}, &fakeRuntime{})
	if code, body := get(t, client(), hs.URL+"/healthz"); code != 401 || body != "Unauthorized" {
		t.Errorf("anonymous: %d %q", code, body)
	}
	if code, body := get(t, client("system:masters"), hs.URL+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("system:masters: %d %q", code, body)
	}
	// Without an API server to ask, only system:masters is authorized.
	if code, body := get(t, client("system:nodes"), hs.URL+"/stats/summary"); code != 403 ||
		body != "Forbidden (user=tester, verb=get, resource=nodes, subresource(s)=[stats])" {
		t.Errorf("other users: %d %q", code, body)
	}
}

func TestContainerLogsHandler(t *testing.T) {
	path := writeLog(t, sampleLog...)
	pod, ctr := runningPod(path)
	waiting := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "slow", Namespace: "default", UID: "uid-2"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c"}}},
		Status: v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{{Name: "c",
			State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}},
	}
	hs, client := testServer(t, fakeHost{pod, waiting}, &fakeRuntime{containers: []*runtimeapi.ContainerStatus{ctr}})
	c := client("system:masters")
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/containerLogs/default/web/c", 200, "one\ntwo\nthree\nfour\n"},
		{"/containerLogs/default/web/c?tailLines=1&follow=true", 200, "four\n"},
		{"/containerLogs/default/web/c?tail=1", 200, "four\n"},
		{"/containerLogs/default/web/c?previous=true", 400, `previous terminated container "c" in pod "web" not found`},
		{"/containerLogs/default/web/nope", 404, `container "nope" not found in pod "web"`},
		{"/containerLogs/default/gone/c", 404, `pod "gone" does not exist`},
		{"/containerLogs/default/slow/c", 400, `container "c" in pod "slow" is waiting to start: ContainerCreating`},
		{"/containerLogs/default/web/c?tailLines=-2", 422, "tailLines must be greater than or equal to 0"},
	} {
		if code, body := get(t, c, hs.URL+tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

func TestPodsHandler(t *testing.T) {
	pod, _ := runningPod("")
	hs, client := testServer(t, fakeHost{pod}, &fakeRuntime{})
	code, body := get(t, client("system:masters"), hs.URL+"/pods")
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 {
		t.Fatalf("%d %q: %v", code, body, err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Errorf("got %+v", list)
	}
}

func TestExecErrors(t *testing.T) {
	pod, ctr := runningPod("")
	hs, client := testServer(t, fakeHost{pod}, &fakeRuntime{containers: []*runtimeapi.ContainerStatus{ctr}})
	c := client("system:masters")
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/exec/default/web/c?command=ls", 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"/exec/default/gone/c?command=ls&output=1", 404, "pod does not exist"},
		// The container exited: nothing to exec in.
		{"/exec/default/web/c?command=ls&output=1", 500, `container not found ("c")`},
		{"/attach/default/web/uid-other/c?output=1", 500, `container not found ("c")`},
		{"/portForward/default/gone", 404, "pod does not exist"},
	} {
		if code, body := get(t, c, hs.URL+tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

// A v5 WebSocket client gets errors as a Status on the error channel, as
// upstream's API server reports them after translating the session.
func TestExecV5ReportsErrorsOnTheErrorChannel(t *testing.T) {
	pod, ctr := runningPod("")
	hs, client := testServer(t, fakeHost{pod}, &fakeRuntime{containers: []*runtimeapi.ContainerStatus{ctr}})
	tr := client("system:masters").Transport.(*http.Transport)
	d := gwebsocket.Dialer{TLSClientConfig: tr.TLSClientConfig, Subprotocols: []string{"v5.channel.k8s.io"}}
	ws, resp, err := d.Dial("wss"+strings.TrimPrefix(hs.URL, "https")+"/exec/default/web/c?command=ls&output=1&error=1", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	if ws.Subprotocol() != "v5.channel.k8s.io" {
		t.Errorf("subprotocol %q", ws.Subprotocol())
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no status on the error channel: %v", err)
		}
		if len(msg) == 0 || msg[0] != chanError || len(msg) == 1 {
			continue
		}
		var st metav1.Status
		if err := json.Unmarshal(msg[1:], &st); err != nil {
			t.Fatal(err)
		}
		if st.Status != metav1.StatusFailure || st.Reason != metav1.StatusReasonInternalError ||
			st.Message != `Internal error occurred: unable to upgrade connection: container not found ("c")` {
			t.Errorf("status %+v", st)
		}
		return
	}
}

func TestSessionStatus(t *testing.T) {
	if st := sessionStatus(nil); st.Status != metav1.StatusSuccess {
		t.Errorf("success: %+v", st)
	}
	st := sessionStatus(exitError(3))
	if st.Reason != "NonZeroExitCode" || st.Details.Causes[0].Message != "3" || st.Details.Causes[0].Type != "ExitCode" {
		t.Errorf("exit: %+v", st)
	}
	if st := sessionStatus(os.ErrClosed); st.Reason != metav1.StatusReasonInternalError {
		t.Errorf("other: %+v", st)
	}
}

func TestResourceMetrics(t *testing.T) {
	now := metav1.NewTime(time.UnixMilli(1700000000123))
	sum := &Summary{
		Node: NodeStats{CPU: &CPUStats{Time: now, UsageCoreNanoSeconds: ptr(uint64(2_500_000_000))}, Memory: &MemoryStats{Time: now, WorkingSetBytes: ptr(uint64(1024))}},
		Pods: []PodStats{{PodRef: PodReference{Name: "web", Namespace: "default"},
			CPU:        &CPUStats{Time: now, UsageCoreNanoSeconds: ptr(uint64(1e9))},
			Containers: []ContainerStats{{Name: "c", StartTime: metav1.NewTime(time.Unix(1700000000, 0)), Memory: &MemoryStats{Time: now, WorkingSetBytes: ptr(uint64(42))}}}}},
	}
	got := string(resourceMetrics(sum, 0))
	for _, want := range []string{
		"# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge\n" +
			`container_memory_working_set_bytes{container="c",namespace="default",pod="web"} 42 1700000000123` + "\n",
		`container_start_time_seconds{container="c",namespace="default",pod="web"} 1.7e+09` + "\n",
		"node_cpu_usage_seconds_total 2.5 1700000000123\n",
		"node_memory_working_set_bytes 1024 1700000000123\n",
		`pod_cpu_usage_seconds_total{namespace="default",pod="web"} 1 1700000000123` + "\n",
		"resource_scrape_error 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "container_cpu_usage_seconds_total") {
		t.Error("a family without samples is printed")
	}
}

func TestProcParsers(t *testing.T) {
	busy, boot, ok := procStat([]byte("cpu  100 20 30 1000 50 5 5 10 7 0\ncpu0 1 2 3 4\nbtime 1700000000\n"))
	if !ok || busy != 170*1e7 || boot != 1700000000 {
		t.Errorf("procStat: %d %d %v", busy, boot, ok)
	}
	kv := keyValues([]byte("MemTotal:       16000 kB\nMemFree: 100 kB\ntotal_rss 4096\n"))
	if kv["MemTotal"] != 16000*1024 || kv["MemFree"] != 100*1024 || kv["total_rss"] != 4096 {
		t.Errorf("keyValues: %v", kv)
	}
	dev := "Inter-|   Receive  |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n" +
		"    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1000 10 2 0 0 0 0 0 2000 20 3 0 0 0 0 0\nveth12: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  ens4: 7 1 0 0 0 0 0 0 8 1 0 0 0 0 0 0\n"
	ifs := netDev([]byte(dev))
	if len(ifs) != 2 || ifs[0].Name != "eth0" || *ifs[0].RxBytes != 1000 || *ifs[0].RxErrors != 2 || *ifs[0].TxBytes != 2000 || *ifs[0].TxErrors != 3 {
		t.Errorf("netDev: %+v", ifs)
	}
	if n := networkStats(ifs); n.Name != "eth0" || len(n.Interfaces) != 2 {
		t.Errorf("networkStats: %+v", n)
	}
	mi := "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
		"32 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n33 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
	if c := parseCgroupMounts([]byte(mi)); c.cpuacct != "/sys/fs/cgroup/cpu,cpuacct" || c.memory != "/sys/fs/cgroup/memory" || c.unified != "" {
		t.Errorf("v1 mounts: %+v", c)
	}
	if c := parseCgroupMounts([]byte("30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")); c.unified != "/sys/fs/cgroup" {
		t.Errorf("v2 mounts: %+v", c)
	}
}

func TestCgroupReaders(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	write("cpuacct/kubepods/pod1/cpuacct.usage", "123456789\n")
	write("memory/kubepods/pod1/memory.usage_in_bytes", "1000\n")
	write("memory/kubepods/pod1/memory.limit_in_bytes", "9223372036854771712\n")
	write("memory/kubepods/pod1/memory.stat", "total_inactive_file 300\ntotal_rss 500\ntotal_pgfault 7\ntotal_pgmajfault 1\n")
	v1 := cgroupFS{cpuacct: filepath.Join(dir, "cpuacct"), memory: filepath.Join(dir, "memory")}
	if u, ok := v1.cpuUsage("kubepods/pod1"); !ok || u != 123456789 {
		t.Errorf("v1 cpu %d %v", u, ok)
	}
	if m, ok := v1.memoryUsage("kubepods/pod1"); !ok || m.workingSet != 700 || m.rss != 500 || m.limit != 0 || m.pageFaults != 7 {
		t.Errorf("v1 memory %+v %v", m, ok)
	}
	write("unified/kubepods/pod2/cpu.stat", "usage_usec 42\nuser_usec 40\n")
	write("unified/kubepods/pod2/memory.current", "2000\n")
	write("unified/kubepods/pod2/memory.max", "4000\n")
	write("unified/kubepods/pod2/memory.stat", "anon 800\ninactive_file 500\n")
	write("unified/kubepods/pod2/pids.current", "3\n")
	v2 := cgroupFS{unified: filepath.Join(dir, "unified")}
	if u, ok := v2.cpuUsage("kubepods/pod2"); !ok || u != 42000 {
		t.Errorf("v2 cpu %d %v", u, ok)
	}
	m, ok := v2.memoryUsage("kubepods/pod2")
	if !ok || m.workingSet != 1500 || m.limit != 4000 || m.rss != 800 {
		t.Errorf("v2 memory %+v %v", m, ok)
	}
	if s := memoryStats(metav1.Now(), m); *s.AvailableBytes != 2500 {
		t.Errorf("available %d", *s.AvailableBytes)
	}
	if n, ok := v2.processes("kubepods/pod2"); !ok || n != 3 {
		t.Errorf("v2 pids %d %v", n, ok)
	}
}

func TestCPURate(t *testing.T) {
	c := &statsCollector{cpu: map[string][2]cpuSample{}}
	t0 := time.Unix(1000, 0)
	seen := map[string]bool{}
	if r := c.rate("x", t0, 1e9, true, seen); r != nil {
		t.Errorf("a rate from one sample: %d", *r)
	}
	if r := c.rate("x", t0.Add(10*time.Second), 6e9, true, seen); r == nil || *r != 5e8 {
		t.Errorf("rate %v", r)
	}
	// A request between samples reports the last window's rate.
	if r := c.rate("x", t0.Add(12*time.Second), 7e9, false, nil); r == nil || *r != 5e8 {
		t.Errorf("rate between samples %v", r)
	}
	c.forget(map[string]bool{})
	if len(c.cpu) != 0 {
		t.Error("forget kept samples")
	}
}
