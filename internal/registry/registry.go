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
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
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
	// ValidateUpdateOnly says updates are checked by ValidateUpdate alone,
	// which then checks the whole object (a custom resource's schema
	// validation ignores what the update did not change).
	ValidateUpdateOnly bool
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

	// Coerce, when set, is applied to every decoded request object of a
	// schema-driven kind (custom resources, whose objects are
	// unstructured): it drops the fields the schema does not declare,
	// returning their paths ("spec.foo") for fieldValidation to report, and
	// applies the schema's defaults. An error rejects the body.
	Coerce func(obj runtime.Object) (unknown []string, err error)
	// ListKind is the kind of the resource's lists; "" is GVK.Kind+"List".
	ListKind string
	// Warning, when set, goes with every response of the resource (the
	// deprecation warning of a deprecated version).
	Warning string

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

// Registry is the set of served resources. Built-in resources are added
// once; custom resources come and go while the server runs (Replace).
// Readers never wait: every change publishes a new immutable snapshot, so
// Lookup is one atomic load and one map read.
type Registry struct {
	mu   sync.Mutex // serializes writers
	snap atomic.Pointer[snapshot]
}

// snapshot is the registry at one moment; it is never modified.
type snapshot struct {
	byGVR map[schema.GroupVersionResource]*Resource
	order []*Resource
	gvs   []schema.GroupVersion
}

// New builds a registry from resources.
func New(resources ...*Resource) *Registry {
	r := &Registry{}
	r.snap.Store(&snapshot{byGVR: map[schema.GroupVersionResource]*Resource{}})
	r.Add(resources...)
	return r
}

// Add registers resources.
func (r *Registry) Add(resources ...*Resource) { r.Replace(nil, resources...) }

// Remove unregisters resources.
func (r *Registry) Remove(gvrs ...schema.GroupVersionResource) { r.Replace(gvrs) }

// Replace unregisters the resources of remove and registers add, in one
// step: a reader sees either the old set or the new one.
func (r *Registry) Replace(remove []schema.GroupVersionResource, add ...*Resource) {
	for _, res := range add {
		if res.Verbs == nil {
			res.Verbs = AllVerbs
		}
		if res.Singular == "" {
			res.Singular = lower(res.GVK.Kind)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	drop := map[schema.GroupVersionResource]bool{}
	for _, gvr := range remove {
		drop[gvr] = true
	}
	for _, res := range add {
		drop[res.GroupVersionResource()] = true // a resource added again replaces the old one
	}
	next := &snapshot{byGVR: make(map[schema.GroupVersionResource]*Resource, len(old.byGVR)+len(add))}
	for _, res := range old.order {
		if !drop[res.GroupVersionResource()] {
			next.order = append(next.order, res)
		}
	}
	next.order = append(next.order, add...)
	for _, res := range next.order {
		next.byGVR[res.GroupVersionResource()] = res
	}
	next.gvs = groupVersions(next.order)
	r.snap.Store(next)
}

// Lookup finds a resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	res, ok := r.snap.Load().byGVR[gvr]
	return res, ok
}

// Resources lists every resource in registration order. The slice is
// shared: callers must not modify it.
func (r *Registry) Resources() []*Resource { return r.snap.Load().order }

// GroupVersions lists the served group versions; the legacy core group
// first, then the built-in named groups in upstream's order, then the other
// (custom) groups by name, each with its versions by Kubernetes version
// priority (v1 before v1beta1 before v1alpha1). The slice is shared.
func (r *Registry) GroupVersions() []schema.GroupVersion { return r.snap.Load().gvs }

func groupVersions(resources []*Resource) []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, res := range resources {
		gv := res.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group == "" || b.Group == "" {
			return a.Group == "" && b.Group != ""
		}
		pa, pb := groupPriority(a.Group), groupPriority(b.Group)
		if pa != pb {
			return pa < pb
		}
		if pa < len(builtinGroupOrder) {
			return false // built-in groups keep their versions' registration order
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return version.CompareKubeAwareVersionStrings(a.Version, b.Version) > 0
	})
	return out
}

// builtinGroupOrder is the order kube-apiserver lists its groups in /apis.
var builtinGroupOrder = []string{"apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
	"authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
	"policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
	"apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
	"discovery.k8s.io", "flowcontrol.apiserver.k8s.io"}

// groupPriority is the rank of a group in /apis: built-in groups by
// upstream's order, every other group after them.
func groupPriority(group string) int {
	for i, g := range builtinGroupOrder {
		if g == group {
			return i
		}
	}
	return len(builtinGroupOrder)
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
