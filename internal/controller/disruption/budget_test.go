package disruption

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func TestExpectedAndStatus(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	i := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	three := []*corev1.Pod{pod("a", true), pod("b", true), pod("c", true)}
	scale3 := func() (int32, error) { return 3, nil }
	tests := []struct {
		name                    string
		spec                    policyv1.PodDisruptionBudgetSpec
		pods                    []*corev1.Pod
		disrupted               map[string]metav1.Time
		scale                   func() (int32, error)
		expected, desired, curr int32
		allowed                 int32
		reason                  string
	}{
		{"maxUnavailable 1 of 3", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, three, nil, scale3, 3, 2, 3, 1, reasonSufficientPods},
		{"minAvailable 3 of 3", policyv1.PodDisruptionBudgetSpec{MinAvailable: i(3)}, three, nil, scale3, 3, 3, 3, 0, reasonInsufficientPods},
		{"minAvailable 50% rounds up", policyv1.PodDisruptionBudgetSpec{MinAvailable: pct("50%")}, three, nil, scale3, 3, 2, 3, 1, reasonSufficientPods},
		{"unready pods are not healthy", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)},
			[]*corev1.Pod{pod("a", true), pod("b", false), pod("c", true)}, nil, scale3, 3, 2, 2, 0, reasonInsufficientPods},
		{"an evicted pod is not healthy", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, three,
			map[string]metav1.Time{"a": metav1.NewTime(now.Add(-time.Minute))}, scale3, 3, 2, 2, 0, reasonInsufficientPods},
		{"an old eviction is forgotten", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: i(1)}, three,
			map[string]metav1.Time{"a": metav1.NewTime(now.Add(-3 * time.Minute))}, scale3, 3, 2, 3, 1, reasonSufficientPods},
		{"no pods", policyv1.PodDisruptionBudgetSpec{MinAvailable: i(1)}, nil, nil, scale3, 0, 1, 0, 0, reasonInsufficientPods},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 2}, Spec: tt.spec}
			pdb.Status.DisruptedPods = tt.disrupted
			c, err := Expected(pdb, tt.pods, tt.scale)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := Status(pdb, tt.pods, c, now)
			if st.ExpectedPods != tt.expected || st.DesiredHealthy != tt.desired || st.CurrentHealthy != tt.curr || st.DisruptionsAllowed != tt.allowed {
				t.Fatalf("got expected=%d desired=%d current=%d allowed=%d", st.ExpectedPods, st.DesiredHealthy, st.CurrentHealthy, st.DisruptionsAllowed)
			}
			if st.ObservedGeneration != 2 || len(st.Conditions) != 1 || st.Conditions[0].Reason != tt.reason {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

func TestFailedScale(t *testing.T) {
	pdb := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &intstr.IntOrString{IntVal: 1}}}
	_, err := Expected(pdb, nil, func() (int32, error) { return 0, errors.New("found no controllers for pod \"x\"") })
	if err == nil {
		t.Fatal("want error")
	}
	st := Failed(pdb, err, time.Now())
	if st.Conditions[0].Reason != reasonSyncFailed || st.DisruptionsAllowed != 0 {
		t.Fatalf("status %+v", st)
	}
}
