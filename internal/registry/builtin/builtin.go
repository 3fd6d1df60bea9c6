// Package builtin assembles the registry of the built-in Kubernetes API.
package builtin

import (
	"context"
	"net/netip"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/apiextensions"
	"github.com/kedge-dev/kedge/internal/registry/apps"
	"github.com/kedge-dev/kedge/internal/registry/auth"
	"github.com/kedge-dev/kedge/internal/registry/autoscaling"
	"github.com/kedge-dev/kedge/internal/registry/batch"
	"github.com/kedge-dev/kedge/internal/registry/coordination"
	"github.com/kedge-dev/kedge/internal/registry/core"
	"github.com/kedge-dev/kedge/internal/registry/discovery"
	"github.com/kedge-dev/kedge/internal/registry/events"
	"github.com/kedge-dev/kedge/internal/registry/networking"
	"github.com/kedge-dev/kedge/internal/registry/policy"
	"github.com/kedge-dev/kedge/internal/registry/rbac"
	"github.com/kedge-dev/kedge/internal/registry/scheduling"
	"github.com/kedge-dev/kedge/internal/registry/storagereg"
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
	all = append(all,
		core.ReplicationControllers(),
		core.PersistentVolumes(),
		core.PersistentVolumeClaims(),
		core.ResourceQuotas(),
		core.LimitRanges(),
		core.PodTemplates(),
	)
	// apps/v1
	all = append(all, apps.Deployments(), apps.ReplicaSets())
	all = append(all, apps.ControllerRevisions(), apps.DaemonSets(), apps.StatefulSets())
	all = append(all, batch.CronJobs(), batch.Jobs())
	// autoscaling/v2 first: the first version of a group is its preferred one
	all = append(all, autoscaling.HorizontalPodAutoscalersV2(), autoscaling.HorizontalPodAutoscalersV1())
	all = append(all, policy.PodDisruptionBudgets())
	all = append(all, networking.Ingresses(), networking.IngressClasses(), networking.NetworkPolicies())
	all = append(all, storagereg.StorageClasses(), storagereg.CSIDrivers(), storagereg.CSINodes(), storagereg.VolumeAttachments())
	all = append(all, rbac.Roles(), rbac.RoleBindings(), rbac.ClusterRoles(), rbac.ClusterRoleBindings())
	all = append(all, apiextensions.CustomResourceDefinitions())
	all = append(all, scheduling.PriorityClasses())
	all = append(all, events.Events())
	all = append(all, auth.SelfSubjectReviews(), auth.TokenReviews(), auth.SelfSubjectAccessReviews(), auth.SubjectAccessReviews())
	all = append(all, coordination.Leases())
	all = append(all, discovery.EndpointSlices())
	return registry.New(all...)
}
