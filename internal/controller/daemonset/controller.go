package daemonset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/retry"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "daemonset-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller keeps one pod of every DaemonSet on each node that should run
// it, and rolls those pods between ControllerRevisions.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	dsLister   appslisters.DaemonSetLister
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	revLister  appslisters.ControllerRevisionLister
	synced     []cache.InformerSynced
	queue      ctrlutil.Queue

	expectations  *ctrlutil.Expectations
	failedBackoff *flowcontrol.Backoff // per DaemonSet generation and node
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	dsInf := o.Informers.Apps().V1().DaemonSets()
	podInf := o.Informers.Core().V1().Pods()
	nodeInf := o.Informers.Core().V1().Nodes()
	revInf := o.Informers.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:     o.Client,
		recorder:   o.Recorder,
		workers:    o.Workers,
		now:        o.Now,
		dsLister:   dsInf.Lister(),
		podLister:  podInf.Lister(),
		nodeLister: nodeInf.Lister(),
		revLister:  revInf.Lister(),
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		queue:         ctrlutil.NewQueue(Name),
		expectations:  ctrlutil.NewExpectations(o.Now),
		failedBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: func(obj any) {
				if key, ok := ctrlutil.Key(obj); ok {
					c.expectations.Forget(key)
				}
			},
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueueForNode(nil, obj.(*corev1.Node)) },
			UpdateFunc: func(old, cur any) { c.enqueueForNode(old.(*corev1.Node), cur.(*corev1.Node)) },
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueOwnerOf,
			UpdateFunc: func(_, cur any) { c.enqueueOwnerOf(cur) },
			DeleteFunc: c.enqueueOwnerOf,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("daemonset controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run processes DaemonSets until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.failedBackoff.GC()
			}
		}
	}()
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) { ctrlutil.Enqueue(c.queue)(obj) }

func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.enqueue(ds)
	}
}

// enqueueForNode queues the DaemonSets whose wish to run on the node
// changed with its labels or taints (any that want it, for a new node).
func (c *Controller) enqueueForNode(old, cur *corev1.Node) {
	if old != nil && labels.Equals(old.Labels, cur.Labels) && equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
		return
	}
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		run, keep := ShouldRun(ds, cur)
		if old == nil {
			if run {
				c.enqueue(ds)
			}
			continue
		}
		if oldRun, oldKeep := ShouldRun(ds, old); oldRun != run || oldKeep != keep {
			c.enqueue(ds)
		}
	}
}

// ownerOf returns the DaemonSet the object's controller reference names,
// if it is in the cache with that UID.
func (c *Controller) ownerOf(obj metav1.Object) *appsv1.DaemonSet {
	ds, _ := ctrlutil.ResolveControllerRef(obj, controllerKind, c.dsLister.DaemonSets(obj.GetNamespace()).Get)
	return ds
}

func (c *Controller) enqueueOwnerOf(obj any) {
	m, ok := ctrlutil.FromTombstone[metav1.Object](obj)
	if !ok {
		return
	}
	if ds := c.ownerOf(m); ds != nil {
		c.enqueue(ds)
		return
	}
	if metav1.GetControllerOfNoCopy(m) == nil {
		c.enqueueAdopters(m)
	}
}

// enqueueAdopters queues the DaemonSets whose selector matches an orphan.
func (c *Controller) enqueueAdopters(obj metav1.Object) {
	all, err := c.dsLister.DaemonSets(obj.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(obj.GetLabels())) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if metav1.GetControllerOfNoCopy(pod) == nil {
		c.enqueueAdopters(pod)
		return
	}
	if ds := c.ownerOf(pod); ds != nil {
		key, _ := ctrlutil.Key(ds)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		c.deletePod(curPod)
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(oldPod), metav1.GetControllerOfNoCopy(curPod)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if ds := c.ownerOf(oldPod); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef == nil {
		if !labels.Equals(oldPod.Labels, curPod.Labels) || oldRef != nil {
			c.enqueueAdopters(curPod)
		}
		return
	}
	ds := c.ownerOf(curPod)
	if ds == nil {
		return
	}
	c.enqueue(ds)
	if ds.Spec.MinReadySeconds > 0 && !ctrlutil.IsPodReady(oldPod) && ctrlutil.IsPodReady(curPod) {
		key, _ := ctrlutil.Key(ds)
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	ds := c.ownerOf(pod)
	if ds == nil {
		return
	}
	key, _ := ctrlutil.Key(ds)
	podKey, _ := ctrlutil.Key(pod)
	c.expectations.DeletionObserved(key, podKey)
	c.queue.Add(key)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		slog.Warn("daemonset has an invalid selector", "daemonset", key, "err", err)
		return nil
	}
	if sel.Empty() {
		c.recorder.Event(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Status of a DaemonSet being deleted cannot be trusted: its revisions
	// and pods may be going in any order.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.claimPods(ctx, ds, sel)
	if err != nil {
		return err
	}
	revs, err := c.claimRevisions(ctx, ds, sel)
	if err != nil {
		return err
	}
	hp, err := PlanHistory(ds, revs, pods)
	if err != nil {
		return fmt.Errorf("daemonset %s: %w", key, err)
	}
	cur, err := c.writeHistory(ctx, ds, hp)
	if err != nil {
		return fmt.Errorf("revisions of daemonset %s: %w", key, err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	if !c.expectations.Satisfied(key) {
		return c.updateStatus(ctx, ds, nodes, pods, hash, false)
	}
	now := c.now()
	byNode := PodsByNode(pods, false)
	err = c.syncNodes(ctx, key, ds, Manage(ds, nodes, byNode, hash, now), hash)
	if err == nil && c.expectations.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = c.syncNodes(ctx, key, ds, RollingUpdate(ds, nodes, byNode, hash, now), hash)
	}
	if err == nil {
		for _, r := range HistoryToDelete(ds, hp.Old, pods) {
			if derr := c.client.AppsV1().ControllerRevisions(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
				err = fmt.Errorf("clean up revisions of daemonset %s: %w", key, derr)
				break
			}
		}
	}
	if serr := c.updateStatus(ctx, ds, nodes, pods, hash, true); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

func (c *Controller) canAdopt(ds *appsv1.DaemonSet) func(context.Context) bool {
	return ctrlutil.CanAdopt(ds, c.client.AppsV1().DaemonSets(ds.Namespace).Get)
}

// claimPods returns the DaemonSet's pods after adopting matching orphans
// and releasing owned pods that stopped matching.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return ctrlutil.ClaimPods(ctx, c.client, ds, controllerKind, sel, all, c.canAdopt(ds))
}

// claimRevisions returns the DaemonSet's ControllerRevisions, adopting
// matching orphans.
func (c *Controller) claimRevisions(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return ctrlutil.ClaimRevisions(ctx, c.client, ds, controllerKind, sel, all, c.canAdopt(ds))
}

// writeHistory carries a HistoryPlan out and returns the current revision.
// A name taken by another template is a hash collision: collisionCount
// goes up and the sync is retried with a new name.
func (c *Controller) writeHistory(ctx context.Context, ds *appsv1.DaemonSet, hp HistoryPlan) (*appsv1.ControllerRevision, error) {
	revs := c.client.AppsV1().ControllerRevisions(ds.Namespace)
	for _, r := range hp.Updates {
		if _, err := revs.Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("update controllerrevision %s: %w", r.Name, err)
		}
	}
	if len(hp.Deletes) > 0 {
		hash := hp.Current.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, appsv1.DefaultDaemonSetUniqueLabelKey, hash)
		for _, p := range hp.Relabel {
			if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("relabel pod %s: %w", p.Name, err)
			}
		}
		for _, r := range hp.Deletes {
			if err := revs.Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("delete duplicate controllerrevision %s: %w", r.Name, err)
			}
		}
	}
	if !hp.Create {
		return hp.Current, nil
	}
	created, err := revs.Create(ctx, hp.Current, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create controllerrevision %s: %w", hp.Current.Name, err)
	}
	existing, gerr := revs.Get(ctx, hp.Current.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	if ok, _ := Matches(ds, existing); ok {
		return existing, nil
	}
	fresh, gerr := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	if !equality.Semantic.DeepEqual(fresh.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("stale collisionCount of daemonset %s/%s; retrying", ds.Namespace, ds.Name)
	}
	var n int32
	if fresh.Status.CollisionCount != nil {
		n = *fresh.Status.CollisionCount
	}
	n++
	fresh.Status.CollisionCount = &n
	if _, uerr := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); uerr != nil {
		return nil, uerr
	}
	return nil, fmt.Errorf("controllerrevision name %s collides with another template; collisionCount is now %d", hp.Current.Name, n)
}

// syncNodes creates and deletes the plan's pods (at most BurstReplicas of
// each), with expectations set first so the informer's lag cannot double
// them. Finished pods are deleted with an event; failed ones at most once
// per back-off period per node.
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, plan Plan, hash string) error {
	toDelete := append([]*corev1.Pod(nil), plan.Delete...)
	now := c.now()
	for _, p := range plan.Failed {
		node := TargetNode(p)
		bk := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
		if c.failedBackoff.IsInBackOffSinceUpdate(bk, now) {
			c.queue.AddAfter(key, c.failedBackoff.Get(bk))
			continue
		}
		c.failedBackoff.Next(bk, now)
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node)
		toDelete = append(toDelete, p)
	}
	for _, p := range plan.Succeeded {
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SucceededDaemonPod", "Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, TargetNode(p))
		toDelete = append(toDelete, p)
	}
	creates := plan.Create[:min(len(plan.Create), BurstReplicas)]
	toDelete = toDelete[:min(len(toDelete), BurstReplicas)]
	if len(creates) == 0 && len(toDelete) == 0 {
		return nil
	}
	podKeys := make([]string, len(toDelete))
	for i, p := range toDelete {
		podKeys[i], _ = ctrlutil.Key(p)
	}
	c.expectations.Expect(key, len(creates), podKeys)

	var (
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	skipped, _ := ctrlutil.SlowStart(len(creates), func(i int) error {
		pod := NewPod(ds, creates[i], hash)
		got, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			c.expectations.CreationObserved(key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			fail(err)
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
		return nil
	})
	for range skipped {
		c.expectations.CreationObserved(key)
	}

	var wg sync.WaitGroup
	for i, p := range toDelete {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil {
				c.expectations.DeletionObserved(key, podKeys[i])
				if apierrors.IsNotFound(err) {
					return
				}
				c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				fail(err)
				return
			}
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// updateStatus writes the counts (and observedGeneration, when this sync
// acted on the current generation) if they changed.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, hash string, observed bool) error {
	now := c.now()
	counts := Status(ds, nodes, PodsByNode(pods, false), hash, now)
	apply := func(st *appsv1.DaemonSetStatus) {
		if observed {
			st.ObservedGeneration = ds.Generation
		}
		st.DesiredNumberScheduled = counts.DesiredNumberScheduled
		st.CurrentNumberScheduled = counts.CurrentNumberScheduled
		st.NumberMisscheduled = counts.NumberMisscheduled
		st.NumberReady = counts.NumberReady
		st.UpdatedNumberScheduled = counts.UpdatedNumberScheduled
		st.NumberAvailable = counts.NumberAvailable
		st.NumberUnavailable = counts.NumberUnavailable
	}
	want := ds.Status.DeepCopy()
	apply(want)
	if ds.Spec.MinReadySeconds > 0 && counts.NumberReady != counts.NumberAvailable {
		key, _ := ctrlutil.Key(ds)
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if equality.Semantic.DeepEqual(*want, ds.Status) && ds.Status.ObservedGeneration >= ds.Generation {
		return nil
	}
	dss := c.client.AppsV1().DaemonSets(ds.Namespace)
	cur := ds.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		apply(&cur.Status)
		_, err := dss.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh, gerr := dss.Get(ctx, ds.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != ds.UID {
			return apierrors.NewNotFound(appsv1.Resource("daemonsets"), ds.Name)
		}
		cur = fresh
		return err
	})
	if err != nil {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}
