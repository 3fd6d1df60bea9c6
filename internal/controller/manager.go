package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/controller/cronjob"
	"github.com/kedge-dev/kedge/internal/controller/daemonset"
	"github.com/kedge-dev/kedge/internal/controller/deployment"
	"github.com/kedge-dev/kedge/internal/controller/disruption"
	"github.com/kedge-dev/kedge/internal/controller/endpoints"
	"github.com/kedge-dev/kedge/internal/controller/endpointslice"
	"github.com/kedge-dev/kedge/internal/controller/garbagecollector"
	"github.com/kedge-dev/kedge/internal/controller/job"
	"github.com/kedge-dev/kedge/internal/controller/namespace"
	"github.com/kedge-dev/kedge/internal/controller/nodeipam"
	"github.com/kedge-dev/kedge/internal/controller/nodelifecycle"
	"github.com/kedge-dev/kedge/internal/controller/replicaset"
	"github.com/kedge-dev/kedge/internal/controller/serviceaccount"
	"github.com/kedge-dev/kedge/internal/controller/statefulset"
	"github.com/kedge-dev/kedge/internal/controller/ttlafterfinished"
	"github.com/kedge-dev/kedge/internal/version"
)

// UserAgent identifies the controller manager's requests.
var UserAgent = version.UserAgent("kube-controller-manager")

// resyncPeriod is the shared informers' resync: a safety net for keys
// dropped after too many failed retries.
const resyncPeriod = 10 * time.Minute

// Config configures a Manager. Zero values take the cluster defaults.
type Config struct {
	RestConfig       *rest.Config
	ClusterCIDR      string // default cluster.DefaultClusterCIDR (10.42.0.0/16)
	NodeCIDRMaskSize int    // default cluster.DefaultNodeCIDRMaskSize (24)
	Workers          int    // workers per controller, default 5
	// RootCA is the cluster CA published as kube-root-ca.crt and put into
	// token Secrets (default: the REST config's CA).
	RootCA []byte
	// ServiceAccountKeyFile signs Secret-based ServiceAccount tokens
	// (upstream's --service-account-private-key-file); empty: the tokens
	// controller does not run.
	ServiceAccountKeyFile string
}

// runner is a controller of the manager.
type runner interface {
	Run(ctx context.Context) error
}

type namedRunner struct {
	name string
	r    runner
}

// Manager runs every controller over one shared informer factory and one
// event broadcaster.
type Manager struct {
	client      kubernetes.Interface
	factory     informers.SharedInformerFactory
	broadcaster record.EventBroadcaster
	controllers []namedRunner
}

// NewManager builds the clients and every controller; nothing talks to
// the API server before Run.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.RestConfig == nil {
		return nil, errors.New("controller manager: no REST config")
	}
	rc := rest.CopyConfig(cfg.RestConfig)
	rc.UserAgent = UserAgent
	rc.ContentType = "application/json"
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("controller manager client: %w", err)
	}
	meta, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("controller manager metadata client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("controller manager discovery client: %w", err)
	}
	if len(cfg.RootCA) == 0 {
		cfg.RootCA = restConfigCA(rc)
	}
	return newManager(cfg, client, meta, disc)
}

func newManager(cfg Config, client kubernetes.Interface, meta metadata.Interface, disc garbagecollector.Discovery) (*Manager, error) {
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = cluster.DefaultClusterCIDR
	}
	if cfg.NodeCIDRMaskSize == 0 {
		cfg.NodeCIDRMaskSize = cluster.DefaultNodeCIDRMaskSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	m := &Manager{
		client:      client,
		factory:     informers.NewSharedInformerFactory(client, resyncPeriod),
		broadcaster: record.NewBroadcaster(),
	}
	recorder := func(component string) record.EventRecorder {
		return m.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
	}
	f, w := m.factory, cfg.Workers

	add := func(name string, r runner, err error) error {
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		m.controllers = append(m.controllers, namedRunner{name, r})
		return nil
	}
	dc, err := deployment.New(deployment.Options{Client: client, Informers: f, Recorder: recorder(deployment.Name), Workers: w})
	if err := add(deployment.Name, dc, err); err != nil {
		return nil, err
	}
	rsc, err := replicaset.New(replicaset.Options{Client: client, Informers: f, Recorder: recorder(replicaset.Name), Workers: w})
	if err := add(replicaset.Name, rsc, err); err != nil {
		return nil, err
	}
	ssc, err := statefulset.New(statefulset.Options{Client: client, Informers: f, Recorder: recorder(statefulset.Name), Workers: w})
	if err := add(statefulset.Name, ssc, err); err != nil {
		return nil, err
	}
	dsc, err := daemonset.New(daemonset.Options{Client: client, Informers: f, Recorder: recorder(daemonset.Name), Workers: w})
	if err := add(daemonset.Name, dsc, err); err != nil {
		return nil, err
	}
	jc, err := job.New(job.Options{Client: client, Informers: f, Recorder: recorder(job.Name), Workers: w})
	if err := add(job.Name, jc, err); err != nil {
		return nil, err
	}
	cjc, err := cronjob.New(cronjob.Options{Client: client, Informers: f, Recorder: recorder(cronjob.Name), Workers: w})
	if err := add(cronjob.Name, cjc, err); err != nil {
		return nil, err
	}
	ttlc, err := ttlafterfinished.New(ttlafterfinished.Options{Client: client, Informers: f, Workers: w})
	if err := add(ttlafterfinished.Name, ttlc, err); err != nil {
		return nil, err
	}
	pdbc, err := disruption.New(disruption.Options{Client: client, Informers: f, Recorder: recorder(disruption.EventSource), Workers: w})
	if err := add(disruption.Name, pdbc, err); err != nil {
		return nil, err
	}
	ec, err := endpoints.New(endpoints.Options{Client: client, Informers: f, Recorder: recorder(endpoints.Name), Workers: w})
	if err := add(endpoints.Name, ec, err); err != nil {
		return nil, err
	}
	esc, err := endpointslice.New(endpointslice.Options{Client: client, Informers: f, Recorder: recorder(endpointslice.EventSource), Workers: w})
	if err := add(endpointslice.Name, esc, err); err != nil {
		return nil, err
	}
	ipam, err := nodeipam.New(nodeipam.Options{Client: client, Informers: f, Recorder: recorder(nodeipam.EventSource),
		ClusterCIDR: cfg.ClusterCIDR, NodeCIDRMaskSize: cfg.NodeCIDRMaskSize, Workers: 1})
	if err := add(nodeipam.Name, ipam, err); err != nil {
		return nil, err
	}
	nlc, err := nodelifecycle.New(nodelifecycle.Options{Client: client, Informers: f, Recorder: recorder(nodelifecycle.EventSource), Workers: w})
	if err := add(nodelifecycle.Name, nlc, err); err != nil {
		return nil, err
	}
	sac, err := serviceaccount.New(serviceaccount.Options{Client: client, Informers: f, Workers: 1})
	if err := add(serviceaccount.Name, sac, err); err != nil {
		return nil, err
	}
	if err := addServiceAccountControllers(cfg, client, f, add); err != nil {
		return nil, err
	}
	nsc, err := namespace.New(namespace.Options{Client: client, Metadata: meta, Discovery: disc, Informers: f, Workers: w})
	if err := add(namespace.Name, nsc, err); err != nil {
		return nil, err
	}
	gc := garbagecollector.New(garbagecollector.Options{Metadata: meta, Discovery: disc, Workers: 2 * w})
	if err := add(garbagecollector.Name, gc, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// Run starts the informers and every controller, and returns when ctx is
// cancelled (nil) or a controller fails (its error, after stopping the
// others).
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sink := m.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.client.CoreV1().Events("")})
	defer m.broadcaster.Shutdown()
	defer sink.Stop()

	slog.Info("starting controller manager", "controllers", len(m.controllers))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, c := range m.controllers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.r.Run(ctx)
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("controller %s: %w", c.name, err)
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	m.factory.Start(ctx.Done())
	<-ctx.Done()
	wg.Wait()
	m.factory.Shutdown()
	slog.Info("controller manager stopped")
	return firstErr
}
