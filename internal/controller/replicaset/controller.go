package replicaset

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
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "replicaset-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller keeps the number of pods of every ReplicaSet at its replicas.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	podIndex  cache.Indexer
	synced    []cache.InformerSynced

	queue        ctrlutil.Queue
	expectations *ctrlutil.Expectations
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	rsInf := o.Informers.Apps().V1().ReplicaSets()
	podInf := o.Informers.Core().V1().Pods()
	if err := ctrlutil.EnsureIndex(podInf.Informer(), ctrlutil.ControllerUIDIndex, ctrlutil.IndexByControllerUID); err != nil {
		return nil, err
	}
	c := &Controller{
		client:       o.Client,
		recorder:     o.Recorder,
		workers:      o.Workers,
		now:          o.Now,
		rsLister:     rsInf.Lister(),
		podLister:    podInf.Lister(),
		podIndex:     podInf.Informer().GetIndexer(),
		synced:       []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:        ctrlutil.NewQueue(Name),
		expectations: ctrlutil.NewExpectations(o.Now),
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: func(obj any) {
			if key, ok := ctrlutil.Key(obj); ok {
				c.expectations.Forget(key)
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("replicaset informer: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("pod informer: %w", err)
	}
	return c, nil
}

// Run processes ReplicaSets until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) { ctrlutil.Enqueue(c.queue)(obj) }

// ownerOf returns the ReplicaSet a pod's controller reference names, if it
// exists in the cache with that UID.
func (c *Controller) ownerOf(pod *corev1.Pod) *appsv1.ReplicaSet {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching queues every ReplicaSet that could adopt an orphan pod.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, rs := range list {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if rs := c.ownerOf(pod); rs != nil {
			key, _ := ctrlutil.Key(rs)
			c.expectations.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		// A graceful delete shows up as an update first; count it now so
		// the replacement is created without waiting for the grace period.
		c.deletePod(curPod)
		if !equality.Semantic.DeepEqual(oldPod.Labels, curPod.Labels) {
			c.deletePod(oldPod)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(oldPod), metav1.GetControllerOfNoCopy(curPod)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if rs := c.ownerOf(oldPod); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.ownerOf(curPod)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// Availability changes minReadySeconds after readiness, with no
		// event of its own: look again then.
		if rs.Spec.MinReadySeconds > 0 && !ctrlutil.IsPodReady(oldPod) && ctrlutil.IsPodReady(curPod) {
			key, _ := ctrlutil.Key(rs)
			c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if !equality.Semantic.DeepEqual(oldPod.Labels, curPod.Labels) || oldRef != nil {
		c.enqueueMatching(curPod)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	rsKey, _ := ctrlutil.Key(rs)
	podKey, _ := ctrlutil.Key(pod)
	c.expectations.DeletionObserved(rsKey, podKey)
	c.queue.Add(rsKey)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || selector.Empty() {
		slog.Warn("replicaset has an invalid selector", "replicaset", key, "err", err)
		return nil
	}
	canManage := c.expectations.Satisfied(key)

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		if ctrlutil.IsPodActive(p) {
			active = append(active, p)
		}
	}
	owned, err := c.claimPods(ctx, rs, selector, active)
	if err != nil {
		// Counting without every pod could over-create.
		return err
	}

	var manageErr error
	if canManage && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, key, rs, owned)
	}

	now := c.now()
	status := Status(rs, owned, Terminating(rs.UID, all), manageErr, now)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return errors.Join(manageErr, fmt.Errorf("update status of replicaset %s: %w", key, err))
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

// claimPods adopts matching orphans and releases owned pods that stopped
// matching; it returns the pods the ReplicaSet owns afterwards.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	canAdopt := ctrlutil.CanAdopt(rs, c.client.AppsV1().ReplicaSets(rs.Namespace).Get)
	return ctrlutil.ClaimPods(ctx, c.client, rs, controllerKind, sel, pods, canAdopt)
}

// manage creates or deletes pods so the ReplicaSet has its replicas.
func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, owned []*corev1.Pod) error {
	plan := PlanReplicas(rs, owned, c.relatedPods(rs, owned), c.now())
	switch {
	case plan.Create > 0:
		pod, err := NewPod(rs)
		if err != nil {
			return err
		}
		c.expectations.Expect(key, plan.Create, nil)
		skipped, errs := ctrlutil.SlowStart(plan.Create, func(int) error {
			got, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
			if err != nil {
				c.expectations.CreationObserved(key)
				if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				}
				return err
			}
			c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
			return nil
		})
		// Creations never attempted will never be observed either.
		for range skipped {
			c.expectations.CreationObserved(key)
		}
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	case len(plan.Delete) > 0:
		keys := make([]string, len(plan.Delete))
		for i, p := range plan.Delete {
			keys[i], _ = ctrlutil.Key(p)
		}
		c.expectations.Expect(key, 0, keys)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for i, p := range plan.Delete {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				if err != nil {
					c.expectations.DeletionObserved(key, keys[i])
					if apierrors.IsNotFound(err) {
						return
					}
					c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// relatedPods returns the active pods of every ReplicaSet controlled by the
// same owner as rs (or rs's own pods when it has no owner).
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet, owned []*corev1.Pod) []*corev1.Pod {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return owned
	}
	siblings, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
	if err != nil {
		return owned
	}
	var out []*corev1.Pod
	for _, s := range siblings {
		if r := metav1.GetControllerOfNoCopy(s); r == nil || r.UID != ref.UID {
			continue
		}
		objs, _ := c.podIndex.ByIndex(ctrlutil.ControllerUIDIndex, string(s.UID))
		for _, o := range objs {
			if p := o.(*corev1.Pod); ctrlutil.IsPodActive(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// updateStatus writes status unless it is already current, retrying on
// conflicts with a fresh copy from the server.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if statusEqual(rs.Status, status) {
		return rs, nil
	}
	cur := rs.DeepCopy()
	var out *appsv1.ReplicaSet
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur.Status = status
		got, err := c.client.AppsV1().ReplicaSets(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			out = got
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh, gerr := c.client.AppsV1().ReplicaSets(cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != rs.UID {
			return apierrors.NewNotFound(appsv1.Resource("replicasets"), rs.Name)
		}
		cur = fresh
		return err
	})
	return out, err
}

// statusEqual compares statuses, treating an unset terminatingReplicas as
// zero: a server without that field must not make every sync a write.
func statusEqual(a, b appsv1.ReplicaSetStatus) bool {
	zero := int32(0)
	if a.TerminatingReplicas == nil {
		a.TerminatingReplicas = &zero
	}
	if b.TerminatingReplicas == nil {
		b.TerminatingReplicas = &zero
	}
	return equality.Semantic.DeepEqual(a, b)
}
