package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultPort is the kubelet API's port.
const DefaultPort = 10250

// Host is what the kubelet knows of its pods.
type Host interface {
	// Pods are the pods bound to this node, with the status the kubelet
	// last reported.
	Pods() []*v1.Pod
	// Pod finds one of them.
	Pod(namespace, name string) (*v1.Pod, bool)
}

// Runtime is the part of CRI the server uses.
type Runtime interface {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
}

// Config configures the kubelet API server.
type Config struct {
	// Addr is the listen address, ":10250" by default.
	Addr string
	// CertFile and KeyFile are the serving certificate. ClientCA is what
	// client certificates must chain to (the cluster CA).
	CertFile, KeyFile string
	ClientCA          *x509.CertPool
	// Auth reaches the API server for TokenReviews and
	// SubjectAccessReviews; nil accepts only client certificates of
	// system:masters.
	Auth kubernetes.Interface

	NodeName string
	Host     Host
	Runtime  Runtime
	// RootDir is the kubelet's directory: its file system is the node's
	// (nodefs) in stats.
	RootDir string
	// CgroupRoot is the cgroup the node's pods live under (e.g.
	// /kedge/node1, pods in <root>/kubepods/...).
	CgroupRoot string
	// PodLogsDir holds the pods' log directories
	// (<ns>_<name>_<uid>/<container>/<n>.log).
	PodLogsDir string
}

// Server is the kubelet's HTTPS API.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	authz   *authCache
	stats   *statsCollector
	metrics http.Handler
	// streams reaches the runtime's streaming server.
	streams http.RoundTripper
}

// New builds the server; Run serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Host == nil || cfg.Runtime == nil {
		return nil, errors.New("kubelet server: Host and Runtime are required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("kubelet server: NodeName is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = fmt.Sprintf(":%d", DefaultPort)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), authz: newAuthCache(), streams: &http.Transport{
		// Plain HTTP on loopback; every session is a connection of its own.
		DialContext:       (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableKeepAlives: true,
	}}
	s.stats = newStatsCollector(cfg)
	s.metrics = s.metricsHandler()
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	ok := func(w http.ResponseWriter, r *http.Request) { writeText(w, http.StatusOK, "ok") }
	s.mux.HandleFunc("GET /healthz", ok)
	s.mux.HandleFunc("GET /healthz/ping", ok)
	s.mux.HandleFunc("GET /healthz/syncloop", ok)
	s.mux.HandleFunc("GET /pods", s.servePods)
	s.mux.HandleFunc("GET /pods/", s.servePods)
	s.mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.serveContainerLogs)
	for _, m := range []string{"GET", "POST"} {
		s.mux.HandleFunc(m+" /exec/{ns}/{pod}/{container}", s.serveExec)
		s.mux.HandleFunc(m+" /exec/{ns}/{pod}/{uid}/{container}", s.serveExec)
		s.mux.HandleFunc(m+" /attach/{ns}/{pod}/{container}", s.serveAttach)
		s.mux.HandleFunc(m+" /attach/{ns}/{pod}/{uid}/{container}", s.serveAttach)
		s.mux.HandleFunc(m+" /portForward/{ns}/{pod}", s.servePortForward)
		s.mux.HandleFunc(m+" /portForward/{ns}/{pod}/{uid}", s.servePortForward)
	}
	s.mux.HandleFunc("GET /stats/summary", s.serveSummary)
	s.mux.HandleFunc("POST /stats/summary", s.serveSummary)
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.HandleFunc("GET /metrics/resource", s.serveResourceMetrics)
}

// Handler serves the API behind authentication and authorization.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.authenticate(r)
		if !ok {
			writeText(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		attrs := requestAttributes(r, s.cfg.NodeName)
		allowed, err := s.authorize(r.Context(), u, attrs)
		if err != nil {
			slog.Error("kubelet API: authorize request", "user", u.name, "path", r.URL.Path, "err", err)
			writeText(w, http.StatusInternalServerError, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)", u.name, attrs.verb, attrs.resource, attrs.subresource))
			return
		}
		if !allowed {
			writeText(w, http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=[%s])", u.name, attrs.verb, attrs.resource, attrs.subresource))
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// Run serves HTTPS until ctx ends. A port that is taken is retried (the
// kubelet keeps running its pods meanwhile).
func (s *Server) Run(ctx context.Context) error {
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("kubelet server: serving certificate: %w", err)
	}
	srv := &http.Server{
		Handler: s.Handler(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    s.cfg.ClientCA,
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var ln net.Listener
	for {
		ln, err = net.Listen("tcp", s.cfg.Addr)
		if err == nil {
			break
		}
		slog.Error("kubelet server: listen; retrying in 10s", "addr", s.cfg.Addr, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Second):
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.stats.run(ctx) }()
	defer wg.Wait()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	slog.Info("kubelet server serving", "address", ln.Addr().String())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		srv.Close()
		return nil
	case err := <-errc:
		return fmt.Errorf("kubelet server: %w", err)
	}
}

// writeText writes a plain-text answer without a trailing newline, as
// upstream's kubelet writes its errors (the API server passes the text
// on as the message of its own error).
func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write([]byte(msg))
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// servePods lists the node's pods (a v1 PodList).
func (s *Server) servePods(w http.ResponseWriter, r *http.Request) {
	list := v1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []v1.Pod{}}
	for _, p := range s.cfg.Host.Pods() {
		list.Items = append(list.Items, *p)
	}
	writeJSON(w, &list)
}

func (s *Server) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		writeText(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	pod, ok := s.cfg.Host.Pod(ns, name)
	if !ok {
		writeText(w, http.StatusNotFound, fmt.Sprintf("pod %q does not exist", name))
		return
	}
	if !containerSpecExists(pod, container) {
		writeText(w, http.StatusNotFound, fmt.Sprintf("container %q not found in pod %q", container, name))
		return
	}
	id, err := logContainerID(pod, container, opts.previous)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	st, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil || st.Status == nil {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("failed to get container status %q: %v", "containerd://"+id, err))
		return
	}
	running := func() bool {
		st, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		return err == nil && st.Status != nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		opts.follow = false
	}
	if _, err := os.Stat(st.Status.LogPath); err != nil {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("failed to open log file %q: %v", st.Status.LogPath, err))
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if err := copyLogs(ctx, st.Status.LogPath, opts, w, func() { rc.Flush() }, running, defaultFollow); err != nil {
		// Headers are out: all that is left is to end the stream.
		slog.Debug("kubelet server: container logs", "pod", ns+"/"+name, "container", container, "err", err)
	}
}

// user is who made a request.
type user struct {
	name   string
	uid    string
	groups []string
}

func (u user) in(group string) bool {
	for _, g := range u.groups {
		if g == group {
			return true
		}
	}
	return false
}

// attributes are what a request asks for, in SubjectAccessReview terms:
// upstream's kubelet maps its paths to subresources of nodes/<name>.
type attributes struct {
	verb, resource, subresource, name string
}

func requestAttributes(r *http.Request, node string) attributes {
	verb := "get"
	switch r.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	sub := "proxy"
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch first {
	case "stats":
		sub = "stats"
	case "metrics":
		sub = "metrics"
	case "logs":
		sub = "log"
	case "healthz":
		sub = "healthz"
	case "pods":
		sub = "pods"
	}
	return attributes{verb: verb, resource: "nodes", subresource: sub, name: node}
}
