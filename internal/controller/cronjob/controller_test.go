package cronjob

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

func newTestController(t *testing.T, now *time.Time, objs ...runtime.Object) (*Controller, *fake.Clientset, *record.FakeRecorder, context.Context) {
	t.Helper()
	cs := ctrltest.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, Workers: 1, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return c, cs, rec, ctrltest.StartInformers(t, f)
}

func TestSyncCreatesJobsAndTrimsHistory(t *testing.T) {
	now := t0
	c, cs, rec, ctx := newTestController(t, &now, testCJ("*/1 * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.SuccessfulJobsHistoryLimit = new(int32) // keep none
	}))
	if err := c.sync(ctx, "default/tick"); err != nil {
		t.Fatal(err)
	}
	name := minutes(t0)
	job, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("job %s: %v", name, err)
	}
	if job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2025-01-01T12:00:00Z" {
		t.Errorf("annotations = %v", job.Annotations)
	}
	cj, _ := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != name || cj.Status.Active[0].Kind != "Job" ||
		cj.Status.Active[0].APIVersion != "batch/v1" || cj.Status.Active[0].UID != job.UID || !cj.Status.LastScheduleTime.Time.Equal(t0) {
		t.Errorf("status = %+v", cj.Status)
	}
	if ev := ctrltest.Drain(rec.Events); len(ev) != 1 || ev[0] != "Normal SuccessfulCreate Created job "+name {
		t.Errorf("events = %q", ev)
	}

	// The Job completes; a minute later the next one starts and the
	// finished one goes (history limit 0).
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: "True"}}
	job.Status.CompletionTime = &metav1.Time{Time: t0.Add(30 * time.Second)}
	if _, err := cs.BatchV1().Jobs("default").UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, "caches", func() bool {
		j, err1 := c.jobLister.Jobs("default").Get(name)
		cj, err2 := c.cjLister.CronJobs("default").Get("tick")
		return err1 == nil && err2 == nil && len(j.Status.Conditions) == 1 && len(cj.Status.Active) == 1
	})
	now = t0.Add(time.Minute)
	if err := c.sync(ctx, "default/tick"); err != nil {
		t.Fatal(err)
	}
	next := minutes(now)
	ev := ctrltest.Drain(rec.Events)
	want := []string{"Normal SuccessfulCreate Created job " + next,
		"Normal SawCompletedJob Saw completed job: " + name + ", status: Complete", "Normal SuccessfulDelete Deleted job " + name}
	if len(ev) != len(want) {
		t.Fatalf("events = %q, want %q", ev, want)
	}
	for i := range want {
		if ev[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, ev[i], want[i])
		}
	}
	cj, _ = cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != next || cj.Status.LastSuccessfulTime == nil {
		t.Errorf("status = %+v", cj.Status)
	}
	if _, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Errorf("finished job %s kept beyond the history limit", name)
	}
}

func TestSyncReadsFreshCronJobBeforeCallingAJobUnexpected(t *testing.T) {
	now := t0
	running := tjob(minutes(t0), "", 0)
	cj := testCJ("*/1 * * * *", lastScheduled(t0), active(running))
	cs := ctrltest.NewClientset(cj, running)
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, Workers: 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	// The cache still holds the CronJob from before its status write.
	stale := cj.DeepCopy()
	stale.Status = batchv1.CronJobStatus{}
	if err := f.Batch().V1().CronJobs().Informer().GetIndexer().Update(stale); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(ctx, "default/tick"); err != nil {
		t.Fatal(err)
	}
	if ev := ctrltest.Drain(rec.Events); len(ev) != 0 {
		t.Errorf("events = %q, want none", ev)
	}
	if jobs, _ := cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); len(jobs.Items) != 1 {
		t.Errorf("jobs = %d, want the one already created", len(jobs.Items))
	}
}
