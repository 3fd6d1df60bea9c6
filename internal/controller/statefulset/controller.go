package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
	"github.com/kedge-dev/kedge/internal/controller/internal/history"
)

// Name is the controller's name in logs and its event source component.
const Name = "statefulset-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller gives every StatefulSet its ordered, named pods and their
// claims, and rolls them between ControllerRevisions.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	revLister appslisters.ControllerRevisionLister
	pvcLister corelisters.PersistentVolumeClaimLister
	synced    []cache.InformerSynced
	queue     ctrlutil.Queue
	inflight  *inflight
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	setInf := o.Informers.Apps().V1().StatefulSets()
	podInf := o.Informers.Core().V1().Pods()
	revInf := o.Informers.Apps().V1().ControllerRevisions()
	pvcInf := o.Informers.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client:    o.Client,
		recorder:  o.Recorder,
		workers:   o.Workers,
		now:       o.Now,
		setLister: setInf.Lister(),
		podLister: podInf.Lister(),
		revLister: revInf.Lister(),
		pvcLister: pvcInf.Lister(),
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced,
			revInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(Name),
		inflight: newInflight(o.Now),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{setInf.Informer(), ctrlutil.EnqueueHandler(c.queue)},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueOwnerOf,
			UpdateFunc: func(_, cur any) { c.enqueueOwnerOf(cur) },
			DeleteFunc: c.enqueueOwnerOf,
		}},
		// A claim going away may unblock a pod waiting for a stale claim.
		{pvcInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deleteClaim}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("statefulset controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run processes StatefulSets until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) { ctrlutil.Enqueue(c.queue)(obj) }

// ownerOf returns the StatefulSet the object's controller reference names,
// if it is in the cache with that UID.
func (c *Controller) ownerOf(obj metav1.Object) *appsv1.StatefulSet {
	set, _ := ctrlutil.ResolveControllerRef(obj, controllerKind, c.setLister.StatefulSets(obj.GetNamespace()).Get)
	return set
}

func (c *Controller) enqueueOwnerOf(obj any) {
	if m, ok := ctrlutil.FromTombstone[metav1.Object](obj); ok {
		if set := c.ownerOf(m); set != nil {
			c.enqueue(set)
		}
	}
}

// enqueueAdopters queues the sets that could adopt an orphan pod.
func (c *Controller) enqueueAdopters(pod *corev1.Pod) {
	sets, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, set := range sets {
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) && isMember(set, pod) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	c.inflight.observed(pod)
	if metav1.GetControllerOfNoCopy(pod) == nil {
		c.enqueueAdopters(pod)
		return
	}
	c.enqueueOwnerOf(pod)
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	c.inflight.observed(curPod)
	oldRef, curRef := metav1.GetControllerOfNoCopy(oldPod), metav1.GetControllerOfNoCopy(curPod)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		c.enqueueOwnerOf(oldPod)
	}
	if curRef == nil {
		if !labels.Equals(oldPod.Labels, curPod.Labels) || oldRef != nil {
			c.enqueueAdopters(curPod)
		}
		return
	}
	set := c.ownerOf(curPod)
	if set == nil {
		return
	}
	c.enqueue(set)
	// Availability comes minReadySeconds after readiness, with no event.
	if set.Spec.MinReadySeconds > 0 && !ctrlutil.IsPodReady(oldPod) && ctrlutil.IsPodReady(curPod) {
		key, _ := ctrlutil.Key(set)
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	c.inflight.gone(pod)
	c.enqueueOwnerOf(pod)
}

func (c *Controller) deleteClaim(obj any) {
	pvc, ok := ctrlutil.FromTombstone[*corev1.PersistentVolumeClaim](obj)
	if !ok {
		return
	}
	sets, err := c.setLister.StatefulSets(pvc.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, set := range sets {
		for _, t := range set.Spec.VolumeClaimTemplates {
			if strings.HasPrefix(pvc.Name, t.Name+"-"+set.Name+"-") {
				c.enqueue(set)
			}
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		slog.Warn("statefulset has an invalid selector", "statefulset", key, "err", err)
		return nil
	}
	pods, err := c.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	revs, err := c.claimRevisions(ctx, set, sel)
	if err != nil {
		return err
	}
	pvcs, err := c.pvcLister.PersistentVolumeClaims(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	claims := make(map[string]*corev1.PersistentVolumeClaim, len(pvcs))
	for _, pvc := range pvcs {
		claims[pvc.Name] = pvc
	}
	plan, err := Reconcile(Input{Set: set, Pods: pods, Revisions: revs, Claims: claims, Now: c.now()})
	if err != nil {
		return fmt.Errorf("statefulset %s: %w", key, err)
	}
	return c.apply(ctx, key, set, plan)
}

// canAdopt checks with the server, not the cache, that the set still
// exists and is not being deleted before it takes objects.
func (c *Controller) canAdopt(set *appsv1.StatefulSet) func(context.Context) bool {
	return ctrlutil.CanAdopt(set, c.client.AppsV1().StatefulSets(set.Namespace).Get)
}

// claimPods returns the set's pods after adopting matching orphans named
// <set>-<ordinal> and releasing owned pods that stopped matching.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var members []*corev1.Pod
	for _, p := range all {
		if isMember(set, p) {
			members = append(members, p)
		}
	}
	return ctrlutil.ClaimPods(ctx, c.client, set, controllerKind, sel, members, c.canAdopt(set))
}

// claimRevisions returns the set's ControllerRevisions, adopting orphans.
func (c *Controller) claimRevisions(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return ctrlutil.ClaimRevisions(ctx, c.client, set, controllerKind, sel, all, c.canAdopt(set))
}

// apply carries a plan out: the update revision first (nothing else can
// be named without it), then the phases until one fails, then status and
// history truncation whatever happened.
func (c *Controller) apply(ctx context.Context, key string, set *appsv1.StatefulSet, plan Plan) error {
	if err := c.writeRevision(ctx, set, plan); err != nil {
		return err
	}
	var errs []error
	for _, phase := range plan.Phases {
		if err := c.runPhase(ctx, set, plan.Monotonic, phase); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if plan.Status != nil {
		if err := c.updateStatus(ctx, set, *plan.Status); err != nil {
			errs = append(errs, fmt.Errorf("update status of statefulset %s: %w", key, err))
		}
	}
	for _, r := range plan.DeleteRevisions {
		err := c.client.AppsV1().ControllerRevisions(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete controllerrevision %s/%s: %w", r.Namespace, r.Name, err))
			break
		}
	}
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return errors.Join(errs...)
}

// writeRevision creates or renumbers the update revision. A name taken by
// different data is a hash collision: status.collisionCount goes up and
// the next sync names the revision anew.
func (c *Controller) writeRevision(ctx context.Context, set *appsv1.StatefulSet, plan Plan) error {
	revs := c.client.AppsV1().ControllerRevisions(set.Namespace)
	if r := plan.BumpRevision; r != nil {
		n := r.Revision
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			_, err := revs.Update(ctx, r, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				fresh, gerr := revs.Get(ctx, r.Name, metav1.GetOptions{})
				if gerr != nil {
					return gerr
				}
				r = fresh
				r.Revision = n
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("renumber controllerrevision %s/%s: %w", set.Namespace, r.Name, err)
		}
	}
	r := plan.CreateRevision
	if r == nil {
		return nil
	}
	_, err := revs.Create(ctx, r, metav1.CreateOptions{})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		if err != nil {
			err = fmt.Errorf("create controllerrevision %s/%s: %w", set.Namespace, r.Name, err)
		}
		return err
	}
	existing, gerr := revs.Get(ctx, r.Name, metav1.GetOptions{})
	if gerr != nil {
		return fmt.Errorf("get controllerrevision %s/%s: %w", set.Namespace, r.Name, gerr)
	}
	if history.EqualData(existing.Data.Raw, r.Data.Raw) {
		return nil // ours, not cached yet
	}
	fresh, gerr := c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	if gerr != nil {
		return gerr
	}
	var n int32
	if fresh.Status.CollisionCount != nil {
		n = *fresh.Status.CollisionCount
	}
	n++
	fresh.Status.CollisionCount = &n
	if _, uerr := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); uerr != nil {
		return fmt.Errorf("bump collisionCount of statefulset %s/%s: %w", set.Namespace, set.Name, uerr)
	}
	return fmt.Errorf("controllerrevision name %s collides with another revision; collisionCount is now %d", r.Name, n)
}

// runPhase runs a phase's actions in order (OrderedReady) or in growing
// concurrent batches (Parallel), stopping at the first failure.
func (c *Controller) runPhase(ctx context.Context, set *appsv1.StatefulSet, monotonic bool, actions []Action) error {
	if monotonic {
		for _, a := range actions {
			if err := c.do(ctx, set, a); err != nil {
				return err
			}
		}
		return nil
	}
	_, errs := ctrlutil.SlowStart(len(actions), func(i int) error { return c.do(ctx, set, actions[i]) })
	return errors.Join(errs...)
}

// event records what happened to a pod the way upstream words it.
func (c *Controller) event(set *appsv1.StatefulSet, verb, pod string, err error) {
	if err == nil {
		c.recorder.Eventf(set, corev1.EventTypeNormal, "Successful"+verb, "%s Pod %s in StatefulSet %s successful", verb, pod, set.Name)
		return
	}
	c.recorder.Eventf(set, corev1.EventTypeWarning, "Failed"+verb, "%s Pod %s in StatefulSet %s failed error: %s", verb, pod, set.Name, err)
}

func (c *Controller) do(ctx context.Context, set *appsv1.StatefulSet, a Action) error {
	pods := c.client.CoreV1().Pods(set.Namespace)
	switch a.Kind {
	case CreatePod:
		if c.inflight.creating(a.Pod) {
			return nil // created by an earlier sync; the informer has yet to show it
		}
		err := errors.Join(c.createClaims(ctx, set, a.Pod, a.Claims), a.Err)
		if err != nil {
			c.event(set, "Create", a.Pod.Name, err)
			return err
		}
		_, err = pods.Create(ctx, a.Pod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return err
		}
		c.event(set, "Create", a.Pod.Name, err)
		if err == nil {
			c.inflight.created(a.Pod)
		}
		return err
	case DeletePod:
		if c.inflight.deleting(a.Pod) {
			return nil
		}
		err := pods.Delete(ctx, a.Pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &a.Pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // gone or replaced already
		}
		c.event(set, "Delete", a.Pod.Name, err)
		if err == nil {
			c.inflight.deleted(a.Pod)
		}
		return err
	case UpdatePod:
		if err := c.createClaims(ctx, set, a.Pod, a.Claims); err != nil {
			c.event(set, "Update", a.Pod.Name, err)
			return err
		}
		pod := a.Pod
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			_, err := pods.Update(ctx, pod, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
				if gerr != nil {
					return gerr
				}
				setIdentity(set, fresh)
				setStorage(set, fresh)
				pod = fresh
			}
			return err
		})
		c.event(set, "Update", a.Pod.Name, err)
		return err
	case CreateClaims:
		return c.createClaims(ctx, set, a.Pod, a.Claims)
	case UpdateClaim:
		claim := a.Claims[0]
		_, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			err = fmt.Errorf("could not update claim %s for delete policy ownerRefs: %w", claim.Name, err)
			c.event(set, "Update", a.Pod.Name, err)
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}

// createClaims creates a pod's missing claims, with an event for each.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, claims []*corev1.PersistentVolumeClaim) error {
	var errs []error
	for _, claim := range claims {
		_, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Create(ctx, claim, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("failed to create PVC %s: %s", claim.Name, err))
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "Create Claim %s for Pod %s in StatefulSet %s failed error: %s",
				claim.Name, pod.Name, set.Name, err)
		default:
			c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "Create Claim %s Pod %s in StatefulSet %s success",
				claim.Name, pod.Name, set.Name)
		}
	}
	return errors.Join(errs...)
}

// updateStatus writes the status, retrying conflicts on a fresh copy.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	sets := c.client.AppsV1().StatefulSets(set.Namespace)
	cur := set.DeepCopy()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur.Status = status
		_, err := sets.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh, gerr := sets.Get(ctx, set.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != set.UID {
			return apierrors.NewNotFound(appsv1.Resource("statefulsets"), set.Name)
		}
		cur = fresh
		return err
	})
}

// inflightTTL bounds how long a write waits to show up in the informer
// before the controller stops trusting its own memory of it.
const inflightTTL = 30 * time.Second

// inflight remembers pods this controller created or deleted that the
// informer has not shown yet, so a sync on a lagging cache does not create
// or delete them twice.
type inflight struct {
	mu       sync.Mutex
	now      func() time.Time
	creates  map[string]time.Time // namespace/name
	deletes  map[string]time.Time // uid
	maxItems int
}

func newInflight(now func() time.Time) *inflight {
	return &inflight{now: now, creates: map[string]time.Time{}, deletes: map[string]time.Time{}, maxItems: 10000}
}

func (f *inflight) fresh(m map[string]time.Time, k string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := m[k]
	if ok && f.now().Sub(t) > inflightTTL {
		delete(m, k)
		return false
	}
	return ok
}

func (f *inflight) put(m map[string]time.Time, k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(m) >= f.maxItems {
		for key, t := range m {
			if f.now().Sub(t) > inflightTTL {
				delete(m, key)
			}
		}
	}
	m[k] = f.now()
}

func (f *inflight) creating(p *corev1.Pod) bool { return f.fresh(f.creates, p.Namespace+"/"+p.Name) }
func (f *inflight) created(p *corev1.Pod)       { f.put(f.creates, p.Namespace+"/"+p.Name) }
func (f *inflight) deleting(p *corev1.Pod) bool { return f.fresh(f.deletes, string(p.UID)) }
func (f *inflight) deleted(p *corev1.Pod)       { f.put(f.deletes, string(p.UID)) }

// observed forgets writes the informer has now shown.
func (f *inflight) observed(p *corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.creates, p.Namespace+"/"+p.Name)
	if p.DeletionTimestamp != nil {
		delete(f.deletes, string(p.UID))
	}
}

func (f *inflight) gone(p *corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.creates, p.Namespace+"/"+p.Name)
	delete(f.deletes, string(p.UID))
}
