package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kedge-dev/kedge/internal/version"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Result is the outcome of one probe, or what a probe publishes after its
// thresholds.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
	// Warning is a success with something to report: an HTTP redirect to
	// another host, which is not followed.
	Warning
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Warning:
		return "warning"
	}
	return "unknown"
}

// maxOutput is how much of a probe's output (exec output, HTTP body) is
// kept, as upstream.
const maxOutput = 10 << 10

// ExecFunc runs cmd in a container as CRI ExecSync does; timeout 0 means
// no limit. A non-zero exit code is not an error.
type ExecFunc func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, exitCode int32, err error)

// Target is what a probe or hook acts on: one running container of a pod.
type Target struct {
	Pod         *v1.Pod
	Container   *v1.Container
	ContainerID string
	// PodIP is the default host of httpGet, tcpSocket and grpc handlers.
	PodIP string
}

// handlers runs probe and hook handlers.
type handlers struct {
	exec      ExecFunc
	expand    func(c *v1.Container, cmd []string) []string
	transport *http.Transport
}

func newHandlers(exec ExecFunc, expand func(*v1.Container, []string) []string) *handlers {
	if expand == nil {
		expand = func(_ *v1.Container, cmd []string) []string { return cmd }
	}
	dialer := &net.Dialer{Control: lingerControl}
	return &handlers{
		exec:   exec,
		expand: expand,
		transport: &http.Transport{
			// Probes go straight to the pod: no proxy from the
			// environment, no connection reuse, no compression.
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives:   true,
			DisableCompression:  true,
			TLSHandshakeTimeout: 10 * time.Second,
		},
	}
}

// lingerControl closes probe connections with a reset after 1 s instead of
// leaving them in TIME_WAIT (a busy node probes a lot).
func lingerControl(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
	})
}

func userAgent(purpose string) string {
	return fmt.Sprintf("kube-%s/%s.%s", purpose, version.Major, version.Minor)
}

// probe runs the handler of p once, within p's timeout. An error means the
// probe could not run at all (its result is Unknown).
func (h *handlers) probe(ctx context.Context, p *v1.Probe, t Target) (Result, string, error) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	switch {
	case p.Exec != nil:
		return h.execProbe(ctx, t, h.expand(t.Container, p.Exec.Command), timeout)
	case p.HTTPGet != nil:
		req, err := newHTTPRequest(ctx, p.HTTPGet, t.Container, t.PodIP, "probe")
		if err != nil {
			return Unknown, "", err
		}
		return httpProbe(req, h.client(timeout))
	case p.TCPSocket != nil:
		port, err := ResolvePort(p.TCPSocket.Port, t.Container)
		if err != nil {
			return Unknown, "", err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = t.PodIP
		}
		return tcpProbe(ctx, net.JoinHostPort(host, strconv.Itoa(port)), timeout)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return grpcProbe(ctx, net.JoinHostPort(t.PodIP, strconv.Itoa(int(p.GRPC.Port))), service, timeout)
	}
	return Unknown, "", errors.New("missing probe handler")
}

func (h *handlers) client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: h.transport, CheckRedirect: sameHostRedirects}
}

// sameHostRedirects follows redirects to the same host only (at most 10);
// a redirect elsewhere ends the request with the redirect response.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// execProbe runs cmd in the container: exit code 0 is success, any other
// a failure whose message is the output (stdout then stderr); a timeout is
// a failure too.
func (h *handlers) execProbe(ctx context.Context, t Target, cmd []string, timeout time.Duration) (Result, string, error) {
	stdout, stderr, code, err := h.exec(ctx, t.ContainerID, cmd, timeout)
	if err != nil {
		if isTimeout(err) {
			return Failure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
		}
		return Unknown, "", err
	}
	out := append(append([]byte{}, stdout...), stderr...)
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if code != 0 {
		return Failure, string(out), nil
	}
	return Success, string(out), nil
}

// isTimeout reports whether an exec ended by its timeout (CRI reports
// DeadlineExceeded; containerd 1.6 words it "timeout ... exceeded").
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || grpcstatus.Code(err) == codes.DeadlineExceeded {
		return true
	}
	msg := grpcstatus.Convert(err).Message()
	return strings.Contains(msg, "timeout") && strings.Contains(msg, "exceeded")
}

// ResolvePort turns a probe or hook port (a number, or the name of one of
// the container's ports) into a port number.
func ResolvePort(port intstr.IntOrString, c *v1.Container) (int, error) {
	n := -1
	switch port.Type {
	case intstr.Int:
		n = port.IntValue()
	case intstr.String:
		found := false
		if c != nil {
			for _, p := range c.Ports {
				if p.Name == port.StrVal {
					n, found = int(p.ContainerPort), true
					break
				}
			}
		}
		if !found {
			// Maybe a number written as a string.
			var err error
			if n, err = strconv.Atoi(port.StrVal); err != nil {
				return n, err
			}
		}
	default:
		return n, fmt.Errorf("intOrString had no kind: %+v", port)
	}
	if n > 0 && n < 65536 {
		return n, nil
	}
	return n, fmt.Errorf("invalid port number: %v", n)
}

// newHTTPRequest builds the GET of an httpGet action: scheme (default
// http), host (default the pod IP), port by number or name, path and
// headers; User-Agent kube-<purpose>/<major>.<minor> and Accept */*
// unless the headers say otherwise.
func newHTTPRequest(ctx context.Context, a *v1.HTTPGetAction, c *v1.Container, podIP, purpose string) (*http.Request, error) {
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	port, err := ResolvePort(a.Port, c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		u = &url.URL{Path: a.Path} // too late to reject it: pass it on as written
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	headers := http.Header{}
	for _, hd := range a.HTTPHeaders {
		headers.Add(hd.Name, hd.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", userAgent(purpose))
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// httpProbe sends req: 200-399 is success (a redirect that was not
// followed is a warning), anything else a failure. Transport errors
// (refused, timeout) are failures whose message is the error.
func httpProbe(req *http.Request, client *http.Client) (Result, string, error) {
	res, err := client.Do(req)
	if err != nil {
		return Failure, err.Error(), nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return Failure, "", err
	}
	body := string(b)
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			return Warning, fmt.Sprintf("Probe terminated redirects, Response body: %v", body), nil
		}
		return Success, body, nil
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// tcpProbe succeeds when a TCP connection to addr opens.
func tcpProbe(ctx context.Context, addr string, timeout time.Duration) (Result, string, error) {
	d := net.Dialer{Timeout: timeout, Control: lingerControl}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Failure, err.Error(), nil
	}
	conn.Close()
	return Success, "", nil
}

// grpcProbe calls grpc.health.v1.Health/Check: SERVING is success;
// anything else (no connection within the timeout, UNIMPLEMENTED,
// NOT_SERVING) is a failure.
func grpcProbe(ctx context.Context, addr, service string, timeout time.Duration) (Result, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(userAgent("probe")))
	if err != nil {
		return Failure, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err), nil
	}
	defer conn.Close()
	conn.Connect()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			return Failure, fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, ctx.Err()), nil
		}
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if st, ok := grpcstatus.FromError(err); ok {
			switch st.Code() {
			case codes.Unimplemented:
				return Failure, fmt.Sprintf("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", st.Message()), nil
			case codes.DeadlineExceeded:
				return Failure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout), nil
			}
		}
		return Failure, fmt.Sprintf("error: health rpc probe failed: %+v", err), nil
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String()), nil
	}
	return Success, "service healthy", nil
}
