package job

import (
	"reflect"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type jobOpt func(*batchv1.Job)

func testJob(completions, parallelism *int32, opts ...jobOpt) *batchv1.Job {
	labels := map[string]string{
		batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "once",
		"controller-uid": "job-uid", "job-name": "once",
	}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions:  completions,
			Parallelism:  parallelism,
			BackoffLimit: ptr.To(int32(6)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "localhost/busybox:1.36"}}},
			},
		},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func started(ago time.Duration) jobOpt {
	return func(j *batchv1.Job) { j.Status.StartTime = ptr.To(metav1.NewTime(t0.Add(-ago))) }
}
func withStatus(s batchv1.JobStatus) jobOpt {
	return func(j *batchv1.Job) {
		start := j.Status.StartTime
		j.Status = s
		if j.Status.StartTime == nil {
			j.Status.StartTime = start
		}
	}
}
func suspend(j *batchv1.Job)   { j.Spec.Suspend = ptr.To(true) }
func indexed(j *batchv1.Job)   { j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) }
func onFailure(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }
func backoff(n int32) jobOpt   { return func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To(n) } }
func deadline(s int64) jobOpt {
	return func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To(s) }
}
func conditions(cs ...batchv1.JobCondition) jobOpt {
	return func(j *batchv1.Job) { j.Status.Conditions = cs }
}
func failurePolicy(rules ...batchv1.PodFailurePolicyRule) jobOpt {
	return func(j *batchv1.Job) { j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules} }
}

type podOpt func(*corev1.Pod)

func tpod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Finalizers:        []string{batchv1.JobTrackingFinalizer},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "once", UID: "job-uid", Controller: ptr.To(true)}}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func succeededAt(ago time.Duration) podOpt { return exited(0, ago) }
func exited(code int32, ago time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(t0.Add(-ago))}}}}
	}
}
func noFinalizer(p *corev1.Pod) { p.Finalizers = nil }
func ready(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}
func deleting(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0.Add(-time.Second))) }
func index(i string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: i} }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

func condTypes(st batchv1.JobStatus) []string {
	out := []string{}
	for _, c := range st.Conditions {
		out = append(out, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	return out
}

func podNames(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func uids(us []types.UID) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, string(u))
	}
	slices.Sort(out)
	return out
}

func TestReconcile(t *testing.T) {
	two, one := ptr.To(int32(2)), ptr.To(int32(1))
	failureTarget := newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, MessageBackoffLimit, t0.Add(-time.Minute))
	successMet := newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, MessageCompletionsReached, t0.Add(-time.Minute))
	suspended := newCondition(batchv1.JobSuspended, ReasonSuspended, MessageSuspended, t0.Add(-time.Hour))

	tests := []struct {
		name       string
		job        *batchv1.Job
		pods       []*corev1.Pod
		noManage   bool
		removing   []types.UID
		backoff    BackoffRecord
		wantCreate int
		wantDelete []string
		uncount    bool
		wantRemove []string
		wantConds  []string
		wantActive int32
		wantTerm   int32
		wantUncS   []string
		wantUncF   []string
		wantEvents []string
		wantStart  string // "now", "kept", "nil"
		requeue    time.Duration
	}{
		{
			name: "new job starts pods up to parallelism", job: testJob(two, one),
			wantCreate: 1, wantActive: 1, wantStart: "now",
		},
		{
			name: "parallelism above remaining completions is capped", job: testJob(two, ptr.To(int32(5))),
			wantCreate: 2, wantActive: 2, wantStart: "now",
		},
		{
			name: "expectations outstanding: no new pods", job: testJob(two, one), noManage: true,
			wantStart: "now",
		},
		{
			name: "a succeeded pod is recorded, released and replaced", job: testJob(two, one, started(time.Minute)),
			pods:       []*corev1.Pod{tpod("a", succeededAt(time.Second))},
			wantCreate: 1, wantActive: 1, wantRemove: []string{"a"}, wantUncS: []string{"a"}, wantStart: "kept",
		},
		{
			name: "enough successes: SuccessCriteriaMet", job: testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{Succeeded: 1})),
			pods:      []*corev1.Pod{tpod("a", succeededAt(time.Minute), noFinalizer), tpod("b", succeededAt(time.Second))},
			wantConds: []string{"SuccessCriteriaMet=True/CompletionsReached"}, wantRemove: []string{"b"}, wantUncS: []string{"b"}, wantStart: "kept",
		},
		{
			name:       "uncounted pod still holding the finalizer is released again, not recounted",
			job:        testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}}})),
			pods:       []*corev1.Pod{tpod("a", succeededAt(time.Second)), tpod("b")},
			wantActive: 1, wantRemove: []string{"a"}, wantUncS: []string{"a"}, wantStart: "kept",
		},
		{
			name: "a pod whose finalizer removal is in flight is not recounted",
			job:  testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{Succeeded: 1})),
			pods: []*corev1.Pod{tpod("a", succeededAt(time.Second)), tpod("b")}, removing: []types.UID{"a"},
			wantActive: 1, wantStart: "kept",
		},
		{
			name:       "failure within the back-off waits before replacing",
			job:        testJob(two, one, started(time.Minute)),
			pods:       []*corev1.Pod{tpod("a", exited(1, 4*time.Second))},
			wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept", requeue: 6 * time.Second,
		},
		{
			name:      "two consecutive failures double the back-off",
			job:       testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{Failed: 2})),
			pods:      []*corev1.Pod{tpod("a", exited(1, 30*time.Second), noFinalizer), tpod("b", exited(1, 15*time.Second), noFinalizer)},
			wantStart: "kept", requeue: 5 * time.Second,
		},
		{
			name:       "back-off over: replace",
			job:        testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{Failed: 1})),
			pods:       []*corev1.Pod{tpod("a", exited(1, 11*time.Second), noFinalizer)},
			wantCreate: 1, wantActive: 1, wantStart: "kept",
		},
		{
			name:       "backoffLimit exceeded: FailureTarget, active pods deleted and counted",
			job:        testJob(two, two, started(time.Minute), backoff(1), withStatus(batchv1.JobStatus{Failed: 1})),
			pods:       []*corev1.Pod{tpod("a", exited(1, time.Minute), noFinalizer), tpod("b", exited(1, time.Second)), tpod("c", ready)},
			wantConds:  []string{"FailureTarget=True/BackoffLimitExceeded"},
			wantDelete: []string{"c"}, wantTerm: 1, wantRemove: []string{"b", "c"}, wantUncF: []string{"b", "c"}, wantStart: "kept",
		},
		{
			name:       "OnFailure restarts count towards backoffLimit",
			job:        testJob(one, one, started(time.Minute), onFailure, backoff(2)),
			pods:       []*corev1.Pod{tpod("a", restarts(2))},
			wantConds:  []string{"FailureTarget=True/BackoffLimitExceeded"},
			wantDelete: []string{"a"}, wantTerm: 1, wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
		},
		{
			name:       "activeDeadlineSeconds passed",
			job:        testJob(two, one, started(2*time.Minute), deadline(60)),
			pods:       []*corev1.Pod{tpod("a")},
			wantConds:  []string{"FailureTarget=True/DeadlineExceeded"},
			wantDelete: []string{"a"}, wantTerm: 1, wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
		},
		{
			name:       "activeDeadlineSeconds not yet passed: look again then",
			job:        testJob(two, one, started(20*time.Second), deadline(60)),
			pods:       []*corev1.Pod{tpod("a")},
			wantActive: 1, wantStart: "kept", requeue: 40 * time.Second,
		},
		{
			name: "pod failure policy FailJob",
			job: testJob(two, one, started(time.Minute), failurePolicy(batchv1.PodFailurePolicyRule{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}})),
			pods:       []*corev1.Pod{tpod("a", exited(42, time.Second))},
			wantConds:  []string{"FailureTarget=True/PodFailurePolicy"},
			wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
		},
		{
			name: "pod failure policy Ignore: not a failure, replaced at once",
			job: testJob(two, one, started(time.Minute), failurePolicy(batchv1.PodFailurePolicyRule{
				Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{137}}})),
			pods:       []*corev1.Pod{tpod("a", exited(137, time.Second))},
			wantCreate: 1, wantActive: 1, wantRemove: []string{"a"}, wantStart: "kept",
		},
		{
			name:     "a pod deleted before finishing counts as failed, replaced after the back-off",
			job:      testJob(two, one, started(time.Minute), withStatus(batchv1.JobStatus{Succeeded: 1})),
			pods:     []*corev1.Pod{tpod("a", deleting)},
			wantTerm: 1, wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
			requeue: 9 * time.Second,
		},
		{
			name:       "suspending deletes active pods without counting them",
			job:        testJob(two, two, started(time.Minute), suspend),
			pods:       []*corev1.Pod{tpod("a"), tpod("b", ready)},
			wantDelete: []string{"a", "b"}, uncount: true, wantTerm: 2,
			wantConds: []string{"Suspended=True/JobSuspended"}, wantEvents: []string{"Suspended"}, wantStart: "nil",
		},
		{
			name: "created suspended", job: testJob(two, one, suspend),
			wantConds: []string{"Suspended=True/JobSuspended"}, wantEvents: []string{"Suspended"}, wantStart: "nil",
		},
		{
			name: "resumed", job: testJob(two, one, conditions(suspended)),
			wantCreate: 1, wantActive: 1,
			wantConds: []string{"Suspended=False/JobResumed"}, wantEvents: []string{"Resumed"}, wantStart: "now",
		},
		{
			name:       "scale down deletes without counting",
			job:        testJob(ptr.To(int32(5)), one, started(time.Minute)),
			pods:       []*corev1.Pod{tpod("a", ready), tpod("b")},
			wantDelete: []string{"b"}, uncount: true, wantActive: 1, wantTerm: 1, wantStart: "kept",
		},
		{
			name:       "work queue: after a success no new pods, done when the rest finished",
			job:        testJob(nil, two, started(time.Minute)),
			pods:       []*corev1.Pod{tpod("a", succeededAt(time.Second)), tpod("b")},
			wantActive: 1, wantRemove: []string{"a"}, wantUncS: []string{"a"}, wantStart: "kept",
		},
		{
			name:      "work queue complete",
			job:       testJob(nil, two, started(time.Minute), withStatus(batchv1.JobStatus{Succeeded: 1})),
			pods:      []*corev1.Pod{tpod("a", succeededAt(time.Minute), noFinalizer), tpod("b", succeededAt(time.Second))},
			wantConds: []string{"SuccessCriteriaMet=True/CompletionsReached"}, wantRemove: []string{"b"}, wantUncS: []string{"b"}, wantStart: "kept",
		},
		{
			name:      "failing job releases every pod",
			job:       testJob(two, one, started(time.Minute), conditions(failureTarget)),
			pods:      []*corev1.Pod{tpod("a", deleting)},
			wantConds: []string{"FailureTarget=True/BackoffLimitExceeded"}, wantTerm: 1,
			wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
		},
		{
			name:      "succeeding job releases lingering pods without counting them",
			job:       testJob(two, one, started(time.Minute), conditions(successMet)),
			pods:      []*corev1.Pod{tpod("a", deleting, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })},
			wantConds: []string{"SuccessCriteriaMet=True/CompletionsReached"}, wantTerm: 1,
			wantRemove: []string{"a"}, wantUncF: []string{"a"}, wantStart: "kept",
		},
		{
			name:      "finished job only releases finalizers",
			job:       testJob(two, one, started(time.Minute), conditions(newCondition(batchv1.JobComplete, "CompletionsReached", "", t0))),
			pods:      []*corev1.Pod{tpod("a", succeededAt(time.Second)), tpod("b", noFinalizer)},
			wantConds: []string{"Complete=True/CompletionsReached"}, wantRemove: []string{"a"}, wantStart: "kept",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			removing := map[types.UID]bool{}
			for _, u := range tt.removing {
				removing[u] = true
			}
			plan := Reconcile(Input{Job: tt.job, Pods: tt.pods, Now: t0, CanManage: !tt.noManage, Removing: removing, Backoff: tt.backoff})
			if len(plan.Create) != tt.wantCreate {
				t.Errorf("creates = %d, want %d", len(plan.Create), tt.wantCreate)
			}
			if tt.wantDelete == nil {
				tt.wantDelete = []string{}
			}
			if got := podNames(plan.Delete); !reflect.DeepEqual(got, tt.wantDelete) || (len(got) > 0 && plan.Uncount != tt.uncount) {
				t.Errorf("deletes = %v (uncount %v), want %v (uncount %v)", got, plan.Uncount, tt.wantDelete, tt.uncount)
			}
			if tt.wantRemove == nil {
				tt.wantRemove = []string{}
			}
			if got := podNames(plan.RemoveFinalizers); !reflect.DeepEqual(got, tt.wantRemove) {
				t.Errorf("remove finalizers = %v, want %v", got, tt.wantRemove)
			}
			if tt.wantConds == nil {
				tt.wantConds = []string{}
			}
			st := plan.Status
			if got := condTypes(st); !reflect.DeepEqual(got, tt.wantConds) {
				t.Errorf("conditions = %v, want %v", got, tt.wantConds)
			}
			if st.Active != tt.wantActive || ptr.Deref(st.Terminating, 0) != tt.wantTerm {
				t.Errorf("active = %d terminating = %d, want %d %d", st.Active, ptr.Deref(st.Terminating, 0), tt.wantActive, tt.wantTerm)
			}
			if tt.wantUncS == nil {
				tt.wantUncS = []string{}
			}
			if tt.wantUncF == nil {
				tt.wantUncF = []string{}
			}
			if got := uids(st.UncountedTerminatedPods.Succeeded); !reflect.DeepEqual(got, tt.wantUncS) {
				t.Errorf("uncounted succeeded = %v, want %v", got, tt.wantUncS)
			}
			if got := uids(st.UncountedTerminatedPods.Failed); !reflect.DeepEqual(got, tt.wantUncF) {
				t.Errorf("uncounted failed = %v, want %v", got, tt.wantUncF)
			}
			events := []string{}
			for _, e := range plan.Events {
				events = append(events, e.Reason)
			}
			if tt.wantEvents == nil {
				tt.wantEvents = []string{}
			}
			if !reflect.DeepEqual(events, tt.wantEvents) {
				t.Errorf("events = %v, want %v", events, tt.wantEvents)
			}
			switch {
			case tt.wantStart == "now" && (st.StartTime == nil || !st.StartTime.Time.Equal(t0)),
				tt.wantStart == "nil" && st.StartTime != nil,
				tt.wantStart == "kept" && !reflect.DeepEqual(st.StartTime, tt.job.Status.StartTime):
				t.Errorf("startTime = %v, want %s", st.StartTime, tt.wantStart)
			}
			if plan.RequeueAfter != tt.requeue {
				t.Errorf("requeue after %v, want %v", plan.RequeueAfter, tt.requeue)
			}
		})
	}
}

func TestReconcileIndexed(t *testing.T) {
	three, two := ptr.To(int32(3)), ptr.To(int32(2))
	tests := []struct {
		name        string
		job         *batchv1.Job
		pods        []*corev1.Pod
		wantCreate  []string // generate names
		wantDelete  []string
		wantIndexes string
		wantSucc    int32
		wantConds   int
	}{
		{name: "lowest indexes first", job: testJob(three, two, indexed),
			wantCreate: []string{"once-0-", "once-1-"}},
		{name: "a succeeded index is recorded and the next one started",
			job:         testJob(three, two, indexed, started(time.Minute)),
			pods:        []*corev1.Pod{tpod("a", index("0"), succeededAt(time.Second)), tpod("b", index("1"))},
			wantCreate:  []string{"once-2-"},
			wantIndexes: "0", wantSucc: 1},
		{name: "duplicates and out-of-range pods go",
			job:        testJob(three, two, indexed, started(time.Minute)),
			pods:       []*corev1.Pod{tpod("a", index("0"), ready), tpod("b", index("0")), tpod("c", index("7"))},
			wantCreate: []string{"once-1-"}, wantDelete: []string{"b", "c"}},
		{name: "pods of an index that already succeeded go",
			job:        testJob(three, two, indexed, started(time.Minute), withStatus(batchv1.JobStatus{CompletedIndexes: "0,1", Succeeded: 2})),
			pods:       []*corev1.Pod{tpod("a", index("1"))},
			wantCreate: []string{"once-2-"}, wantDelete: []string{"a"}, wantIndexes: "0,1", wantSucc: 2},
		{name: "all indexes succeeded",
			job:         testJob(three, two, indexed, started(time.Minute), withStatus(batchv1.JobStatus{CompletedIndexes: "0,1", Succeeded: 2})),
			pods:        []*corev1.Pod{tpod("a", index("2"), succeededAt(time.Second))},
			wantIndexes: "0-2", wantSucc: 3, wantConds: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Reconcile(Input{Job: tt.job, Pods: tt.pods, Now: t0, CanManage: true})
			var created []string
			for _, p := range plan.Create {
				created = append(created, p.GenerateName)
			}
			if !reflect.DeepEqual(created, tt.wantCreate) {
				t.Errorf("created = %v, want %v", created, tt.wantCreate)
			}
			if tt.wantDelete == nil {
				tt.wantDelete = []string{}
			}
			if got := podNames(plan.Delete); !reflect.DeepEqual(got, tt.wantDelete) {
				t.Errorf("deleted = %v, want %v", got, tt.wantDelete)
			}
			if plan.Status.CompletedIndexes != tt.wantIndexes || plan.Status.Succeeded != tt.wantSucc {
				t.Errorf("completedIndexes = %q succeeded = %d, want %q %d", plan.Status.CompletedIndexes, plan.Status.Succeeded, tt.wantIndexes, tt.wantSucc)
			}
			if len(plan.Status.UncountedTerminatedPods.Succeeded) != 0 {
				t.Errorf("indexed successes are tracked by index, not uid: %v", plan.Status.UncountedTerminatedPods.Succeeded)
			}
			if len(plan.Status.Conditions) != tt.wantConds {
				t.Errorf("conditions = %v", condTypes(plan.Status))
			}
		})
	}
}

func TestFlush(t *testing.T) {
	met := newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, MessageCompletionsReached, t0)
	target := newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, MessageBackoffLimit, t0)
	tests := []struct {
		name          string
		st            batchv1.JobStatus
		withFinalizer []types.UID
		settled       bool
		wantSucc      int32
		wantFailed    int32
		wantLeft      int
		wantCond      string
		wantEvent     string
	}{
		{name: "counts the released pods",
			st:            batchv1.JobStatus{Succeeded: 1, UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}, Failed: []types.UID{"b", "c"}}},
			withFinalizer: []types.UID{"c"}, settled: true, wantSucc: 2, wantFailed: 1, wantLeft: 1},
		{name: "success becomes Complete once all is counted",
			st:      batchv1.JobStatus{Succeeded: 1, Terminating: ptr.To(int32(0)), Conditions: []batchv1.JobCondition{met}, UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}}},
			settled: true, wantSucc: 2, wantCond: "Complete", wantEvent: "Normal Completed Job completed"},
		{name: "not while pods are terminating",
			st:      batchv1.JobStatus{Succeeded: 2, Terminating: ptr.To(int32(1)), Conditions: []batchv1.JobCondition{met}},
			settled: true, wantSucc: 2},
		{name: "not while pod writes are outstanding",
			st:      batchv1.JobStatus{Succeeded: 2, Conditions: []batchv1.JobCondition{met}},
			settled: false, wantSucc: 2},
		{name: "a finished job stays as it is",
			st:      batchv1.JobStatus{Succeeded: 2, Conditions: []batchv1.JobCondition{met, newCondition(batchv1.JobComplete, "CompletionsReached", "", t0)}},
			settled: true, wantSucc: 2},
		{name: "failure becomes Failed",
			st:      batchv1.JobStatus{Failed: 7, Conditions: []batchv1.JobCondition{target}},
			settled: true, wantFailed: 7, wantCond: "Failed", wantEvent: "Warning BackoffLimitExceeded Job has reached the specified backoff limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fin := map[types.UID]bool{}
			for _, u := range tt.withFinalizer {
				fin[u] = true
			}
			got, events := Flush(tt.st, func(u types.UID) bool { return fin[u] }, tt.settled, t0.Add(time.Minute))
			u := got.UncountedTerminatedPods
			if got.Succeeded != tt.wantSucc || got.Failed != tt.wantFailed || len(u.Succeeded)+len(u.Failed) != tt.wantLeft {
				t.Errorf("succeeded %d failed %d uncounted %v", got.Succeeded, got.Failed, u)
			}
			last := ""
			if n := len(got.Conditions); n > 0 && got.Conditions[n-1].Type != tt.st.Conditions[len(tt.st.Conditions)-1].Type {
				c := got.Conditions[n-1]
				last = string(c.Type)
				interim := tt.st.Conditions[len(tt.st.Conditions)-1]
				if c.Reason != interim.Reason || c.Message != interim.Message || !c.LastTransitionTime.Equal(ptr.To(metav1.NewTime(t0.Add(time.Minute)))) {
					t.Errorf("terminal condition %+v must copy the interim one", c)
				}
			}
			if last != tt.wantCond {
				t.Errorf("terminal condition = %q, want %q", last, tt.wantCond)
			}
			if (got.CompletionTime != nil) != (tt.wantCond == "Complete") {
				t.Errorf("completionTime = %v", got.CompletionTime)
			}
			ev := ""
			if len(events) == 1 {
				ev = events[0].Type + " " + events[0].Reason + " " + events[0].Message
			}
			if ev != tt.wantEvent || len(events) > 1 {
				t.Errorf("events = %v, want %q", events, tt.wantEvent)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	job := testJob(ptr.To(int32(3)), nil)
	p := NewPod(job, -1)
	if p.GenerateName != "once-" || !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
		t.Errorf("pod = %s finalizers %v", p.GenerateName, p.Finalizers)
	}
	for k, v := range job.Spec.Template.Labels {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != job.UID || !*ref.BlockOwnerDeletion || ref.Kind != "Job" {
		t.Errorf("owner = %+v", p.OwnerReferences)
	}
	ip := NewPod(job, 2)
	if ip.GenerateName != "once-2-" || ip.Spec.Hostname != "once-2" ||
		ip.Annotations[batchv1.JobCompletionIndexAnnotation] != "2" || ip.Labels[CompletionIndexLabel] != "2" {
		t.Errorf("indexed pod = %s host %s annotations %v labels %v", ip.GenerateName, ip.Spec.Hostname, ip.Annotations, ip.Labels)
	}
	env := ip.Spec.Containers[0].Env
	if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env = %+v", env)
	}
	if len(job.Spec.Template.Spec.Containers[0].Env) != 0 || job.Spec.Template.Labels[CompletionIndexLabel] != "" {
		t.Error("NewPod must not modify the Job's template")
	}
}

func TestIndexSet(t *testing.T) {
	tests := []struct{ in, out string }{
		{"", ""}, {"0", "0"}, {"0,1", "0,1"}, {"0-2", "0-2"}, {"1,3,4,5,7", "1,3-5,7"},
		{"5,1-2,12", "1,2,5"}, // 12 is beyond completions (10)
	}
	for _, tt := range tests {
		if got := parseIndexes(tt.in, 10).String(); got != tt.out {
			t.Errorf("parseIndexes(%q) = %q, want %q", tt.in, got, tt.out)
		}
	}
}

func TestBackoffRemaining(t *testing.T) {
	fail := func(ago time.Duration) *corev1.Pod { return tpod("f", exited(1, ago)) }
	ok := func(ago time.Duration) *corev1.Pod { return tpod("s", succeededAt(ago)) }
	tests := []struct {
		name      string
		failures  []*corev1.Pod
		successes []*corev1.Pod
		want      time.Duration
	}{
		{"no failures", nil, []*corev1.Pod{ok(0)}, 0},
		{"first failure waits 10s", []*corev1.Pod{fail(3 * time.Second)}, nil, 7 * time.Second},
		{"third failure waits 40s", []*corev1.Pod{fail(time.Minute), fail(30 * time.Second), fail(10 * time.Second)}, nil, 30 * time.Second},
		{"capped at six minutes", []*corev1.Pod{fail(0), fail(0), fail(0), fail(0), fail(0), fail(0), fail(0), fail(0)}, nil, 6 * time.Minute},
		{"a later success resets", []*corev1.Pod{fail(time.Minute), fail(50 * time.Second)}, []*corev1.Pod{ok(40 * time.Second)}, 0},
		{"failures after a success count alone", []*corev1.Pod{fail(time.Minute), fail(5 * time.Second)}, []*corev1.Pod{ok(40 * time.Second)}, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := backoffRemaining(tt.failures, tt.successes, t0); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMatchPodFailurePolicy(t *testing.T) {
	rules := []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1, 2}}},
	}
	job := testJob(nil, nil, failurePolicy(rules...))
	disrupted := tpod("d", exited(137, 0), func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	})
	tests := []struct {
		pod    *corev1.Pod
		action batchv1.PodFailurePolicyAction
		msg    string
	}{
		{disrupted, batchv1.PodFailurePolicyActionIgnore, "Pod default/d has condition DisruptionTarget matching Ignore rule at index 0"},
		{tpod("x", exited(42, 0)), batchv1.PodFailurePolicyActionFailJob, "Container c for pod default/x failed with exit code 42 matching FailJob rule at index 1"},
		{tpod("y", exited(2, 0)), "", ""},
	}
	for _, tt := range tests {
		m := matchPodFailurePolicy(job, tt.pod)
		if m.action != tt.action || m.message != tt.msg {
			t.Errorf("%s: %q %q, want %q %q", tt.pod.Name, m.action, m.message, tt.action, tt.msg)
		}
	}
}

func TestBackoffRecord(t *testing.T) {
	fail := func(ago time.Duration) *corev1.Pod { return tpod("f", exited(1, ago)) }
	ok := func(ago time.Duration) *corev1.Pod { return tpod("s", succeededAt(ago)) }
	r := BackoffRecord{}.update(nil, []*corev1.Pod{fail(30 * time.Second)})
	r = r.update(nil, []*corev1.Pod{fail(5 * time.Second)})
	if r.Failures != 2 || !r.LastFailure.Equal(t0.Add(-5*time.Second)) || r.remaining(t0) != 15*time.Second {
		t.Errorf("after two failures: %+v, remaining %v", r, r.remaining(t0))
	}
	r = r.update([]*corev1.Pod{ok(3 * time.Second)}, []*corev1.Pod{fail(time.Second)})
	if r.Failures != 1 || r.remaining(t0) != 9*time.Second {
		t.Errorf("a success resets, later failures count: %+v", r)
	}
	if r = r.update([]*corev1.Pod{ok(0)}, nil); r != (BackoffRecord{}) {
		t.Errorf("after a success: %+v", r)
	}
}
