package ttlafterfinished

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs.
const Name = "ttl-after-finished-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Workers   int
	Now       func() time.Time // nil means time.Now
}

// Controller deletes finished Jobs once their TTL has passed.
type Controller struct {
	client    kubernetes.Interface
	workers   int
	now       func() time.Time
	jobLister batchlisters.JobLister
	synced    cache.InformerSynced
	queue     ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	inf := o.Informers.Batch().V1().Jobs()
	c := &Controller{
		client:    o.Client,
		workers:   o.Workers,
		now:       o.Now,
		jobLister: inf.Lister(),
		synced:    inf.Informer().HasSynced,
		queue:     ctrlutil.NewQueue(Name),
	}
	enqueue := func(obj any) {
		if job, ok := obj.(*batchv1.Job); ok && needsCleanup(job) {
			ctrlutil.Enqueue(c.queue)(job)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("job informer: %w", err)
	}
	return c, nil
}

// Run processes Jobs until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced)
}

// needsCleanup: the Job has a TTL, finished and is not being deleted.
func needsCleanup(job *batchv1.Job) bool {
	return job.Spec.TTLSecondsAfterFinished != nil && job.DeletionTimestamp == nil && finished(job)
}

func finished(job *batchv1.Job) bool {
	_, ok := finishTime(job)
	return ok
}

// finishTime is when the Job got its True Complete or Failed condition.
func finishTime(job *batchv1.Job) (time.Time, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

var errNoFinishTime = errors.New("finished condition has no lastTransitionTime")

// Expiry says when a Job's TTL runs out: expired reports whether it has
// at now, and wait how long until it does otherwise. A Job that needs no
// clean-up has neither.
func Expiry(job *batchv1.Job, now time.Time) (expired bool, wait time.Duration, err error) {
	if !needsCleanup(job) {
		return false, 0, nil
	}
	at, _ := finishTime(job)
	if at.IsZero() {
		return false, 0, fmt.Errorf("job %s/%s: %w", job.Namespace, job.Name, errNoFinishTime)
	}
	expireAt := at.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	if now.Before(expireAt) {
		return false, expireAt.Sub(now), nil
	}
	return true, 0, nil
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	expired, wait, err := Expiry(job, c.now())
	if err != nil || !expired {
		if wait > 0 {
			c.queue.AddAfter(key, wait)
		}
		return err
	}
	// The cache may be stale (the TTL changed, the Job was recreated):
	// decide again on what the server holds.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, wait, err = Expiry(fresh, c.now()); err != nil || !expired {
		if wait > 0 {
			c.queue.AddAfter(key, wait)
		}
		return err
	}
	policy := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete expired job %s: %w", key, err)
	}
	slog.Debug("deleted finished job after its TTL", "job", key)
	return nil
}
