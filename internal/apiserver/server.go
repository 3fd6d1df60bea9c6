// Package apiserver is kedge's kube-apiserver: the only door to etcd. It is
// a tree of http.Handlers over one generic request path:
//
//	request → authenticate → parse path → registry.Resource (the strategy)
//	        → decode → prepare/default → validate → storage (etcd) → encode
//
// list, watch, patch, subresources (status, scale, binding, finalize),
// discovery and Table printing are generic; what differs per kind lives in
// internal/registry. Custom resources take the same path, with strategies
// built from their CustomResourceDefinitions while the server runs
// (crd_controller.go). The server keeps no state of its own beyond etcd.
package apiserver

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kedge-dev/kedge/internal/apiserver/openapi"
	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/serviceaccount"
	"github.com/kedge-dev/kedge/internal/storage"
	"github.com/kedge-dev/kedge/internal/storage/watchcache"
	"github.com/kedge-dev/kedge/internal/version"
)

// Config of an API server.
type Config struct {
	Store    *storage.Store
	Registry *registry.Registry

	BindAddress      string // default 0.0.0.0
	Port             int    // default 6443
	AdvertiseAddress string // the address Endpoints of "kubernetes" point at
	ServiceCIDR      string
	// TLS serving certificate and the CA that client certificates must chain to.
	CertFile, KeyFile string
	ClientCA          *x509.CertPool
	// WatchCache tunes the watch cache; DisableWatchCache gives every watch
	// an etcd watch of its own (upstream's --watch-cache=false).
	WatchCache        watchcache.Config
	DisableWatchCache bool
	// ServiceAccountKey signs ServiceAccount tokens (serviceaccounts/token)
	// and verifies bearer tokens; nil: no tokens are issued or accepted.
	ServiceAccountKey crypto.Signer
	// ServiceAccountIssuer is the "iss" of issued tokens and the API
	// audience (default https://kubernetes.default.svc.cluster.local).
	ServiceAccountIssuer string
	// ServiceAccountAdmission turns on upstream's ServiceAccount admission
	// of new pods: their service account must exist, and they get the
	// projected kube-api-access-* token volume (admission.go).
	ServiceAccountAdmission bool
	// KubeletClientCertFile and KubeletClientKeyFile are the client
	// certificate the server reaches kubelets with (pods/log, exec,
	// attach, portforward, nodes/proxy); KubeletCA verifies the kubelets'
	// serving certificates (nil: they are not verified, upstream's
	// default).
	KubeletClientCertFile, KubeletClientKeyFile string
	KubeletCA                                   *x509.CertPool
}

func (c Config) advertise() string {
	return net.JoinHostPort(c.AdvertiseAddress, strconv.Itoa(c.Port))
}

// Server is a running API server.
type Server struct {
	cfg   Config
	store *storage.Store
	reg   *registry.Registry
	codec *codec
	cache *watchcache.Cacher // nil: watches and lists read etcd
	// crds serves the custom resources of CustomResourceDefinitions
	// (crd_controller.go).
	crds *crdController
	// openapi generates (once) and serves the OpenAPI documents.
	openapi *openapi.Service
	// openapiProto caches the protobuf form of the v2 document.
	openapiProto protoV2
	// fields keeps the field managers of server-side apply and
	// managedFields (managedfields.go).
	fields fieldManagers
	// issuer signs and tokens verifies ServiceAccount tokens (nil
	// without a ServiceAccountKey).
	issuer *serviceaccount.Issuer
	tokens *serviceaccount.Authenticator
	// kubelets are the transports to kubelets (proxy.go).
	kubelets kubeletTransports
}

// New builds an API server.
func New(cfg Config) (*Server, error) {
	if cfg.Port == 0 {
		cfg.Port = 6443
	}
	if cfg.BindAddress == "" {
		cfg.BindAddress = "0.0.0.0"
	}
	if cfg.Store == nil || cfg.Registry == nil {
		return nil, errors.New("apiserver: store and registry are required")
	}
	s := &Server{cfg: cfg, store: cfg.Store, reg: cfg.Registry, codec: newCodec()}
	s.crds = newCRDController(s)
	s.openapi = openapi.New(openapi.Config{
		Resources:      s.reg.Resources,
		Subresources:   subresources,
		Scheme:         scheme.Scheme,
		Version:        version.GitVersion,
		CustomSchema:   func(gvk schema.GroupVersionKind) *spec.Schema { return s.crds.schema(gvk, false) },
		CustomSchemaV2: func(gvk schema.GroupVersionKind) *spec.Schema { return s.crds.schema(gvk, true) },
	})
	if !cfg.DisableWatchCache {
		s.cache = watchcache.New(cfg.Store, cfg.WatchCache)
	}
	if err := s.setupTokens(); err != nil {
		return nil, fmt.Errorf("apiserver: service account tokens: %w", err)
	}
	return s, nil
}

// Handler is the full handler chain: authentication, then the API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := s.authenticate(r)
		if err != nil || (!ok && !public(r.URL.Path)) {
			if err != nil {
				slog.Debug("Unable to authenticate the request", "err", err)
			}
			writeError(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		if ok {
			r = r.WithContext(registry.WithUser(r.Context(), u))
		}
		s.ServeHTTP(w, r)
	})
}

// public paths answer without credentials, as upstream's
// system:public-info-viewer allows.
func public(p string) bool {
	switch strings.TrimSuffix(p, "/") {
	case "/healthz", "/livez", "/readyz", "/version":
		return true
	}
	return false
}

// authenticate accepts a client certificate signed by the cluster CA (the
// TLS layer verified it): the user is its CommonName, the groups its
// Organizations, as upstream's x509 authenticator reads them. Without one,
// a bearer token must be a valid ServiceAccount token: an invalid token is
// an error (401) even where no credentials are needed.
func (s *Server) authenticate(r *http.Request) (registry.User, bool, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cert := r.TLS.PeerCertificates[0]
		groups := append(append([]string(nil), cert.Subject.Organization...), "system:authenticated")
		return registry.User{Name: cert.Subject.CommonName, Groups: groups}, true, nil
	}
	if token, ok := bearerToken(r); ok {
		u, _, err := s.authenticateToken(r.Context(), token, nil)
		return u, err == nil, err
	}
	return registry.User{}, false, nil
}

// ServeHTTP serves an authenticated request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.Error("panic serving request", "path", r.URL.Path, "panic", v)
			writeError(w, fmt.Errorf("internal error: %v", v))
		}
	}()
	if ri, ok := parseResourcePath(r); ok {
		s.serveResource(w, r, ri)
		return
	}
	if s.serveNonResource(w, r) {
		return
	}
	writeError(w, statusError(http.StatusNotFound, "NotFound", "the server could not find the requested resource"))
}

// Run bootstraps the cluster's built-in objects and serves HTTPS until ctx
// ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("apiserver listen: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("apiserver serving certificate: %w", err)
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
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	s.crds.Start(ctx)
	go s.maintain(ctx)
	slog.Info("API server serving", "address", ln.Addr().String())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.cache != nil {
			s.cache.Stop() // ends the watches, so Shutdown need not wait for them
		}
		srv.Shutdown(sctx)
		srv.Close()
		return nil
	case err := <-errc:
		return err
	}
}
