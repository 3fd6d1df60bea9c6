// Package registry describes every resource the API server serves. A
// Resource is a small strategy: what the kind is (group, version, scope,
// names), how its objects are defaulted and validated, which subresources it
// has, which fields can be selected and how it prints as a Table. The API
// server has one generic request path that consults it; adding a kind is one
// file under internal/registry/<group>/.
package registry

import (
	"context"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is the strategy of one resource.
type Resource struct {
	GVK        schema.GroupVersionKind
	Name       string // plural, lower case: "pods"
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool

	// New returns an empty object of the kind; NewList an empty list.
	New     func() runtime.Object
	NewList func() runtime.Object

	// Status says the kind has a /status subresource whose writes change
	// only .status, while writes to the main resource keep .status.
	Status bool
	// Scale, when set, serves /scale.
	Scale *ScaleAccess
	// Generation says metadata.generation counts spec changes.
	Generation bool
	// Verbs overrides the default verb list (all of them).
	Verbs []string

	// NameValidation checks metadata.name (default: DNS-1123 subdomain).
	NameValidation func(name string, prefix bool) []string

	// Review, when set, makes the resource a create-only review: a create
	// is answered with Review's result and nothing is stored (the
	// authentication and authorization review APIs).
	Review func(ctx context.Context, obj runtime.Object) (runtime.Object, error)

	// Default fills in defaults in place (after decoding, before validation).
	Default func(obj runtime.Object)
	// Validate checks a new object; ValidateUpdate an update against the old one.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// PrepareForCreate resets fields a client may not set on create.
	PrepareForCreate func(obj runtime.Object)
	// BeforeCreate may allocate values (a ClusterIP) and return claim keys
	// that must be unique cluster-wide; they are written with the object.
	BeforeCreate func(ctx context.Context, obj runtime.Object) (claims map[string]string, err error)
	// BeforeUpdate is BeforeCreate for updates; release lists claims to free.
	BeforeUpdate func(ctx context.Context, obj, old runtime.Object) (claims map[string]string, release []string, err error)
	// Claims lists the claim keys an object holds, freed when it is deleted.
	Claims func(obj runtime.Object) []string
	// GracePeriod returns the grace period of a delete, and whether the
	// object is deleted gracefully (marked, then removed by its owner).
	GracePeriod func(obj runtime.Object, requested *int64) (seconds int64, graceful bool)

	// PrepareForDelete updates an object whose deletion starts (a namespace
	// turns Terminating); Finalizing says the object still has finalization
	// of its own pending and must stay until it is done.
	PrepareForDelete func(obj runtime.Object)
	Finalizing       func(obj runtime.Object) bool

	// Fields returns the selectable fields beyond metadata.name and
	// metadata.namespace.
	Fields func(obj runtime.Object) fields.Set

	// Storage, when set, says that this resource shares its etcd keys and
	// stored form with another (an older version of the same kind, or core
	// Events for events.k8s.io): objects are converted on the way in and out.
	Storage *StorageAccess

	// Columns and Row print the kind as a Table. Columns with Priority 1
	// show only with -o wide.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) []interface{}
}

// ScaleAccess reads and writes the replica count of a scalable kind.
type ScaleAccess struct {
	Replicas    func(obj runtime.Object) (spec, status int32, selector string)
	SetReplicas func(obj runtime.Object, replicas int32)
}

// StorageAccess converts between a served version and the stored one.
type StorageAccess struct {
	Resource    string                  // resource name of the etcd keys, e.g. "horizontalpodautoscalers"
	GVK         schema.GroupVersionKind // of the stored form
	New         func() runtime.Object   // an empty object of the stored form
	ToStorage   func(obj runtime.Object) (runtime.Object, error)
	FromStorage func(stored runtime.Object) (runtime.Object, error)
}

// KeyResource is the resource name of the etcd keys that hold the objects.
func (r *Resource) KeyResource() string {
	if r.Storage != nil {
		return r.Storage.Resource
	}
	return r.Name
}

// GroupVersionResource of the resource.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GVK.GroupVersion().WithResource(r.Name)
}

// AllVerbs is what a resource serves unless it says otherwise.
var AllVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Registry is the set of served resources.
type Registry struct {
	byGVR map[schema.GroupVersionResource]*Resource
	order []*Resource
}

// New builds a registry from resources.
func New(resources ...*Resource) *Registry {
	r := &Registry{byGVR: map[schema.GroupVersionResource]*Resource{}}
	for _, res := range resources {
		r.Add(res)
	}
	return r
}

// Add registers a resource.
func (r *Registry) Add(res *Resource) {
	if res.Verbs == nil {
		res.Verbs = AllVerbs
	}
	if res.Singular == "" {
		res.Singular = lower(res.GVK.Kind)
	}
	r.byGVR[res.GroupVersionResource()] = res
	r.order = append(r.order, res)
}

// Lookup finds a resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	res, ok := r.byGVR[gvr]
	return res, ok
}

// Resources lists every resource in registration order.
func (r *Registry) Resources() []*Resource { return r.order }

// GroupVersions lists the served group versions; the legacy core group first,
// then the named groups sorted by name.
func (r *Registry) GroupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, res := range r.order {
		gv := res.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Group == "" || out[j].Group == "" {
			return out[i].Group == ""
		}
		return groupPriority(out[i].Group) < groupPriority(out[j].Group)
	})
	return out
}

// groupPriority orders groups the way kube-apiserver lists them in /apis.
func groupPriority(group string) int {
	order := []string{"apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
		"authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
		"policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
		"apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
		"discovery.k8s.io", "flowcontrol.apiserver.k8s.io"}
	for i, g := range order {
		if g == group {
			return i
		}
	}
	return len(order)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
