// Package server runs kedge's control plane in one process: the embedded
// etcd member, the API server, and (unless disabled) the scheduler and the
// controller manager, each talking to the API server through client-go. It
// also makes the cluster CA, the serving certificate and the kubeconfigs.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"crypto/x509"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kedge-dev/kedge/internal/apiserver"
	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/etcd"
	"github.com/kedge-dev/kedge/internal/pki"
	"github.com/kedge-dev/kedge/internal/registry/builtin"
	"github.com/kedge-dev/kedge/internal/storage"
)

// Config of the control plane.
type Config struct {
	DataDir          string
	BindAddress      string
	Port             int
	AdvertiseAddress string
	ClusterCIDR      string
	ServiceCIDR      string
	NodeCIDRMaskSize int
	EtcdPeerPort     int // default 2380
	// Components to run beside the API server.
	DisableScheduler         bool
	DisableControllerManager bool
	// DisableServiceAccountAdmission turns off the API server's
	// ServiceAccount admission of pods (service account must exist, token
	// volume kube-api-access-*), which is on as upstream has it.
	DisableServiceAccountAdmission bool
}

// kubeletClientCert is the base name of the API server's client
// certificate for kubelets in the TLS dir.
const kubeletClientCert = "client-kube-apiserver-kubelet"

// Server is the control plane.
type Server struct {
	cfg Config
	// Ready is closed when the API server answers.
	Ready chan struct{}
}

// New checks the config and fills in defaults.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = cluster.DefaultDataDir
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = abs
	if cfg.Port == 0 {
		cfg.Port = cluster.DefaultAPIServerPort
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = cluster.DefaultClusterCIDR
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = cluster.DefaultServiceCIDR
	}
	if cfg.NodeCIDRMaskSize == 0 {
		cfg.NodeCIDRMaskSize = cluster.DefaultNodeCIDRMaskSize
	}
	if cfg.EtcdPeerPort == 0 {
		cfg.EtcdPeerPort = 2380
	}
	if cfg.AdvertiseAddress == "" {
		ip, err := cluster.HostIP()
		if err != nil {
			return nil, err
		}
		cfg.AdvertiseAddress = ip.String()
	}
	return &Server{cfg: cfg, Ready: make(chan struct{})}, nil
}

// Config is the effective configuration (with defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Paths of the files the server writes.
func (s *Server) tlsDir() string          { return filepath.Join(s.cfg.DataDir, "server", "tls") }
func (s *Server) AdminKubeconfig() string { return filepath.Join(s.cfg.DataDir, "admin.kubeconfig") }

// ComponentKubeconfig is the kubeconfig of a control-plane component.
func (s *Server) ComponentKubeconfig(name string) string {
	return filepath.Join(s.cfg.DataDir, "server", "cred", name+".kubeconfig")
}
func (s *Server) URL() string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Port))
}
func (s *Server) NodeKubeconfig(node string) string {
	return filepath.Join(s.cfg.DataDir, "agent", "kubelet.kubeconfig")
}

// ServiceAccountKeyFile is the private key that signs ServiceAccount
// tokens (sa.key; sa.pub beside it).
func (s *Server) ServiceAccountKeyFile() string {
	return filepath.Join(s.tlsDir(), pki.ServiceAccountKeyName+".key")
}

// KubeletServingCert is where a node's kubelet API finds its serving
// certificate (and .key beside it), under the agent's data dir.
func KubeletServingCert(agentDir string) string {
	return filepath.Join(agentDir, "tls", "serving-kubelet.crt")
}

// Credentials makes the CA, the serving certificate, the ServiceAccount
// signing key, the API server's client certificate for kubelets and the
// kubeconfigs of the admin and of each component. nodeName, when set,
// also gets a kubelet kubeconfig and a serving certificate for the
// kubelet API, valid for the node's name and nodeIPs.
func (s *Server) Credentials(nodeName string, nodeIPs ...string) error {
	ca, err := pki.LoadOrCreateCA(s.tlsDir(), "ca", "kedge-ca")
	if err != nil {
		return err
	}
	if _, err := pki.LoadOrCreateServiceAccountKey(s.tlsDir()); err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	host, _ := os.Hostname()
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP(s.cfg.AdvertiseAddress)}
	if p, err := netip.ParsePrefix(s.cfg.ServiceCIDR); err == nil {
		ips = append(ips, net.IP(p.Masked().Addr().Next().AsSlice()))
	}
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + cluster.DefaultClusterDomain}
	if host != "" {
		dns = append(dns, host)
	}
	if _, _, err := ca.EnsureCert(s.tlsDir(), "serving-kube-apiserver", pki.CertSpec{CommonName: "kube-apiserver", DNSNames: dns, IPs: ips, Server: true}); err != nil {
		return err
	}
	// The API server reaches kubelets (logs, exec, nodes/proxy) as
	// upstream's kube-apiserver-kubelet-client.
	if _, _, err := ca.EnsureCert(s.tlsDir(), kubeletClientCert, pki.CertSpec{CommonName: "kube-apiserver-kubelet-client",
		Organization: []string{"system:masters"}, Client: true}); err != nil {
		return err
	}
	if nodeName != "" {
		spec := pki.CertSpec{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"},
			DNSNames: []string{nodeName, "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}
		if host != "" && host != nodeName {
			spec.DNSNames = append(spec.DNSNames, host)
		}
		for _, a := range nodeIPs {
			if ip := net.ParseIP(a); ip != nil && !ip.IsLoopback() {
				spec.IPs = append(spec.IPs, ip)
			}
		}
		cert := KubeletServingCert(filepath.Join(s.cfg.DataDir, "agent"))
		if _, _, err := ca.EnsureCert(filepath.Dir(cert), strings.TrimSuffix(filepath.Base(cert), ".crt"), spec); err != nil {
			return fmt.Errorf("kubelet serving certificate: %w", err)
		}
	}
	caPath := filepath.Join(s.tlsDir(), "ca.crt")
	clients := []struct {
		file, cn string
		org      []string
		path     string
	}{
		{"client-admin", "system:admin", []string{"system:masters"}, s.AdminKubeconfig()},
		{"client-scheduler", "system:kube-scheduler", nil, s.ComponentKubeconfig("scheduler")},
		{"client-controller", "system:kube-controller-manager", nil, s.ComponentKubeconfig("controller")},
	}
	if nodeName != "" {
		clients = append(clients, struct {
			file, cn string
			org      []string
			path     string
		}{"client-kubelet", "system:node:" + nodeName, []string{"system:nodes"}, s.NodeKubeconfig(nodeName)})
	}
	for _, c := range clients {
		cert, key, err := ca.EnsureCert(s.tlsDir(), c.file, pki.CertSpec{CommonName: c.cn, Organization: c.org, Client: true})
		if err != nil {
			return err
		}
		if err := pki.WriteKubeconfig(c.path, s.URL(), caPath, cert, key, c.cn); err != nil {
			return err
		}
	}
	return nil
}

// RestConfig loads one of the kubeconfigs the server wrote.
func RestConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg, nil
}

// Run starts etcd and the API server and then the other control-plane
// components, and runs until ctx ends.
func (s *Server) Run(ctx context.Context, components ...func(ctx context.Context) error) error {
	if err := s.Credentials(""); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	member, err := etcd.Start(ctx, etcd.Config{
		DataDir: filepath.Join(s.cfg.DataDir, "server", "db", "etcd"),
		PeerURL: "http://127.0.0.1:" + strconv.Itoa(s.cfg.EtcdPeerPort),
	})
	if err != nil {
		return err
	}
	defer member.Close()
	store := storage.New(member.Client())
	serviceCIDR, err := netip.ParsePrefix(s.cfg.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("service CIDR: %w", err)
	}
	reg := builtin.New(builtin.Config{
		ServiceCIDR: serviceCIDR,
		Taken: func(ctx context.Context, key string) (bool, error) {
			_, err := store.Get(ctx, key)
			if errors.Is(err, storage.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		},
	})
	caPEM, err := os.ReadFile(filepath.Join(s.tlsDir(), "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	saKey, err := pki.LoadPrivateKey(s.ServiceAccountKeyFile())
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	api, err := apiserver.New(apiserver.Config{
		Store: store, Registry: reg, BindAddress: s.cfg.BindAddress, Port: s.cfg.Port,
		AdvertiseAddress: s.cfg.AdvertiseAddress, ServiceCIDR: s.cfg.ServiceCIDR,
		CertFile: filepath.Join(s.tlsDir(), "serving-kube-apiserver.crt"), KeyFile: filepath.Join(s.tlsDir(), "serving-kube-apiserver.key"),
		ClientCA: pool, ServiceAccountKey: saKey, ServiceAccountAdmission: !s.cfg.DisableServiceAccountAdmission,
		KubeletClientCertFile: filepath.Join(s.tlsDir(), kubeletClientCert+".crt"),
		KubeletClientKeyFile:  filepath.Join(s.tlsDir(), kubeletClientCert+".key"),
		KubeletCA:             pool,
	})
	if err != nil {
		return err
	}
	if err := api.Bootstrap(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1+len(components))
	go func() { errc <- api.Run(ctx) }()
	if err := s.waitHealthy(ctx); err != nil {
		return err
	}
	close(s.Ready)
	for _, run := range components {
		go func() { errc <- run(ctx) }()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

func (s *Server) waitHealthy(ctx context.Context) error {
	cfg, err := RestConfig(s.AdminKubeconfig())
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i := 0; i < 300; i++ {
		if _, err := cs.Discovery().ServerVersion(); err == nil {
			slog.Info("API server is healthy", "url", s.URL())
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("API server did not become healthy")
}
