package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/proxy/iptables"
	"github.com/kedge-dev/kedge/internal/proxy/snapshot"
	"github.com/kedge-dev/kedge/internal/version"
)

// Modes the proxy can run in.
const (
	ModeIPTables = "iptables"
)

// Defaults for the sync periods, as kube-proxy's.
const (
	DefaultMinSyncPeriod = time.Second
	DefaultSyncPeriod    = 30 * time.Second
)

// syncTimeout bounds one sync; a sync in progress finishes even when the
// proxy is told to stop, so the tables are never left half-written.
const syncTimeout = time.Minute

// Config configures the proxy.
type Config struct {
	// RestConfig reaches the API server.
	RestConfig *rest.Config
	// NodeName is this node's name: endpoints on it are "local". Defaults
	// to the lower-cased hostname, as the kubelet registers it.
	NodeName string
	// NodeIP is this node's primary IPv4 address (informational for now).
	NodeIP string
	// ClusterCIDR is the pod range (default 10.42.0.0/16): traffic to a
	// cluster IP from outside it is masqueraded.
	ClusterCIDR string
	// Mode is the data plane; only "iptables" (the default) so far.
	Mode string
	// MinSyncPeriod is the least time between two syncs (default 1s);
	// SyncPeriod the most (default 30s), which repairs tables others changed.
	MinSyncPeriod, SyncPeriod time.Duration
}

// backend is one proxy mode: it makes the kernel implement a snapshot.
type backend interface {
	// Setup prepares the host once (sysctls, modules).
	Setup(ctx context.Context) error
	// Sync programs the whole snapshot.
	Sync(ctx context.Context, snap *snapshot.Snapshot) error
}

// Proxy watches Services and EndpointSlices and keeps this node's data
// plane in step with them.
type Proxy struct {
	cfg     Config
	client  kubernetes.Interface
	backend backend
}

// New checks cfg, fills in defaults and builds the client and the mode's
// backend. It changes nothing on the host.
func New(cfg Config) (*Proxy, error) {
	if cfg.RestConfig == nil {
		return nil, errors.New("proxy: no API server configuration (RestConfig is nil)")
	}
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	rc := rest.CopyConfig(cfg.RestConfig)
	if rc.UserAgent == "" {
		rc.UserAgent = version.UserAgent("kube-proxy")
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("proxy: build API client: %w", err)
	}
	var b backend
	switch cfg.Mode {
	case ModeIPTables:
		b, err = iptables.New(iptables.Config{ClusterCIDR: cfg.ClusterCIDR})
	default:
		err = fmt.Errorf("proxy mode %q is not supported (supported: %s)", cfg.Mode, ModeIPTables)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return newProxy(cfg, client, b), nil
}

func newProxy(cfg Config, client kubernetes.Interface, b backend) *Proxy {
	return &Proxy{cfg: cfg, client: client, backend: b}
}

// complete fills defaults and validates.
func (c *Config) complete() error {
	if c.Mode == "" {
		c.Mode = ModeIPTables
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = cluster.DefaultClusterCIDR
	}
	if c.MinSyncPeriod <= 0 {
		c.MinSyncPeriod = DefaultMinSyncPeriod
	}
	if c.SyncPeriod <= 0 {
		c.SyncPeriod = DefaultSyncPeriod
	}
	if c.SyncPeriod < c.MinSyncPeriod {
		return fmt.Errorf("proxy: sync period %s is shorter than the minimum sync period %s", c.SyncPeriod, c.MinSyncPeriod)
	}
	if c.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("proxy: no node name given and hostname unknown: %w", err)
		}
		c.NodeName = strings.ToLower(host)
	}
	if c.NodeIP != "" {
		if _, err := netip.ParseAddr(c.NodeIP); err != nil {
			return fmt.Errorf("proxy: node IP %q: %w", c.NodeIP, err)
		}
	}
	return nil
}

// Run prepares the host, waits for the informer caches, then syncs on
// every change (at most once per MinSyncPeriod) and every SyncPeriod. It
// returns nil when ctx ends and leaves the rules in place, as kube-proxy
// does, so Services keep working across a proxy restart.
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.backend.Setup(ctx); err != nil {
		return fmt.Errorf("proxy: set up %s mode: %w", p.cfg.Mode, err)
	}

	factory := informers.NewSharedInformerFactory(p.client, 0)
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()

	sync := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
		defer cancel()
		svcs, err := services.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("list services: %w", err)
		}
		eps, err := slices.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("list endpoint slices: %w", err)
		}
		snap := snapshot.Build(svcs, eps, p.cfg.NodeName)
		start := time.Now()
		if err := p.backend.Sync(ctx, snap); err != nil {
			return err
		}
		slog.Debug("proxy: synced", "servicePorts", len(snap.Services), "took", time.Since(start))
		return nil
	}
	runner := newSyncRunner(sync, p.cfg.MinSyncPeriod, p.cfg.SyncPeriod)

	trigger := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { runner.Trigger() },
		UpdateFunc: func(any, any) { runner.Trigger() },
		DeleteFunc: func(any) { runner.Trigger() },
	}
	if _, err := services.Informer().AddEventHandler(trigger); err != nil {
		return fmt.Errorf("proxy: watch services: %w", err)
	}
	if _, err := slices.Informer().AddEventHandler(trigger); err != nil {
		return fmt.Errorf("proxy: watch endpoint slices: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	slog.Info("proxy: started", "mode", p.cfg.Mode, "node", p.cfg.NodeName, "nodeIP", p.cfg.NodeIP, "clusterCIDR", p.cfg.ClusterCIDR)
	// Programming from a half-filled cache would delete the rules of every
	// Service not yet seen; wait for the full picture first.
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("proxy: cache of %v never synced", typ)
		}
	}
	runner.Trigger()
	runner.Run(ctx)
	slog.Info("proxy: stopped; service rules left in place")
	return nil
}
