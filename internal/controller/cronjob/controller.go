package cronjob

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "cronjob-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller creates the Jobs of CronJobs on their schedule.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	cjLister  batchlisters.CronJobLister
	jobLister batchlisters.JobLister
	jobIndex  cache.Indexer
	synced    []cache.InformerSynced
	queue     ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	cjInf := o.Informers.Batch().V1().CronJobs()
	jobInf := o.Informers.Batch().V1().Jobs()
	if err := ctrlutil.EnsureIndex(jobInf.Informer(), ctrlutil.ControllerUIDIndex, ctrlutil.IndexByControllerUID); err != nil {
		return nil, err
	}
	c := &Controller{
		client:    o.Client,
		recorder:  o.Recorder,
		workers:   o.Workers,
		now:       o.Now,
		cjLister:  cjInf.Lister(),
		jobLister: jobInf.Lister(),
		jobIndex:  jobInf.Informer().GetIndexer(),
		synced:    []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue:     ctrlutil.NewQueue(Name),
	}
	if _, err := cjInf.Informer().AddEventHandler(ctrlutil.EnqueueHandler(c.queue)); err != nil {
		return nil, fmt.Errorf("cronjob informer: %w", err)
	}
	onJob := func(obj any) {
		if j, ok := ctrlutil.FromTombstone[*batchv1.Job](obj); ok {
			c.enqueueOwner(j)
		}
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onJob,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*batchv1.Job), cur.(*batchv1.Job)
			if o.ResourceVersion == n.ResourceVersion {
				return
			}
			if ref := metav1.GetControllerOfNoCopy(o); ref != nil && !metav1.IsControlledBy(n, &metav1.ObjectMeta{UID: ref.UID}) {
				c.enqueueOwner(o)
			}
			c.enqueueOwner(n)
		},
		DeleteFunc: onJob,
	}); err != nil {
		return nil, fmt.Errorf("job informer: %w", err)
	}
	return c, nil
}

// Run processes CronJobs until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

// enqueueOwner queues the CronJob controlling a Job.
func (c *Controller) enqueueOwner(j *batchv1.Job) {
	ref := metav1.GetControllerOfNoCopy(j)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return
	}
	cj, err := c.cjLister.CronJobs(j.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	ctrlutil.Enqueue(c.queue)(cj)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cj, err := c.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	objs, err := c.jobIndex.ByIndex(ctrlutil.ControllerUIDIndex, string(cj.UID))
	if err != nil {
		return err
	}
	jobs := make([]*batchv1.Job, 0, len(objs))
	listed := map[types.UID]bool{}
	for _, o := range objs {
		if j := o.(*batchv1.Job); j.Namespace == cj.Namespace {
			jobs = append(jobs, j)
			listed[j.UID] = true
		}
	}
	// A running Job not in status.active is most likely the one this
	// controller just created, with the status write not in the cache
	// yet: read the CronJob from the server before calling it unexpected.
	for _, j := range jobs {
		if _, done := finished(j); !done && !inActive(&cj.Status, j.UID) {
			fresh, err := c.client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("get cronjob %s: %w", key, err)
			}
			if fresh.UID == cj.UID {
				cj = fresh
			}
			break
		}
	}
	// An active Job the cache does not show may just be new: ask the
	// server before calling it missing.
	missing := map[types.UID]bool{}
	for _, ref := range cj.Status.Active {
		if listed[ref.UID] {
			continue
		}
		j, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || (err == nil && j.UID != ref.UID):
			missing[ref.UID] = true
		case err != nil:
			return fmt.Errorf("get active job %s/%s: %w", ref.Namespace, ref.Name, err)
		default:
			jobs = append(jobs, j)
			listed[j.UID] = true
		}
	}

	plan := Reconcile(Input{CronJob: cj, Jobs: jobs, Missing: missing, Now: c.now()})
	st := plan.Status
	var errs []error
	for _, j := range plan.ReplaceActive {
		if err := c.deleteJob(ctx, cj, j); err != nil {
			errs = append(errs, err)
			continue
		}
		removeActive(&st, j.UID)
	}
	if plan.Create != nil && len(errs) == 0 {
		created, err := c.createJob(ctx, cj, plan.Create)
		switch {
		case err != nil:
			errs = append(errs, err)
			st.LastScheduleTime = cj.Status.LastScheduleTime
		case created != nil:
			if _, done := finished(created); !done && !inActive(&st, created.UID) {
				st.Active = append(st.Active, ActiveRef(created))
			}
		}
	} else if plan.Create != nil {
		st.LastScheduleTime = cj.Status.LastScheduleTime
	}
	if !equality.Semantic.DeepEqual(cj.Status, st) {
		cp := cj.DeepCopy()
		cp.Status = st
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return errors.Join(append(errs, fmt.Errorf("update status of cronjob %s: %w", key, err))...)
		}
	}
	// Events go out once the status that explains them is written: a sync
	// from a stale cache fails its write instead of repeating them.
	for _, e := range plan.Events {
		c.recorder.Event(cj, e.Type, e.Reason, e.Message)
	}
	for _, j := range plan.DeleteHistory {
		if err := c.deleteJob(ctx, cj, j); err != nil {
			errs = append(errs, err)
		}
	}
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return errors.Join(errs...)
}

// createJob creates the Job of an activation. A Job of that name already
// controlled by the CronJob (an earlier sync made it but could not record
// it) counts as created.
func (c *Controller) createJob(ctx context.Context, cj *batchv1.CronJob, job *batchv1.Job) (*batchv1.Job, error) {
	got, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", got.Name)
		return got, nil
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if gerr == nil && metav1.IsControlledBy(existing, cj) {
			return existing, nil
		}
		return nil, fmt.Errorf("create job %s/%s: %w", cj.Namespace, job.Name, err)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	default:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, fmt.Errorf("create job %s/%s: %w", cj.Namespace, job.Name, err)
	}
}

// deleteJob deletes a Job and, in the background, its pods.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) error {
	policy := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &j.UID},
	})
	switch {
	case err == nil:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	case !apierrors.IsNotFound(err):
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("delete job %s/%s: %w", j.Namespace, j.Name, err)
	}
	return nil
}
