package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func job(ttl *int32, cond batchv1.JobConditionType, finishedAgo time.Duration) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: "default", UID: "job-uid"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ttl},
	}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-finishedAgo))}}
	}
	return j
}

func TestExpiry(t *testing.T) {
	deleting := job(ptr.To(int32(0)), batchv1.JobComplete, time.Hour)
	deleting.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	tests := []struct {
		name        string
		job         *batchv1.Job
		wantExpired bool
		wantWait    time.Duration
	}{
		{"no ttl", job(nil, batchv1.JobComplete, time.Hour), false, 0},
		{"not finished", job(ptr.To(int32(10)), "", 0), false, 0},
		{"interim condition is not finished", job(ptr.To(int32(0)), batchv1.JobSuccessCriteriaMet, time.Hour), false, 0},
		{"complete, ttl running", job(ptr.To(int32(100)), batchv1.JobComplete, 40*time.Second), false, 60 * time.Second},
		{"failed, ttl passed", job(ptr.To(int32(100)), batchv1.JobFailed, 100*time.Second), true, 0},
		{"ttl zero", job(ptr.To(int32(0)), batchv1.JobComplete, 0), true, 0},
		{"already being deleted", deleting, false, 0},
	}
	for _, tt := range tests {
		expired, wait, err := Expiry(tt.job, t0)
		if err != nil || expired != tt.wantExpired || wait != tt.wantWait {
			t.Errorf("%s: expired %v wait %v err %v, want %v %v", tt.name, expired, wait, err, tt.wantExpired, tt.wantWait)
		}
	}
}

func TestSyncDeletesExpiredJobInForeground(t *testing.T) {
	cs := ctrltest.NewClientset(job(ptr.To(int32(5)), batchv1.JobComplete, time.Minute))
	f := informers.NewSharedInformerFactory(cs, 0)
	c, err := New(Options{Client: cs, Informers: f, Workers: 1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)
	if err := c.sync(ctx, "default/once"); err != nil {
		t.Fatal(err)
	}
	var del k8stesting.DeleteActionImpl
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			del = d
		}
	}
	o := del.DeleteOptions
	if del.Name != "once" || o.PropagationPolicy == nil || *o.PropagationPolicy != metav1.DeletePropagationForeground ||
		o.Preconditions == nil || *o.Preconditions.UID != "job-uid" {
		t.Errorf("delete = %+v", del)
	}
	if _, err := cs.BatchV1().Jobs("default").Get(context.Background(), "once", metav1.GetOptions{}); err == nil {
		t.Error("job still there")
	}
}
