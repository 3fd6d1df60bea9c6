// Package apitest runs a real API server on a real embedded etcd member in
// the current process, served over TLS with client-certificate
// authentication, for integration tests and benchmarks.
//
//	in:  a directory for etcd data and certificates
//	out: a running server, an admin *rest.Config and client for it
//
// Tests call New(t); commands (bench/) call Start and Close.
package apitest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/apiserver"
	"github.com/kedge-dev/kedge/internal/etcd"
	"github.com/kedge-dev/kedge/internal/pki"
	"github.com/kedge-dev/kedge/internal/registry/builtin"
	"github.com/kedge-dev/kedge/internal/storage"
)

// ServiceCIDR is the service range of test servers.
var ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")

// Options change how a test server is built.
type Options struct {
	// Configure, when set, may change the API server's Config before the
	// server is built (Store and Registry are already set).
	Configure func(*apiserver.Config)
	// HTTP2 offers HTTP/2 as the real server does (tests default to
	// HTTP/1.1, one connection per concurrent request).
	HTTP2 bool
}

// Server is a running API server with its etcd member.
type Server struct {
	Config *rest.Config         // admin credentials over TLS
	Client kubernetes.Interface // built from Config
	Member *etcd.Member
	Store  *storage.Store
	API    *apiserver.Server
	URL    string

	ctx    context.Context
	cancel context.CancelFunc
	http   *httptest.Server
	apiCfg apiserver.Config
	tls    *tls.Config
}

// New starts a server for a test or benchmark and stops it at cleanup.
func New(tb testing.TB) *Server {
	tb.Helper()
	return NewWithOptions(tb, Options{})
}

// NewWithOptions is New with options.
func NewWithOptions(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(context.Background(), tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts etcd and the API server with their files under dir.
func Start(ctx context.Context, dir string, opts Options) (_ *Server, err error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{ctx: ctx, cancel: cancel}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	peer, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Member, err = etcd.Start(ctx, etcd.Config{DataDir: filepath.Join(dir, "etcd"), PeerURL: fmt.Sprintf("http://127.0.0.1:%d", peer)})
	if err != nil {
		return nil, err
	}
	s.Store = storage.New(s.Member.Client())
	store := s.Store
	reg := builtin.New(builtin.Config{ServiceCIDR: ServiceCIDR, Taken: func(ctx context.Context, key string) (bool, error) {
		_, err := store.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}})
	ca, err := pki.LoadOrCreateCA(dir, "ca", "test-ca")
	if err != nil {
		return nil, err
	}
	srvCert, srvKey, err := ca.EnsureCert(dir, "serving", pki.CertSpec{CommonName: "kube-apiserver", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		return nil, err
	}
	cliCert, cliKey, err := ca.EnsureCert(dir, "admin", pki.CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	cfg := apiserver.Config{Store: store, Registry: reg, AdvertiseAddress: "127.0.0.1", ServiceCIDR: ServiceCIDR.String()}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	s.apiCfg = cfg
	s.API, err = apiserver.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.API.Bootstrap(ctx); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		return nil, err
	}
	s.http = httptest.NewUnstartedServer(s.API.Handler())
	s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	s.http.TLS = s.tls
	s.http.EnableHTTP2 = opts.HTTP2
	s.http.StartTLS()
	s.URL = s.http.URL
	certPEM, err := os.ReadFile(cliCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(cliKey)
	if err != nil {
		return nil, err
	}
	s.Config = &rest.Config{Host: s.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: certPEM, KeyData: keyPEM}}
	s.Client, err = kubernetes.NewForConfig(s.Config)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// RestartAPIServer replaces the API server by a new one (with empty
// caches) on the same etcd and the same address, as a restart of
// kube-apiserver looks to its clients. between, when set, runs while no
// API server is serving.
func (s *Server) RestartAPIServer(between func() error) error {
	addr := s.http.Listener.Addr().String()
	s.http.CloseClientConnections()
	s.http.Close()
	if between != nil {
		if err := between(); err != nil {
			return err
		}
	}
	api, err := apiserver.New(s.apiCfg)
	if err != nil {
		return err
	}
	// As at a real start: the built-in objects, the custom resources.
	if err := api.Bootstrap(s.ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", addr, err)
	}
	hs := httptest.NewUnstartedServer(api.Handler())
	hs.Listener.Close()
	hs.Listener = l
	hs.TLS = s.tls
	hs.EnableHTTP2 = s.http.EnableHTTP2
	hs.StartTLS()
	s.API, s.http = api, hs
	return nil
}

// Close stops the HTTP server and etcd.
func (s *Server) Close() {
	if s.http != nil {
		s.http.CloseClientConnections()
		s.http.Close()
	}
	s.cancel()
	if s.Member != nil {
		s.Member.Close()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
