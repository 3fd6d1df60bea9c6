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

// New returns the registry of every built-in resource, in discovery order.
func New(cfg Config) *registry.Registry {
	return registry.New(
		core.Pods(),
		core.Namespaces(),
		core.Nodes(),
		core.Services(core.ServiceConfig{ServiceCIDR: cfg.ServiceCIDR, Taken: cfg.Taken}),
		core.Endpoints(),
		core.ConfigMaps(),
		core.Secrets(),
		core.ServiceAccounts(),
		core.Events(),
		apps.Deployments(),
		apps.ReplicaSets(),
		coordination.Leases(),
		discovery.EndpointSlices(),
	)
}
