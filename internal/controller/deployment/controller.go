package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "deployment-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	dLister  appslisters.DeploymentLister
	rsLister appslisters.ReplicaSetLister
	podIndex cache.Indexer
	synced   []cache.InformerSynced
	queue    ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	dInf := o.Informers.Apps().V1().Deployments()
	rsInf := o.Informers.Apps().V1().ReplicaSets()
	podInf := o.Informers.Core().V1().Pods()
	if err := ctrlutil.EnsureIndex(podInf.Informer(), ctrlutil.ControllerUIDIndex, ctrlutil.IndexByControllerUID); err != nil {
		return nil, err
	}
	c := &Controller{
		client:   o.Client,
		recorder: o.Recorder,
		workers:  o.Workers,
		now:      o.Now,
		dLister:  dInf.Lister(),
		rsLister: rsInf.Lister(),
		podIndex: podInf.Informer().GetIndexer(),
		synced:   []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(Name),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dInf.Informer(), ctrlutil.EnqueueHandler(c.queue)},
		{rsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addRS,
			UpdateFunc: c.updateRS,
			DeleteFunc: c.deleteRS,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("deployment controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run processes Deployments until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) { ctrlutil.Enqueue(c.queue)(obj) }

// ownerOf returns the Deployment controlling rs, if it is in the cache.
func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := c.dLister.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// enqueueMatching queues the Deployments that could adopt an orphan.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	list, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range list {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.enqueue(d)
		}
	}
}

func (c *Controller) addRS(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		c.deleteRS(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.ownerOf(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueMatching(rs)
}

func (c *Controller) updateRS(old, cur any) {
	oldRS, curRS := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet)
	if oldRS.ResourceVersion == curRS.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(oldRS), metav1.GetControllerOfNoCopy(curRS)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if d := c.ownerOf(oldRS.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.ownerOf(curRS.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !labels.Equals(oldRS.Labels, curRS.Labels) {
		c.enqueueMatching(curRS)
	}
}

func (c *Controller) deleteRS(obj any) {
	rs, ok := ctrlutil.FromTombstone[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if d := c.ownerOf(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil {
		c.enqueue(d)
	}
}

// deletePod wakes a Recreate Deployment waiting for its old pods to go.
func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := c.ownerOf(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	d, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	rss, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		// Planning without every ReplicaSet could create a duplicate.
		return err
	}
	pods := map[types.UID][]*corev1.Pod{}
	for _, rs := range rss {
		objs, _ := c.podIndex.ByIndex(ctrlutil.ControllerUIDIndex, string(rs.UID))
		for _, o := range objs {
			pods[rs.UID] = append(pods[rs.UID], o.(*corev1.Pod))
		}
	}
	plan := Reconcile(Input{Deployment: d, ReplicaSets: rss, PodsByRS: pods, Now: c.now()})
	return c.apply(ctx, key, d, plan)
}

// claimReplicaSets returns the ReplicaSets d owns after adopting matching
// orphans and releasing owned ones that no longer match.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has an invalid selector: %w", d.Namespace, d.Name, err)
	}
	if sel.Empty() {
		return nil, nil // Reconcile reports SelectingAll
	}
	canAdopt := ctrlutil.CanAdopt(d, c.client.AppsV1().Deployments(d.Namespace).Get)
	update := func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
		return c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
	}
	owned, err := ctrlutil.ClaimObjects(d, sel, all).Write(ctx, *metav1.NewControllerRef(d, controllerKind), canAdopt, update)
	if err != nil {
		err = fmt.Errorf("claim replicasets of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return owned, err
}

func (c *Controller) record(d *appsv1.Deployment, events []Event) {
	for _, e := range events {
		c.recorder.Event(d, e.Type, e.Reason, e.Message)
	}
}

// apply carries a plan out in order and stops at the first failed write;
// the key is retried and the next sync plans again from what was written.
func (c *Controller) apply(ctx context.Context, key string, d *appsv1.Deployment, plan Plan) error {
	c.record(d, plan.Events)
	if w := plan.Create; w != nil {
		if err := c.createRS(ctx, d, w.ReplicaSet); err != nil {
			return err
		}
		c.record(d, w.Events)
	}
	for _, w := range plan.Updates {
		if _, err := c.client.AppsV1().ReplicaSets(w.ReplicaSet.Namespace).Update(ctx, w.ReplicaSet, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update replicaset %s/%s: %w", w.ReplicaSet.Namespace, w.ReplicaSet.Name, err)
		}
		c.record(d, w.Events)
	}
	for _, rs := range plan.Deletes {
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	cur := d
	if plan.Annotations != nil {
		cp := d.DeepCopy()
		cp.Annotations = plan.Annotations
		got, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update revision of deployment %s: %w", key, err)
		}
		cur = got
	}
	if plan.Status != nil {
		cp := cur.DeepCopy()
		cp.Status = *plan.Status
		if _, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of deployment %s: %w", key, err)
		}
	}
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return nil
}

// errRSNotCached asks for a retry: the new ReplicaSet exists but the
// informer has not delivered it yet.
var errRSNotCached = errors.New("new replicaset exists but is not in the cache yet")

func (c *Controller) createRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) error {
	_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("get existing replicaset %s/%s: %w", rs.Namespace, rs.Name, gerr)
		}
		if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &existing.Spec.Template) {
			return errRSNotCached
		}
		// A different ReplicaSet holds the name: a hash collision. Bump
		// collisionCount so the next sync computes another name.
		cp := d.DeepCopy()
		var n int32
		if cp.Status.CollisionCount != nil {
			n = *cp.Status.CollisionCount
		}
		n++
		cp.Status.CollisionCount = &n
		if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); uerr != nil {
			return fmt.Errorf("bump collisionCount of deployment %s/%s: %w", d.Namespace, d.Name, uerr)
		}
		return fmt.Errorf("replicaset name %s collides with another template; collisionCount is now %d", rs.Name, n)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return err
	default:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			cp := d.DeepCopy()
			setCondition(&cp.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonRSCreateError, msg, c.now()))
			if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); uerr != nil {
				slog.Debug("could not report replicaset create failure", "deployment", d.Name, "err", uerr)
			}
		}
		c.recorder.Event(d, corev1.EventTypeWarning, ReasonRSCreateError, msg)
		return fmt.Errorf("create replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
}
