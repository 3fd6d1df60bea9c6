package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "job-controller"

// ManagedBy is the spec.managedBy value (or its absence) that makes a Job
// this controller's; Jobs managed by anything else are left alone.
const ManagedBy = "kubernetes.io/job-controller"

// finalizerWrites bounds concurrent finalizer removals of one sync.
const finalizerWrites = 50

// removeFinalizerPatch is a strategic merge patch that drops the tracking
// finalizer and keeps any other.
var removeFinalizerPatch = []byte(fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer))

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller runs Jobs' pods to completion.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	podIndex  cache.Indexer
	synced    []cache.InformerSynced

	queue        ctrlutil.Queue // Job keys
	orphans      ctrlutil.Queue // keys of pods whose tracking finalizer may have no Job left to remove it
	expectations *ctrlutil.Expectations
	removals     *removals
	written      *versions
	backoffs     *backoffs
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	jobInf := o.Informers.Batch().V1().Jobs()
	podInf := o.Informers.Core().V1().Pods()
	if err := ctrlutil.EnsureIndex(podInf.Informer(), ctrlutil.ControllerUIDIndex, ctrlutil.IndexByControllerUID); err != nil {
		return nil, err
	}
	c := &Controller{
		client:       o.Client,
		recorder:     o.Recorder,
		workers:      o.Workers,
		now:          o.Now,
		jobLister:    jobInf.Lister(),
		podLister:    podInf.Lister(),
		podIndex:     podInf.Informer().GetIndexer(),
		synced:       []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:        ctrlutil.NewQueue(Name),
		orphans:      ctrlutil.NewQueue(Name + "-orphan-pods"),
		expectations: ctrlutil.NewExpectations(o.Now),
		removals:     newRemovals(o.Now),
		written:      newVersions(),
		backoffs:     newBackoffs(),
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("job informer: %w", err)
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

// Run processes Jobs, and pods left with a tracking finalizer, until ctx
// is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.orphans.ShutDown()
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return nil
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctrlutil.RunQueue(ctx, Name+"-orphan-pods", c.orphans, 1, c.syncOrphan)
	}()
	ctrlutil.RunQueue(ctx, Name, c.queue, c.workers, c.sync)
	wg.Wait()
	return nil
}

func (c *Controller) enqueue(obj any) { ctrlutil.Enqueue(c.queue)(obj) }

func (c *Controller) deleteJob(obj any) {
	job, ok := ctrlutil.FromTombstone[*batchv1.Job](obj)
	if !ok {
		return
	}
	key, _ := ctrlutil.Key(job)
	c.expectations.Forget(key)
	c.removals.forget(key)
	c.written.forget(key)
	c.backoffs.forget(key)
	// Its pods may still carry the tracking finalizer: nothing but us
	// would ever remove it.
	objs, _ := c.podIndex.ByIndex(ctrlutil.ControllerUIDIndex, string(job.UID))
	for _, o := range objs {
		if p := o.(*corev1.Pod); hasTrackingFinalizer(p) {
			c.orphans.Add(p.Namespace + "/" + p.Name)
		}
	}
}

// jobKeyOf returns the key of the Job a pod's controller reference names.
func jobKeyOf(pod *corev1.Pod) (string, *metav1.OwnerReference) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		return "", nil
	}
	return pod.Namespace + "/" + ref.Name, ref
}

// ownerOf returns the Job controlling pod, if it is in the cache.
func (c *Controller) ownerOf(pod *corev1.Pod) *batchv1.Job {
	job, _ := ctrlutil.ResolveControllerRef(pod, controllerKind, c.jobLister.Jobs(pod.Namespace).Get)
	return job
}

// enqueueOwner queues the pod's Job, or the pod itself for finalizer
// clean-up when no unfinished Job will look after it.
func (c *Controller) enqueueOwner(pod *corev1.Pod) {
	job := c.ownerOf(pod)
	if job != nil {
		c.enqueue(job)
	}
	if hasTrackingFinalizer(pod) && (job == nil || IsFinished(job)) {
		c.orphans.Add(pod.Namespace + "/" + pod.Name)
	}
}

// enqueueMatching queues every Job that could adopt an orphan pod.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, job := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.enqueue(job)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	key, ref := jobKeyOf(pod)
	if ref == nil {
		if metav1.GetControllerOfNoCopy(pod) == nil && pod.DeletionTimestamp == nil {
			c.enqueueMatching(pod)
		}
		if hasTrackingFinalizer(pod) {
			c.orphans.Add(pod.Namespace + "/" + pod.Name)
		}
		return
	}
	c.expectations.CreationObserved(key)
	if pod.DeletionTimestamp != nil {
		c.expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	}
	c.enqueueOwner(pod)
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	key, ref := jobKeyOf(curPod)
	if ref != nil {
		if hasTrackingFinalizer(oldPod) && !hasTrackingFinalizer(curPod) {
			c.removals.observed(key, curPod.UID)
		}
		if curPod.DeletionTimestamp != nil && oldPod.DeletionTimestamp == nil {
			c.expectations.DeletionObserved(key, curPod.Namespace+"/"+curPod.Name)
		}
	}
	if oldKey, oldRef := jobKeyOf(oldPod); oldRef != nil && (ref == nil || oldRef.UID != ref.UID) {
		c.removals.observed(oldKey, oldPod.UID)
		c.enqueueOwner(oldPod)
	}
	if ref != nil {
		c.enqueueOwner(curPod)
		return
	}
	if hasTrackingFinalizer(curPod) {
		c.orphans.Add(curPod.Namespace + "/" + curPod.Name)
	}
	if metav1.GetControllerOfNoCopy(curPod) == nil && !labels.Equals(oldPod.Labels, curPod.Labels) {
		c.enqueueMatching(curPod)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	key, ref := jobKeyOf(pod)
	if ref == nil {
		return
	}
	c.expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	c.removals.observed(key, pod.UID)
	if job := c.ownerOf(pod); job != nil {
		c.enqueue(job)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		c.removals.forget(key)
		c.written.forget(key)
		c.backoffs.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if m := job.Spec.ManagedBy; m != nil && *m != ManagedBy {
		return nil
	}
	if c.written.newer(key, job.ResourceVersion) {
		// The cache has not caught up with our own status write: counting
		// from the older status could start pods twice. The informer's
		// update brings the key back.
		return nil
	}
	pods, err := c.podsOf(ctx, job)
	if err != nil {
		// Counting without every pod could over-create.
		return err
	}
	canManage := c.expectations.Satisfied(key)
	removing := c.removals.pending(key)
	now := c.now()
	plan := Reconcile(Input{Job: job, Pods: pods, Now: now, CanManage: canManage, Removing: removing, Backoff: c.backoffs.get(key)})

	c.expectPodWrites(key, plan)
	failedDeletes, delErr := c.deletePods(ctx, key, job, plan.Delete, plan.Uncount)
	failedCreates, createErr := c.createPods(ctx, key, job, plan.Create)
	plan.Account(failedCreates, failedDeletes)
	podErr := errors.Join(delErr, createErr)

	// Events go out once the status that explains them is written: a sync
	// from a stale cache fails its write instead of repeating them.
	cur := job
	if !StatusEqual(job.Status, plan.Status) {
		if cur, err = c.writeStatus(ctx, job, plan.Status); err != nil {
			return errors.Join(podErr, err)
		}
	}
	c.backoffs.set(key, plan.Backoff)
	for _, e := range plan.Events {
		c.recorder.Event(job, e.Type, e.Reason, e.Message)
	}
	removed, finErr := c.removeFinalizers(ctx, key, plan.RemoveFinalizers)
	withFinalizer := map[types.UID]bool{}
	for _, p := range pods {
		if hasTrackingFinalizer(p) && !removed[p.UID] && !removing[p.UID] {
			withFinalizer[p.UID] = true
		}
	}
	settled := canManage && failedDeletes == 0 && failedCreates == 0
	final, events := Flush(plan.Status, func(uid types.UID) bool { return withFinalizer[uid] }, settled, now)
	if !StatusEqual(plan.Status, final) {
		if _, err := c.writeStatus(ctx, cur, final); err != nil {
			return errors.Join(podErr, finErr, err)
		}
		for _, e := range events {
			c.recorder.Event(job, e.Type, e.Reason, e.Message)
		}
	}
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return errors.Join(podErr, finErr)
}

// podsOf returns the pods the Job controls after adopting matching
// orphans (which get the tracking finalizer unless already finished) and
// releasing owned pods that stopped matching. A finished or deleted Job
// only gets the pods it already owns.
func (c *Controller) podsOf(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	objs, err := c.podIndex.ByIndex(ctrlutil.ControllerUIDIndex, string(job.UID))
	if err != nil {
		return nil, err
	}
	owned := make([]*corev1.Pod, 0, len(objs))
	seen := map[types.UID]bool{}
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Namespace == job.Namespace {
			owned = append(owned, p)
			seen[p.UID] = true
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || sel.Empty() || IsFinished(job) || job.DeletionTimestamp != nil {
		return owned, nil
	}
	matching, err := c.podLister.Pods(job.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	candidates := owned
	for _, p := range matching {
		if !seen[p.UID] {
			candidates = append(candidates, p)
		}
	}
	canAdopt := ctrlutil.CanAdopt(job, c.client.BatchV1().Jobs(job.Namespace).Get)
	update := func(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
		if metav1.IsControlledBy(p, job) && !ctrlutil.IsPodTerminal(p) && !hasTrackingFinalizer(p) {
			p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
		}
		return c.client.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{})
	}
	got, err := ctrlutil.ClaimObjects(job, sel, candidates).Write(ctx, *metav1.NewControllerRef(job, controllerKind), canAdopt, update)
	if err != nil {
		return nil, fmt.Errorf("claim pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	return got, nil
}

// expectPodWrites records the creations and deletions of a plan before
// they are issued.
func (c *Controller) expectPodWrites(key string, plan Plan) {
	if len(plan.Create) == 0 && len(plan.Delete) == 0 {
		return
	}
	keys := make([]string, len(plan.Delete))
	for i, p := range plan.Delete {
		keys[i] = p.Namespace + "/" + p.Name
	}
	c.expectations.Expect(key, len(plan.Create), keys)
}

// deletePods deletes pods concurrently; with uncount their tracking
// finalizer goes first so they are not counted as failed. It returns how
// many deletions failed.
func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod, uncount bool) (int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		failed atomic.Int32
	)
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.deletePod1(ctx, key, p, uncount)
			if err == nil {
				c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
				return
			}
			c.expectations.DeletionObserved(key, p.Namespace+"/"+p.Name)
			if apierrors.IsNotFound(err) {
				return
			}
			failed.Add(1)
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			mu.Lock()
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return int(failed.Load()), errors.Join(errs...)
}

func (c *Controller) deletePod1(ctx context.Context, key string, p *corev1.Pod, uncount bool) error {
	pods := c.client.CoreV1().Pods(p.Namespace)
	if uncount && hasTrackingFinalizer(p) {
		c.removals.expect(key, p.UID)
		if _, err := pods.Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{}); err != nil {
			c.removals.observed(key, p.UID)
			return err
		}
	}
	return pods.Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
}

// createPods creates pods in slow-start batches (ctrlutil.SlowStart). It
// returns how many pods were not created and the first error.
func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (int, error) {
	skipped, errs := ctrlutil.SlowStart(len(pods), func(i int) error {
		got, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pods[i], metav1.CreateOptions{})
		if err == nil {
			c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
			return nil
		}
		c.expectations.CreationObserved(key)
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("create pod for job %s: %w", key, err)
	})
	// Creations never attempted will never be observed either.
	for range skipped {
		c.expectations.CreationObserved(key)
	}
	if len(errs) > 0 {
		return len(errs) + skipped, errs[0]
	}
	return skipped, nil
}

// removeFinalizers drops the tracking finalizer of pods concurrently and
// returns the UIDs of the pods that no longer carry it.
func (c *Controller) removeFinalizers(ctx context.Context, key string, pods []*corev1.Pod) (map[types.UID]bool, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, finalizerWrites)
	)
	removed := map[types.UID]bool{}
	for _, p := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.removals.expect(key, p.UID)
			_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				removed[p.UID] = true
			case apierrors.IsNotFound(err):
				c.removals.observed(key, p.UID)
				removed[p.UID] = true
			default:
				c.removals.observed(key, p.UID)
				errs = append(errs, fmt.Errorf("remove tracking finalizer of pod %s/%s: %w", p.Namespace, p.Name, err))
			}
		}()
	}
	wg.Wait()
	return removed, errors.Join(errs...)
}

// writeStatus writes a Job's status over the version the sync read: a
// conflict means the sync worked from a stale view and must start over.
func (c *Controller) writeStatus(ctx context.Context, job *batchv1.Job, st batchv1.JobStatus) (*batchv1.Job, error) {
	cp := job.DeepCopy()
	cp.Status = st
	got, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.written.record(job.Namespace+"/"+job.Name, got.ResourceVersion)
	return got, nil
}

// syncOrphan removes the tracking finalizer of a pod no unfinished Job
// will count: its Job is gone, finished or not its controller any more.
func (c *Controller) syncOrphan(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	if _, ref := jobKeyOf(pod); ref != nil {
		job, err := c.jobLister.Jobs(ns).Get(ref.Name)
		if apierrors.IsNotFound(err) {
			// The cache may lag behind a new Job: ask the server.
			job, err = c.client.BatchV1().Jobs(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		}
		switch {
		case err == nil && job.UID == ref.UID && !IsFinished(job):
			return nil // the Job's own sync counts the pod
		case err != nil && !apierrors.IsNotFound(err):
			return err
		}
	}
	_, err = c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove tracking finalizer of orphan pod %s: %w", key, err)
	}
	slog.Debug("removed tracking finalizer of orphan pod", "pod", key)
	return nil
}
