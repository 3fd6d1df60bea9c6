package cronjob

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/cron"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type cjOpt func(*batchv1.CronJob)

func testCJ(schedule string, opts ...cjOpt) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0.Add(-10 * time.Minute))},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To(int32(3)),
			FailedJobsHistoryLimit:     ptr.To(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "c", Image: "localhost/busybox:1.36"}}}}},
			},
		},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

func createdAgo(d time.Duration) cjOpt {
	return func(cj *batchv1.CronJob) { cj.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}
func lastScheduled(t time.Time) cjOpt {
	return func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t)) }
}
func policy(p batchv1.ConcurrencyPolicy) cjOpt {
	return func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = p }
}
func active(jobs ...*batchv1.Job) cjOpt {
	return func(cj *batchv1.CronJob) {
		for _, j := range jobs {
			cj.Status.Active = append(cj.Status.Active, ActiveRef(j))
		}
	}
}

func tjob(name string, cond batchv1.JobConditionType, startedAgo time.Duration) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: "cj-uid", Controller: ptr.To(true)}}}}
	j.Status.StartTime = ptr.To(metav1.NewTime(t0.Add(-startedAgo)))
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = ptr.To(metav1.NewTime(t0.Add(-startedAgo + time.Second)))
		}
	}
	return j
}

func minutes(t time.Time) string { return fmt.Sprintf("tick-%d", t.Unix()/60) }

func TestReconcile(t *testing.T) {
	running := tjob("tick-run", "", time.Minute)
	done := tjob("tick-done", batchv1.JobComplete, 3*time.Minute)
	tests := []struct {
		name        string
		cj          *batchv1.CronJob
		jobs        []*batchv1.Job
		missing     []types.UID
		now         time.Time
		wantCreate  string
		wantReplace []string
		wantActive  []string
		wantEvents  []string
		wantLast    time.Time
		requeue     time.Duration
	}{
		{name: "due activation creates its job", cj: testCJ("*/5 * * * *"),
			wantCreate: minutes(t0), wantLast: t0, requeue: 5*time.Minute + nextScheduleDelta},
		{name: "nothing due yet", cj: testCJ("*/5 * * * *", createdAgo(-time.Minute)), now: t0.Add(2 * time.Minute),
			requeue: 3*time.Minute + nextScheduleDelta},
		{name: "activation already handled", cj: testCJ("*/5 * * * *", lastScheduled(t0)), now: t0.Add(time.Minute),
			wantLast: t0, requeue: 4*time.Minute + nextScheduleDelta},
		{name: "suspended", cj: testCJ("*/5 * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) })},
		{name: "Forbid with an active job", cj: testCJ("*/5 * * * *", policy(batchv1.ForbidConcurrent), active(running)), jobs: []*batchv1.Job{running},
			wantActive: []string{"tick-run"}, wantEvents: []string{"Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"},
			requeue: 5*time.Minute + nextScheduleDelta},
		{name: "Replace deletes the active job", cj: testCJ("*/5 * * * *", policy(batchv1.ReplaceConcurrent), active(running)), jobs: []*batchv1.Job{running},
			wantReplace: []string{"tick-run"}, wantCreate: minutes(t0), wantActive: []string{"tick-run"}, wantLast: t0, requeue: 5*time.Minute + nextScheduleDelta},
		{name: "Allow runs alongside", cj: testCJ("*/5 * * * *", active(running)), jobs: []*batchv1.Job{running},
			wantCreate: minutes(t0), wantActive: []string{"tick-run"}, wantLast: t0, requeue: 5*time.Minute + nextScheduleDelta},
		{name: "a finished active job leaves the list", cj: testCJ("*/5 * * * *", lastScheduled(t0), active(done)), jobs: []*batchv1.Job{done},
			now: t0.Add(time.Minute), wantLast: t0, requeue: 4*time.Minute + nextScheduleDelta,
			wantEvents: []string{"Normal SawCompletedJob Saw completed job: tick-done, status: Complete"}},
		{name: "a job it did not create", cj: testCJ("*/5 * * * *", lastScheduled(t0)), jobs: []*batchv1.Job{running},
			now: t0.Add(time.Minute), wantLast: t0, requeue: 4*time.Minute + nextScheduleDelta,
			wantEvents: []string{"Warning UnexpectedJob Saw a job that the controller did not create or forgot: tick-run"}},
		{name: "an active job went missing", cj: testCJ("*/5 * * * *", lastScheduled(t0), active(running)), missing: []types.UID{"tick-run"},
			now: t0.Add(time.Minute), wantLast: t0, requeue: 4*time.Minute + nextScheduleDelta,
			wantEvents: []string{"Normal MissingJob Active job went missing: tick-run"}},
		{name: "startingDeadlineSeconds skips old activations",
			cj:  testCJ("*/5 * * * *", createdAgo(time.Hour), func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To(int64(60)) }),
			now: t0.Add(2 * time.Minute), requeue: 3*time.Minute + nextScheduleDelta},
		{name: "startingDeadlineSeconds still in time",
			cj:  testCJ("*/5 * * * *", createdAgo(time.Hour), func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To(int64(60)) }),
			now: t0.Add(30 * time.Second), wantCreate: minutes(t0), wantLast: t0, requeue: 4*time.Minute + 30*time.Second + nextScheduleDelta},
		{name: "too many missed activations: warn, run the latest", cj: testCJ("* * * * *", createdAgo(24*time.Hour)),
			wantCreate: minutes(t0), wantLast: t0, requeue: time.Minute + nextScheduleDelta,
			wantEvents: []string{"Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"}},
		{name: "a schedule that never fires", cj: testCJ("0 0 30 2 *")},
		{name: "unknown time zone", cj: testCJ("*/5 * * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") }),
			wantEvents: []string{`Warning UnknownTimeZone invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.now.IsZero() {
				tt.now = t0
			}
			missing := map[types.UID]bool{}
			for _, u := range tt.missing {
				missing[u] = true
			}
			plan := Reconcile(Input{CronJob: tt.cj, Jobs: tt.jobs, Missing: missing, Now: tt.now})
			create := ""
			if plan.Create != nil {
				create = plan.Create.Name
			}
			if create != tt.wantCreate {
				t.Errorf("create = %q, want %q", create, tt.wantCreate)
			}
			var replaced []string
			for _, j := range plan.ReplaceActive {
				replaced = append(replaced, j.Name)
			}
			if !reflect.DeepEqual(replaced, tt.wantReplace) {
				t.Errorf("replace = %v, want %v", replaced, tt.wantReplace)
			}
			var act []string
			for _, r := range plan.Status.Active {
				act = append(act, r.Name)
			}
			if !reflect.DeepEqual(act, tt.wantActive) {
				t.Errorf("active = %v, want %v", act, tt.wantActive)
			}
			var events []string
			for _, e := range plan.Events {
				events = append(events, e.Type+" "+e.Reason+" "+e.Message)
			}
			if !reflect.DeepEqual(events, tt.wantEvents) {
				t.Errorf("events = %q, want %q", events, tt.wantEvents)
			}
			var last time.Time
			if plan.Status.LastScheduleTime != nil {
				last = plan.Status.LastScheduleTime.Time
			}
			if !last.Equal(tt.wantLast) {
				t.Errorf("lastScheduleTime = %v, want %v", last, tt.wantLast)
			}
			if plan.RequeueAfter != tt.requeue {
				t.Errorf("requeue after %v, want %v", plan.RequeueAfter, tt.requeue)
			}
		})
	}
}

func TestLastSuccessfulTime(t *testing.T) {
	older, newer := tjob("a", batchv1.JobComplete, 10*time.Minute), tjob("b", batchv1.JobComplete, 5*time.Minute)
	plan := Reconcile(Input{CronJob: testCJ("*/5 * * * *", lastScheduled(t0)), Jobs: []*batchv1.Job{newer, older, tjob("c", batchv1.JobFailed, time.Minute)}, Now: t0})
	if got := plan.Status.LastSuccessfulTime; got == nil || !got.Equal(newer.Status.CompletionTime) {
		t.Errorf("lastSuccessfulTime = %v, want %v", got, newer.Status.CompletionTime)
	}
}

func TestNewJob(t *testing.T) {
	cj := testCJ("0 3 * * *", func(cj *batchv1.CronJob) {
		cj.Spec.TimeZone = ptr.To("Europe/Paris")
		cj.Spec.JobTemplate.Annotations = map[string]string{"a": "b"}
	})
	at := time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)
	j, err := NewJob(cj, at)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != fmt.Sprintf("tick-%d", at.Unix()/60) || j.Labels["app"] != "tick" || j.Annotations["a"] != "b" ||
		j.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] != "2025-01-01T03:00:00+01:00" {
		t.Errorf("job %s labels %v annotations %v", j.Name, j.Labels, j.Annotations)
	}
	if ref := metav1.GetControllerOf(j); ref == nil || ref.Kind != "CronJob" || ref.UID != "cj-uid" {
		t.Errorf("owner = %+v", j.OwnerReferences)
	}
	utc, _ := NewJob(testCJ("*/5 * * * *"), t0)
	if got := utc.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]; got != "2025-01-01T12:00:00Z" {
		t.Errorf("timestamp without a time zone = %q", got)
	}
	// Time zones shift the activations, not just the annotation.
	plan := Reconcile(Input{CronJob: testCJ("0 3 * * *", createdAgo(11*time.Hour), func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Europe/Paris") }),
		Now: time.Date(2025, 1, 1, 2, 0, 30, 0, time.UTC)})
	if plan.Create == nil || plan.Create.Name != fmt.Sprintf("tick-%d", at.Unix()/60) {
		t.Errorf("created %v, want the 03:00 Paris activation", plan.Create)
	}
}

func TestHistory(t *testing.T) {
	var jobs []*batchv1.Job
	for i := range 5 {
		jobs = append(jobs, tjob(fmt.Sprintf("ok-%d", i), batchv1.JobComplete, time.Duration(10-i)*time.Minute))
	}
	jobs = append(jobs, tjob("fail-old", batchv1.JobFailed, 20*time.Minute), tjob("fail-new", batchv1.JobFailed, time.Minute), tjob("running", "", time.Hour))
	var got []string
	for _, j := range history(testCJ("* * * * *"), jobs) {
		got = append(got, j.Name)
	}
	if want := []string{"ok-0", "ok-1", "fail-old"}; !reflect.DeepEqual(got, want) {
		t.Errorf("history to delete = %v, want %v", got, want)
	}
}

func TestMostRecent(t *testing.T) {
	every := func(spec string) cron.Schedule {
		s, err := cron.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		spec     string
		earliest time.Time
		want     time.Time
		missed   int
	}{
		{"*/5 * * * *", t0.Add(-time.Minute), t0, 1},
		{"*/5 * * * *", t0.Add(-12 * time.Minute), t0, 3},
		{"*/5 * * * *", t0, time.Time{}, 0},
		{"* * * * *", t0.Add(-30 * 24 * time.Hour), t0, 43200},
		{"0 0 1,2 * *", t0.Add(-365 * 24 * time.Hour * 5), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), -1},
		{"@every 7m", t0.Add(-24 * time.Hour), t0.Add(-24 * time.Hour).Add(205 * 7 * time.Minute), 205},
	}
	for _, tt := range tests {
		got, missed := mostRecent(every(tt.spec), tt.earliest, t0)
		if !got.Equal(tt.want) || (tt.missed >= 0 && missed != tt.missed) {
			t.Errorf("%s from %v: %v (%d missed), want %v (%d)", tt.spec, tt.earliest, got, missed, tt.want, tt.missed)
		}
	}
}
