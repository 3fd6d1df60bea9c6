package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, *record.FakeRecorder, context.Context) {
	t.Helper()
	cs := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, Workers: 1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs, rec, ctrltest.StartInformers(t, f)
}

// finishPods marks every running pod of the fake server Succeeded.
func finishPods(t *testing.T, ctx context.Context, cs *fake.Clientset) {
	t.Helper()
	pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		p.Status.Phase = corev1.PodSucceeded
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0)}}}}
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// syncWhenCached waits until the informers show what the fake server
// holds (the Job's status and every pod's phase and finalizers), then
// syncs.
func syncWhenCached(t *testing.T, ctx context.Context, c *Controller, cs *fake.Clientset) {
	t.Helper()
	ctrltest.Eventually(t, "caches", func() bool {
		job, _ := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
		cached, err := c.jobLister.Jobs("default").Get("once")
		if err != nil || !StatusEqual(cached.Status, job.Status) {
			return false
		}
		pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			cp, err := c.podLister.Pods("default").Get(p.Name)
			if err != nil || cp.Status.Phase != p.Status.Phase || len(cp.Finalizers) != len(p.Finalizers) {
				return false
			}
		}
		return c.expectations.Satisfied("default/once")
	})
	if err := c.sync(ctx, "default/once"); err != nil {
		t.Fatal(err)
	}
}

func TestSyncRunsJobToCompletion(t *testing.T) {
	c, cs, rec, ctx := newTestController(t, testJob(ptr.To(int32(2)), ptr.To(int32(1))))

	// First pod.
	syncWhenCached(t, ctx, c, cs)
	pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 1 {
		t.Fatalf("pods = %d, want 1 (parallelism 1)", len(pods.Items))
	}
	p := pods.Items[0]
	if !strings.HasPrefix(p.Name, "once-") || !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) ||
		p.Labels["job-name"] != "once" || p.Labels[batchv1.ControllerUidLabel] != "job-uid" {
		t.Errorf("pod %s finalizers %v labels %v", p.Name, p.Finalizers, p.Labels)
	}
	job, _ := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
	if job.Status.Active != 1 || job.Status.StartTime == nil || job.Status.UncountedTerminatedPods == nil {
		t.Errorf("status after start = %+v", job.Status)
	}

	// It succeeds: counted, released, the second one starts.
	finishPods(t, ctx, cs)
	syncWhenCached(t, ctx, c, cs)
	job, _ = cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
	if job.Status.Succeeded != 1 || job.Status.Active != 1 || len(job.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Errorf("status after first success = %+v", job.Status)
	}
	first, _ := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
	if len(first.Finalizers) != 0 {
		t.Errorf("finalizers of a counted pod = %v", first.Finalizers)
	}

	// The second succeeds: SuccessCriteriaMet then Complete.
	finishPods(t, ctx, cs)
	syncWhenCached(t, ctx, c, cs)
	job, _ = cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
	if got := condTypes(job.Status); !slices.Equal(got, []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"}) {
		t.Errorf("conditions = %v", got)
	}
	if job.Status.Succeeded != 2 || job.Status.Active != 0 || job.Status.CompletionTime == nil || *job.Status.Ready != 0 || *job.Status.Terminating != 0 {
		t.Errorf("final status = %+v", job.Status)
	}
	events := ctrltest.Drain(rec.Events)
	if len(events) != 3 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: once-") ||
		!strings.HasPrefix(events[1], "Normal SuccessfulCreate Created pod: once-") || events[2] != "Normal Completed Job completed" {
		t.Errorf("events = %q", events)
	}

	// A finished Job does nothing more.
	syncWhenCached(t, ctx, c, cs)
	if events := ctrltest.Drain(rec.Events); len(events) != 0 {
		t.Errorf("events after completion = %q", events)
	}
}

func TestSyncFailsJobPastBackoffLimit(t *testing.T) {
	job := testJob(ptr.To(int32(1)), ptr.To(int32(1)), backoff(0), started(time.Minute))
	failedPod := tpod("once-a", exited(1, time.Second))
	failedPod.Labels = job.Spec.Template.Labels
	c, cs, rec, ctx := newTestController(t, job, failedPod)
	syncWhenCached(t, ctx, c, cs)
	got, _ := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
	if conds := condTypes(got.Status); !slices.Equal(conds, []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"}) {
		t.Errorf("conditions = %v", conds)
	}
	if got.Status.Failed != 1 || got.Status.CompletionTime != nil {
		t.Errorf("status = %+v", got.Status)
	}
	if events := ctrltest.Drain(rec.Events); len(events) != 1 || events[0] != "Warning BackoffLimitExceeded Job has reached the specified backoff limit" {
		t.Errorf("events = %q", events)
	}
	pod, _ := cs.CoreV1().Pods("default").Get(ctx, "once-a", metav1.GetOptions{})
	if len(pod.Finalizers) != 0 {
		t.Errorf("finalizers = %v", pod.Finalizers)
	}
}

func TestOrphanPodLosesFinalizer(t *testing.T) {
	orphan := tpod("once-gone")
	c, cs, _, ctx := newTestController(t, orphan)
	ctrltest.Eventually(t, "pod cached", func() bool {
		_, err := c.podLister.Pods("default").Get("once-gone")
		return err == nil
	})
	if err := c.syncOrphan(ctx, "default/once-gone"); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().Pods("default").Get(ctx, "once-gone", metav1.GetOptions{})
	if len(got.Finalizers) != 0 {
		t.Errorf("finalizers = %v, want none once the Job is gone", got.Finalizers)
	}
}
