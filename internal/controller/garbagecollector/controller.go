package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs.
const Name = "garbage-collector-controller"

// Options configure a Collector. Zero durations take the defaults.
type Options struct {
	Metadata  metadata.Interface
	Discovery Discovery
	Workers   int
	// DiscoveryPeriod is how often new and removed resources are picked up.
	DiscoveryPeriod time.Duration
	// SweepPeriod is how often every cached object is checked for missing
	// owners, catching anything the watches missed.
	SweepPeriod time.Duration
}

type action int

const (
	attemptToDelete  action = iota // delete the object if its owners are gone
	deleteDependents               // foreground: delete dependents, then drop the finalizer
	orphanDependents               // orphan: drop owner references, then the finalizer
)

func (a action) String() string {
	return [...]string{"attemptToDelete", "deleteDependents", "orphanDependents"}[a]
}

// item is a unit of work: an action on one object.
type item struct {
	action    action
	gvr       schema.GroupVersionResource
	namespace string
	name      string
	uid       types.UID
}

func (i item) String() string {
	return fmt.Sprintf("%s %s %s/%s", i.action, i.gvr.Resource, i.namespace, i.name)
}

// Collector deletes objects whose owners are gone and carries out
// foreground and orphan deletion.
type Collector struct {
	meta     metadata.Interface
	mon      *monitors
	workers  int
	discEach time.Duration
	sweep    time.Duration
	queue    workqueue.TypedRateLimitingInterface[item]
}

// New returns a Collector; it discovers resources when it runs.
func New(o Options) *Collector {
	if o.DiscoveryPeriod == 0 {
		o.DiscoveryPeriod = 30 * time.Second
	}
	if o.SweepPeriod == 0 {
		o.SweepPeriod = time.Minute
	}
	c := &Collector{
		meta:     o.Metadata,
		workers:  o.Workers,
		discEach: o.DiscoveryPeriod,
		sweep:    o.SweepPeriod,
		queue:    ctrlutil.NewTypedQueue[item](Name),
	}
	c.mon = &monitors{
		meta:   o.Metadata,
		disc:   o.Discovery,
		events: c.handlers,
		byGVR:  map[schema.GroupVersionResource]*monitor{},
	}
	return c
}

// Run watches every resource and collects garbage until ctx is cancelled.
func (c *Collector) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.mon.stop()

	if err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.mon.sync(ctx); err != nil {
			slog.Warn("garbage collector discovery failed, retrying", "err", err)
			return false, nil
		}
		return true, nil
	}); err != nil {
		return nil
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return c.mon.synced(), nil
	}); err != nil {
		return nil
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.mon.sync(ctx); err != nil {
			slog.Warn("garbage collector discovery failed", "err", err)
		}
	}, c.discEach)
	// The first sweep finds dependents orphaned while nobody watched.
	go wait.UntilWithContext(ctx, func(context.Context) { c.mon.each(c.inspect) }, c.sweep)
	ctrlutil.RunQueue(ctx, Name, c.queue, c.workers, c.process)
	return nil
}

func (c *Collector) add(a action, res resource, obj metav1.Object) {
	c.queue.Add(item{action: a, gvr: res.gvr, namespace: obj.GetNamespace(), name: obj.GetName(), uid: obj.GetUID()})
}

func (c *Collector) handlers(res resource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*metav1.PartialObjectMetadata); ok {
				c.inspect(cachedObject{res: res, obj: p})
			}
		},
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*metav1.PartialObjectMetadata)
			p, ok2 := cur.(*metav1.PartialObjectMetadata)
			if !ok1 || !ok2 {
				return
			}
			c.inspect(cachedObject{res: res, obj: p})
			// A dependent that dropped or unblocked its reference may be
			// the last thing an owner's foreground deletion waits for.
			c.wakeForegroundOwners(o)
		},
		DeleteFunc: func(obj any) {
			p, ok := ctrlutil.FromTombstone[*metav1.PartialObjectMetadata](obj)
			if !ok {
				return
			}
			for _, dep := range c.mon.dependents(p.UID) {
				c.add(attemptToDelete, dep.res, dep.obj)
			}
			c.wakeForegroundOwners(p)
		},
	}
}

// inspect queues the work a cached object may need.
func (c *Collector) inspect(o cachedObject) {
	obj := o.obj
	if obj.DeletionTimestamp != nil {
		if hasFinalizer(obj, FinalizerForeground) {
			c.add(deleteDependents, o.res, obj)
		}
		if hasFinalizer(obj, FinalizerOrphan) {
			c.add(orphanDependents, o.res, obj)
		}
	}
	for _, ref := range obj.OwnerReferences {
		owner, ok := c.mon.lookup(ref.UID)
		if !ok || deletingInForeground(owner.obj) {
			c.add(attemptToDelete, o.res, obj)
			return
		}
	}
}

func (c *Collector) wakeForegroundOwners(dep *metav1.PartialObjectMetadata) {
	for _, ref := range dep.OwnerReferences {
		if owner, ok := c.mon.lookup(ref.UID); ok && deletingInForeground(owner.obj) {
			c.add(deleteDependents, owner.res, owner.obj)
		}
	}
}

// errNotSynced asks for a retry once every monitor has listed.
var errNotSynced = errors.New("garbage collector caches are not synced yet")

func (c *Collector) process(ctx context.Context, it item) error {
	if !c.mon.synced() {
		return errNotSynced
	}
	switch it.action {
	case attemptToDelete:
		return c.attemptToDelete(ctx, it)
	case deleteDependents:
		return c.deleteDependents(ctx, it)
	case orphanDependents:
		return c.orphanDependents(ctx, it)
	}
	return nil
}

func (c *Collector) client(gvr schema.GroupVersionResource, namespace string) metadata.ResourceInterface {
	if namespace == "" {
		return c.meta.Resource(gvr)
	}
	return c.meta.Resource(gvr).Namespace(namespace)
}

// get fetches the live object of an item; nil when it is gone or replaced.
func (c *Collector) get(ctx context.Context, it item) (*metav1.PartialObjectMetadata, error) {
	obj, err := c.client(it.gvr, it.namespace).Get(ctx, it.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", it, err)
	}
	if obj.UID != it.uid {
		return nil, nil
	}
	return obj, nil
}

// ownerState looks an owner reference up on the server, not in the cache:
// a lagging cache must never get a live object's dependents deleted.
func (c *Collector) ownerState(ctx context.Context, dep *metav1.PartialObjectMetadata, ref metav1.OwnerReference) (OwnerState, error) {
	res, ok := c.mon.resourceFor(ref.APIVersion, ref.Kind)
	if !ok {
		// Unknown kind: cannot tell, so keep the dependent.
		slog.Debug("owner kind not served, keeping dependent", "kind", ref.Kind, "apiVersion", ref.APIVersion, "dependent", dep.Name)
		return Solid, nil
	}
	ns := ""
	if res.namespaced {
		if dep.Namespace == "" {
			// A cluster-scoped object cannot be owned by a namespaced one.
			return Dangling, nil
		}
		ns = dep.Namespace
	}
	owner, err := c.client(res.gvr, ns).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Dangling, nil
	case err != nil:
		return Solid, fmt.Errorf("get owner %s %s/%s: %w", ref.Kind, ns, ref.Name, err)
	case owner.UID != ref.UID:
		return Dangling, nil
	case deletingInForeground(owner):
		return Waiting, nil
	}
	return Solid, nil
}

func (c *Collector) attemptToDelete(ctx context.Context, it item) error {
	obj, err := c.get(ctx, it)
	if err != nil || obj == nil {
		return err
	}
	if obj.DeletionTimestamp != nil {
		if hasFinalizer(obj, FinalizerForeground) {
			c.queue.Add(item{action: deleteDependents, gvr: it.gvr, namespace: it.namespace, name: it.name, uid: it.uid})
		}
		return nil
	}
	if len(obj.OwnerReferences) == 0 {
		return nil
	}
	states := map[types.UID]OwnerState{}
	for _, ref := range obj.OwnerReferences {
		s, err := c.ownerState(ctx, obj, ref)
		if err != nil {
			return err
		}
		states[ref.UID] = s
	}
	v := Decide(obj, states, len(c.mon.dependents(obj.UID)) > 0)
	switch {
	case len(v.RemoveOwners) > 0:
		slog.Debug("garbage collector drops owner references", "object", it.String(), "owners", v.RemoveOwners)
		return c.removeOwnerRefs(ctx, it, v.RemoveOwners...)
	case v.Delete:
		slog.Info("garbage collector deletes dependent", "object", it.String(), "propagation", v.Policy)
		err := c.client(it.gvr, it.namespace).Delete(ctx, it.name, metav1.DeleteOptions{
			Preconditions:     &metav1.Preconditions{UID: &it.uid},
			PropagationPolicy: &v.Policy,
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete %s: %w", it, err)
		}
	}
	return nil
}

// deleteDependents drives a foreground deletion: every dependent is
// deleted, and the owner's foregroundDeletion finalizer goes once no
// dependent with blockOwnerDeletion is left.
func (c *Collector) deleteDependents(ctx context.Context, it item) error {
	obj, err := c.get(ctx, it)
	if err != nil || obj == nil || !deletingInForeground(obj) {
		return err
	}
	blocking := 0
	for _, dep := range c.mon.dependents(obj.UID) {
		if Blocking(dep.obj, obj.UID) {
			blocking++
		}
		if dep.obj.DeletionTimestamp == nil || hasFinalizer(dep.obj, FinalizerForeground) {
			c.add(attemptToDelete, dep.res, dep.obj)
		}
	}
	if blocking > 0 {
		return nil // woken again as dependents go
	}
	return c.removeFinalizer(ctx, it, FinalizerForeground)
}

// orphanDependents carries out an orphan deletion: the owner's references
// are removed from every dependent, then the orphan finalizer.
func (c *Collector) orphanDependents(ctx context.Context, it item) error {
	obj, err := c.get(ctx, it)
	if err != nil || obj == nil || obj.DeletionTimestamp == nil || !hasFinalizer(obj, FinalizerOrphan) {
		return err
	}
	var errs []error
	for _, dep := range c.mon.dependents(obj.UID) {
		d := item{gvr: dep.res.gvr, namespace: dep.obj.Namespace, name: dep.obj.Name, uid: dep.obj.UID}
		if err := c.removeOwnerRefs(ctx, d, obj.UID); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.removeFinalizer(ctx, it, FinalizerOrphan)
}

// metaPatch is a JSON merge patch of metadata guarded by resourceVersion
// (optimistic concurrency) and uid.
type metaPatch struct {
	Metadata struct {
		UID             types.UID                `json:"uid"`
		ResourceVersion string                   `json:"resourceVersion"`
		OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
		Finalizers      *[]string                `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

func (c *Collector) patch(ctx context.Context, it item, build func(*metav1.PartialObjectMetadata) (*metaPatch, bool)) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, err := c.get(ctx, it)
		if err != nil || obj == nil {
			return err
		}
		p, needed := build(obj)
		if !needed {
			return nil
		}
		p.Metadata.UID, p.Metadata.ResourceVersion = obj.UID, obj.ResourceVersion
		body, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = c.client(it.gvr, it.namespace).Patch(ctx, it.name, types.MergePatchType, body, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

func (c *Collector) removeOwnerRefs(ctx context.Context, it item, owners ...types.UID) error {
	err := c.patch(ctx, it, func(obj *metav1.PartialObjectMetadata) (*metaPatch, bool) {
		refs := obj.OwnerReferences
		for _, uid := range owners {
			refs = ctrlutil.WithoutOwner(refs, uid)
		}
		if len(refs) == len(obj.OwnerReferences) {
			return nil, false
		}
		if refs == nil {
			refs = []metav1.OwnerReference{}
		}
		p := &metaPatch{}
		p.Metadata.OwnerReferences = &refs
		return p, true
	})
	if err != nil {
		return fmt.Errorf("remove owner references from %s: %w", it, err)
	}
	return nil
}

func (c *Collector) removeFinalizer(ctx context.Context, it item, finalizer string) error {
	err := c.patch(ctx, it, func(obj *metav1.PartialObjectMetadata) (*metaPatch, bool) {
		if !hasFinalizer(obj, finalizer) {
			return nil, false
		}
		fs := withoutFinalizer(obj.Finalizers, finalizer)
		if fs == nil {
			fs = []string{}
		}
		p := &metaPatch{}
		p.Metadata.Finalizers = &fs
		return p, true
	})
	if err != nil {
		return fmt.Errorf("remove finalizer %s from %s: %w", finalizer, it, err)
	}
	slog.Info("garbage collector finished", "object", it.String(), "finalizer", finalizer)
	return nil
}
