package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	gwebsocket "github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

const (
	// protocolV5 is remote command over WebSocket with stream half-close.
	protocolV5 = "v5.channel.k8s.io"
	// tunnelPrefix marks a WebSocket subprotocol that carries a SPDY
	// connection of the named protocol.
	tunnelPrefix = "SPDY/3.1+"
	// streamIdleTimeout ends a translated session nobody talks on.
	streamIdleTimeout = 4 * time.Hour
)

// Channels of the remote command protocol (stream numbers on the wire).
const (
	chanStdin = iota
	chanStdout
	chanStderr
	chanError
	chanResize
)

// streamOptions are the streams a remote command session asks for, from
// the query the API server builds (input, output, error, tty = "1").
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

func parseStreamOptions(q url.Values) (streamOptions, error) {
	o := streamOptions{stdin: q.Get("input") == "1", stdout: q.Get("output") == "1",
		stderr: q.Get("error") == "1", tty: q.Get("tty") == "1"}
	if o.tty && o.stderr {
		o.stderr = false // a terminal has one output stream
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// webSocketProtocols are the subprotocols a WebSocket upgrade request
// offers; nil if it is no WebSocket upgrade.
func webSocketProtocols(r *http.Request) []string {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		return nil
	}
	p := gwebsocket.Subprotocols(r)
	if p == nil {
		p = []string{}
	}
	return p
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func wantsV5(r *http.Request) bool {
	for _, p := range webSocketProtocols(r) {
		if p == protocolV5 {
			return true
		}
	}
	return false
}

// tunnelProtocols are the SPDY protocols a tunnelling WebSocket request
// offers (portforward.k8s.io for SPDY/3.1+portforward.k8s.io).
func tunnelProtocols(r *http.Request) []string {
	var out []string
	for _, p := range webSocketProtocols(r) {
		if strings.HasPrefix(p, tunnelPrefix) && strings.HasSuffix(p, ".k8s.io") {
			out = append(out, strings.TrimPrefix(p, tunnelPrefix))
		}
	}
	return out
}

// streamError answers a failed CRI streaming call as upstream's kubelet
// does: the gRPC code picks the HTTP status, the text is the error's.
func streamError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch grpcstatus.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.ResourceExhausted:
		code = http.StatusTooManyRequests
	case codes.Unavailable:
		code = http.StatusServiceUnavailable
	}
	writeText(w, code, err.Error())
}

// runningContainer finds the running instance of a pod's container.
func (s *Server) runningContainer(ctx context.Context, pod *v1.Pod, uid types.UID, name string) (string, error) {
	if uid != "" && uid != pod.UID {
		return "", fmt.Errorf("container not found (%q)", name)
	}
	resp, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID), "io.kubernetes.container.name": name},
	}})
	if err != nil {
		return "", err
	}
	var best *runtimeapi.Container
	for _, c := range resp.Containers {
		if best == nil || c.CreatedAt > best.CreatedAt {
			best = c
		}
	}
	if best == nil {
		return "", fmt.Errorf("container not found (%q)", name)
	}
	return best.Id, nil
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	s.serveRemoteCommand(w, r, func(ctx context.Context, id string, o streamOptions) (string, error) {
		resp, err := s.cfg.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: r.URL.Query()["command"],
			Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
		if err != nil {
			return "", err
		}
		return resp.Url, nil
	})
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	s.serveRemoteCommand(w, r, func(ctx context.Context, id string, o streamOptions) (string, error) {
		resp, err := s.cfg.Runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id,
			Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr})
		if err != nil {
			return "", err
		}
		return resp.Url, nil
	})
}

// serveRemoteCommand serves exec and attach: it asks the runtime for a
// session URL and proxies the client there, translating v5 WebSocket
// sessions to SPDY.
func (s *Server) serveRemoteCommand(w http.ResponseWriter, r *http.Request, open func(ctx context.Context, id string, o streamOptions) (string, error)) {
	opts, err := parseStreamOptions(r.URL.Query())
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	// With v5 the errors below reach the client after the upgrade, as
	// when upstream's API server translates the session.
	target := func(ctx context.Context) (*url.URL, error) {
		pod, ok := s.cfg.Host.Pod(r.PathValue("ns"), r.PathValue("pod"))
		if !ok {
			return nil, errPodNotFound
		}
		id, err := s.runningContainer(ctx, pod, types.UID(r.PathValue("uid")), r.PathValue("container"))
		if err != nil {
			return nil, err
		}
		raw, err := open(ctx, id, opts)
		if err != nil {
			return nil, err
		}
		return url.Parse(raw)
	}
	if wantsV5(r) {
		translateRemoteCommand(w, r, target, opts)
		return
	}
	u, err := target(r.Context())
	if errors.Is(err, errPodNotFound) {
		writeText(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		streamError(w, err)
		return
	}
	s.proxyUpgrade(w, r, u)
}

var errPodNotFound = errors.New("pod does not exist")

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	pod, ok := s.cfg.Host.Pod(r.PathValue("ns"), r.PathValue("pod"))
	if !ok {
		writeText(w, http.StatusNotFound, "pod does not exist")
		return
	}
	if uid := types.UID(r.PathValue("uid")); uid != "" && uid != pod.UID {
		writeText(w, http.StatusNotFound, "pod does not exist")
		return
	}
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("invalid port %q", p))
			return
		}
		ports = append(ports, int32(n))
	}
	ctx := r.Context()
	sandboxes, err := s.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID)},
	}})
	if err != nil {
		streamError(w, err)
		return
	}
	var sandbox *runtimeapi.PodSandbox
	for _, sb := range sandboxes.Items {
		if sandbox == nil || sb.CreatedAt > sandbox.CreatedAt {
			sandbox = sb
		}
	}
	if sandbox == nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("failed to find sandboxID for pod %s", podDesc(pod)))
		return
	}
	resp, err := s.cfg.Runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sandbox.Id, Port: ports})
	if err != nil {
		streamError(w, err)
		return
	}
	u, err := url.Parse(resp.Url)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	if protocols := tunnelProtocols(r); len(protocols) > 0 {
		tunnel(w, r, u, protocols)
		return
	}
	s.proxyUpgrade(w, r, u)
}

// proxyUpgrade forwards a request, and the connection it upgrades to
// (SPDY or WebSocket), to the runtime's session URL.
func (s *Server) proxyUpgrade(w http.ResponseWriter, r *http.Request, target *url.URL) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = u.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport:     s.streams,
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeText(w, http.StatusInternalServerError, err.Error())
		},
	}
	rp.ServeHTTP(w, r)
}

// translateRemoteCommand ends a v5.channel.k8s.io WebSocket here and runs
// the session as a SPDY client of the runtime's streaming server. Errors
// after the upgrade travel on the error channel, as a Status.
func translateRemoteCommand(w http.ResponseWriter, r *http.Request, target func(context.Context) (*url.URL, error), opts streamOptions) {
	read := func(on bool) wsstream.ChannelType {
		if on {
			return wsstream.ReadChannel
		}
		return wsstream.IgnoreChannel
	}
	write := func(on bool) wsstream.ChannelType {
		if on {
			return wsstream.WriteChannel
		}
		return wsstream.IgnoreChannel
	}
	channels := make([]wsstream.ChannelType, 5)
	channels[chanStdin] = read(opts.stdin)
	channels[chanStdout] = write(opts.stdout)
	channels[chanStderr] = write(opts.stderr)
	channels[chanError] = wsstream.WriteChannel
	channels[chanResize] = wsstream.ReadChannel
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{protocolV5: {Binary: true, Channels: channels}})
	conn.SetIdleTimeout(streamIdleTimeout)
	// Closing the connection after the final status makes the library's
	// reader log "use of closed network connection" for every session.
	r = r.WithContext(klog.NewContext(r.Context(), logr.Discard()))
	_, streams, err := conn.Open(w, r)
	if err != nil {
		slog.Debug("kubelet server: WebSocket upgrade", "err", err)
		return
	}
	defer conn.Close()
	// The first message completes the handshake on the client's side.
	first := chanError
	switch {
	case opts.stdout:
		first = chanStdout
	case opts.stderr:
		first = chanStderr
	}
	if _, err := streams[first].Write(nil); err != nil {
		return
	}
	writeStatus := func(st metav1.Status) {
		data, err := json.Marshal(st)
		if err != nil {
			return
		}
		conn.SetWriteDeadline(10 * time.Second)
		streams[chanError].Write(data)
	}
	ctx := r.Context()
	u, err := target(ctx)
	var st metav1.Status
	if err != nil {
		st = apierrors.NewInternalError(fmt.Errorf("unable to upgrade connection: %s", err)).ErrStatus
	} else {
		st = sessionStatus(runSPDYSession(ctx, u, opts, streams))
	}
	writeStatus(st)
}

// runSPDYSession drives a remote command session on the runtime's
// streaming server with the client's streams.
func runSPDYSession(ctx context.Context, u *url.URL, opts streamOptions, streams []io.ReadWriteCloser) error {
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{PingPeriod: 5 * time.Second})
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewSPDYExecutorRejectRedirects(rt, clientspdy.NewUpgraderForStreaming(rt), http.MethodPost, u)
	if err != nil {
		return err
	}
	so := remotecommand.StreamOptions{Tty: opts.tty}
	if opts.stdin {
		so.Stdin = streams[chanStdin]
	}
	if opts.stdout {
		so.Stdout = streams[chanStdout]
	}
	if opts.stderr {
		so.Stderr = streams[chanStderr]
	}
	if opts.tty {
		so.TerminalSizeQueue = &sizeQueue{dec: json.NewDecoder(streams[chanResize])}
	}
	return exec.StreamWithContext(ctx, so)
}

// sizeQueue reads the terminal sizes a client sends on the resize
// channel (JSON objects, one after the other).
type sizeQueue struct {
	dec *json.Decoder
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	var size remotecommand.TerminalSize
	if err := q.dec.Decode(&size); err != nil {
		return nil
	}
	return &size
}

// sessionStatus is the Status a session's end reports to the client:
// success, the command's non-zero exit code, or what went wrong.
func sessionStatus(err error) metav1.Status {
	var statusErr *apierrors.StatusError
	var exitErr utilexec.CodeExitError
	switch {
	case err == nil:
		return metav1.Status{Status: metav1.StatusSuccess}
	case errors.As(err, &statusErr):
		return statusErr.ErrStatus
	case errors.As(err, &exitErr) && exitErr.Exited():
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exitErr.ExitStatus())}}},
		}
	default:
		return apierrors.NewInternalError(err).ErrStatus
	}
}

// tunnel serves a port-forward whose SPDY connection travels inside a
// WebSocket: it opens the SPDY upgrade to the runtime first (a refusal
// reaches the client as an HTTP error, so kubectl falls back to plain
// SPDY, as with upstream), then accepts the WebSocket and copies bytes.
func tunnel(w http.ResponseWriter, r *http.Request, target *url.URL, protocols []string) {
	backend, br, resp, err := dialSPDY(r.Context(), target, protocols)
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("error dialing the container runtime's streaming server: %v", err))
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer backend.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		writeText(w, resp.StatusCode, strings.TrimSpace(string(body)))
		return
	}
	var sub []string
	if p := strings.TrimSpace(resp.Header.Get("X-Stream-Protocol-Version")); p != "" {
		sub = []string{tunnelPrefix + p}
	}
	up := gwebsocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, Subprotocols: sub}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		backend.Close()
		return
	}
	client := portforward.NewTunnelingConnection("kubelet", ws)
	pipe(client, backend, br)
}

// dialSPDY sends a SPDY upgrade request to the runtime and reads the
// answer; br holds whatever the runtime sent after it.
func dialSPDY(ctx context.Context, target *url.URL, protocols []string) (net.Conn, *bufio.Reader, *http.Response, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", target.Host)
	if err != nil {
		return nil, nil, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), nil)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	for _, p := range protocols {
		req.Header.Add("X-Stream-Protocol-Version", p)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, br, resp, nil
}

// pipe copies both ways until either side ends, then closes both.
func pipe(client net.Conn, backend net.Conn, fromBackend io.Reader) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); backend.Close() }) }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(backend, client); closeBoth() }()
	go func() { defer wg.Done(); io.Copy(client, fromBackend); closeBoth() }()
	wg.Wait()
}
