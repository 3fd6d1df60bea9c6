package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostPort splits a test server's address.
func hostPort(t *testing.T, rawURL string) (string, int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return u.Hostname(), port
}

func TestHTTPProbe(t *testing.T) {
	var lastReq *http.Request
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { lastReq = r; fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/notfound", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host, port := hostPort(t, srv.URL)
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+strconv.Itoa(port)+"/ok", http.StatusMovedPermanently)
	})

	h := newHandlers(nil, nil)
	container := &v1.Container{Name: "c", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	target := Target{Pod: probePod(*container), Container: container, PodIP: host}
	get := func(path string, port intstr.IntOrString, headers ...v1.HTTPHeader) *v1.Probe {
		return &v1.Probe{TimeoutSeconds: 1, ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
			Path: path, Port: port, HTTPHeaders: headers,
		}}}
	}
	byNumber, byName := intstr.FromInt32(int32(port)), intstr.FromString("http")

	for _, tc := range []struct {
		name   string
		probe  *v1.Probe
		result Result
		output string // prefix
	}{
		{"200 is success", get("/ok", byNumber), Success, "fine"},
		{"a named port", get("/ok", byName), Success, "fine"},
		{"500 is a failure", get("/fail", byNumber), Failure, "HTTP probe failed with statuscode: 500"},
		{"404 is a failure", get("/notfound", byNumber), Failure, "HTTP probe failed with statuscode: 404"},
		{"a redirect to the same host is followed", get("/here", byNumber), Success, "fine"},
		{"a redirect to another host is a warning", get("/elsewhere", byNumber), Warning,
			`Probe terminated redirects, Response body: <a href="http://localhost:`},
		{"a timeout is a failure", get("/slow", byNumber), Failure,
			fmt.Sprintf(`Get "http://%s:%d/slow": context deadline exceeded`, host, port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			result, output, err := h.probe(context.Background(), tc.probe, target)
			if err != nil {
				t.Fatal(err)
			}
			if result != tc.result || !strings.HasPrefix(output, tc.output) {
				t.Errorf("got %s %q, want %s %q", result, output, tc.result, tc.output)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v with a 1 s timeout", time.Since(start))
			}
		})
	}

	// Headers: ours unless the probe sets them; Host from the headers.
	h.probe(context.Background(), get("/ok", byNumber), target)
	if ua := lastReq.Header.Get("User-Agent"); ua != "kube-probe/1.37" {
		t.Errorf("User-Agent %q", ua)
	}
	if a := lastReq.Header.Get("Accept"); a != "*/*" {
		t.Errorf("Accept %q", a)
	}
	h.probe(context.Background(), get("/ok", byNumber,
		v1.HTTPHeader{Name: "Host", Value: "example.test"},
		v1.HTTPHeader{Name: "X-Custom", Value: "yes"},
		v1.HTTPHeader{Name: "user-agent", Value: "mine"},
		v1.HTTPHeader{Name: "Accept", Value: ""}), target)
	if lastReq.Host != "example.test" || lastReq.Header.Get("X-Custom") != "yes" || lastReq.Header.Get("User-Agent") != "mine" {
		t.Errorf("request host %q headers %v", lastReq.Host, lastReq.Header)
	}
	if _, ok := lastReq.Header["Accept"]; ok {
		t.Errorf("empty Accept header was sent: %v", lastReq.Header)
	}

	// An unresolvable port is an error (the probe errored), not a failure.
	_, _, err := h.probe(context.Background(), get("/ok", intstr.FromString("web")), target)
	if err == nil || err.Error() != `strconv.Atoi: parsing "web": invalid syntax` {
		t.Errorf("unknown port name: err %v", err)
	}
	// Connection refused.
	closed := closedPort(t)
	result, output, _ := h.probe(context.Background(), get("/ok", intstr.FromInt32(int32(closed))), target)
	want := fmt.Sprintf(`Get "http://127.0.0.1:%d/ok": dial tcp 127.0.0.1:%d: connect: connection refused`, closed, closed)
	if result != Failure || output != want {
		t.Errorf("refused: %s %q, want %q", result, output, want)
	}
}

func TestHTTPSProbe(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
	defer srv.Close()
	host, port := hostPort(t, srv.URL)
	h := newHandlers(nil, nil)
	c := &v1.Container{Name: "c"}
	p := &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Scheme: v1.URISchemeHTTPS, Port: intstr.FromInt32(int32(port)), Path: "/"}}}
	result, output, err := h.probe(context.Background(), p, Target{Pod: probePod(*c), Container: c, PodIP: host})
	if err != nil || result != Success || output != "secure" {
		t.Errorf("https probe (self-signed): %s %q %v", result, output, err)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	h := newHandlers(nil, nil)
	c := &v1.Container{Name: "c", Ports: []v1.ContainerPort{{Name: "db", ContainerPort: int32(port)}}}
	target := Target{Pod: probePod(*c), Container: c, PodIP: "127.0.0.1"}
	tcp := func(port intstr.IntOrString, host string) *v1.Probe {
		return &v1.Probe{TimeoutSeconds: 1, ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: port, Host: host}}}
	}
	if r, out, err := h.probe(context.Background(), tcp(intstr.FromString("db"), ""), target); r != Success || err != nil {
		t.Errorf("listening port: %s %q %v", r, out, err)
	}
	if r, _, _ := h.probe(context.Background(), tcp(intstr.FromInt32(int32(port)), "127.0.0.1"), Target{Pod: target.Pod, Container: c}); r != Success {
		t.Errorf("explicit host: %s", r)
	}
	closed := closedPort(t)
	r, out, _ := h.probe(context.Background(), tcp(intstr.FromInt32(int32(closed)), ""), target)
	want := fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed)
	if r != Failure || out != want {
		t.Errorf("closed port: %s %q, want %q", r, out, want)
	}
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	defer srv.Stop()
	port := l.Addr().(*net.TCPAddr).Port

	// A gRPC server without the health service.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := grpc.NewServer()
	go bare.Serve(l2)
	defer bare.Stop()
	barePort := l2.Addr().(*net.TCPAddr).Port

	h := newHandlers(nil, nil)
	c := &v1.Container{Name: "c"}
	target := Target{Pod: probePod(*c), Container: c, PodIP: "127.0.0.1"}
	probe := func(port int, service *string) *v1.Probe {
		return &v1.Probe{TimeoutSeconds: 1, ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: int32(port), Service: service}}}
	}
	db := "db"
	closed := closedPort(t)
	for _, tc := range []struct {
		name   string
		probe  *v1.Probe
		result Result
		output string
	}{
		{"serving", probe(port, nil), Success, "service healthy"},
		{"not serving", probe(port, &db), Failure, `service unhealthy (responded with "NOT_SERVING")`},
		{"no health service", probe(barePort, nil), Failure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
		{"nothing listening", probe(closed, nil), Failure,
			fmt.Sprintf(`timeout: failed to connect service "127.0.0.1:%d" within 1s: context deadline exceeded`, closed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, out, err := h.probe(context.Background(), tc.probe, target)
			if err != nil || r != tc.result || out != tc.output {
				t.Errorf("got %s %q %v, want %s %q", r, out, err, tc.result, tc.output)
			}
		})
	}
}

func TestExecProbe(t *testing.T) {
	var gotCmd []string
	var gotTimeout time.Duration
	reply := func(stdout, stderr string, code int32, err error) ExecFunc {
		return func(_ context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, int32, error) {
			gotCmd, gotTimeout = cmd, timeout
			return []byte(stdout), []byte(stderr), code, err
		}
	}
	expand := func(c *v1.Container, cmd []string) []string {
		out := []string{}
		for _, s := range cmd {
			out = append(out, strings.ReplaceAll(s, "$(WHO)", c.Env[0].Value))
		}
		return out
	}
	c := &v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "WHO", Value: "me"}}}
	target := Target{Pod: probePod(*c), Container: c, ContainerID: "id1"}
	p := &v1.Probe{TimeoutSeconds: 2, ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", "check $(WHO)"}}}}
	for _, tc := range []struct {
		name   string
		exec   ExecFunc
		result Result
		output string
		err    bool
	}{
		{"exit 0", reply("fine\n", "", 0, nil), Success, "fine\n", false},
		{"exit 1: the output", reply("out\n", "err\n", 1, nil), Failure, "out\nerr\n", false},
		{"timeout", reply("", "", 0, grpcstatus.Error(codes.DeadlineExceeded, "context deadline exceeded")), Failure,
			`command "sh -c check me" timed out`, false},
		{"containerd's timeout", reply("", "", 0, grpcstatus.Error(codes.Unknown, "failed to exec in container: timeout 2s exceeded: context deadline exceeded")), Failure,
			`command "sh -c check me" timed out`, false},
		{"runtime error", reply("", "", 0, errors.New("container not running")), Unknown, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandlers(tc.exec, expand)
			r, out, err := h.probe(context.Background(), p, target)
			if r != tc.result || out != tc.output || (err != nil) != tc.err {
				t.Errorf("got %s %q %v, want %s %q (error %v)", r, out, err, tc.result, tc.output, tc.err)
			}
			if strings.Join(gotCmd, " ") != "sh -c check me" || gotTimeout != 2*time.Second {
				t.Errorf("exec %q timeout %v", gotCmd, gotTimeout)
			}
		})
	}
}

func TestResolvePort(t *testing.T) {
	c := &v1.Container{Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	for _, tc := range []struct {
		port intstr.IntOrString
		want int
		err  string
	}{
		{intstr.FromInt32(80), 80, ""},
		{intstr.FromString("http"), 8080, ""},
		{intstr.FromString("9090"), 9090, ""},
		{intstr.FromString("web"), 0, `strconv.Atoi: parsing "web": invalid syntax`},
		{intstr.FromInt32(0), 0, "invalid port number: 0"},
		{intstr.FromInt32(70000), 70000, "invalid port number: 70000"},
	} {
		got, err := ResolvePort(tc.port, c)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("ResolvePort(%v) = %d, %v; want %d, %q", tc.port.String(), got, err, tc.want, tc.err)
		}
	}
}
