// Package builtin assembles the registry of the built-in Kubernetes API.
package builtin

import (
	"context"
	"net/netip"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/apps"
	"github.com/kedge-dev/kedge/internal/registry/coordination"
	"github.com/kedge-dev/kedge/internal/registry/core"
	"github.com/kedge-dev/kedge/internal/registry/discovery"
)

// Config is what the built-in strategies need from the server.
type Config struct {
	ServiceCIDR netip.Prefix
	// Taken says whether a claim key (an allocated IP or port) is held.
	Taken func(ctx context.Context, key string) (bool, error)
}

// New returns the registry of every built-in resource, in discovery order:
// the legacy core group first, then the named groups.
func New(cfg Config) *registry.Registry {
	var all []*registry.Resource
	// core/v1
	all = append(all,
		core.Pods(),
		core.Namespaces(),
		core.Nodes(),
		core.Services(core.ServiceConfig{ServiceCIDR: cfg.ServiceCIDR, Taken: cfg.Taken}),
		core.Endpoints(),
		core.ConfigMaps(),
		core.Secrets(),
		core.ServiceAccounts(),
		core.Events(),
	)
	// more core/v1 kinds
	// apps/v1
	all = append(all, apps.Deployments(), apps.ReplicaSets())
	// more apps/v1 kinds
	// batch, autoscaling, policy
	// networking.k8s.io, storage.k8s.io, rbac.authorization.k8s.io, scheduling.k8s.io, events.k8s.io
	all = append(all, coordination.Leases())
	all = append(all, discovery.EndpointSlices())
	return registry.New(all...)
}
