package apiserver_test

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestEvictionHonoursDisruptionBudgets evicts pods through pods/eviction
// with the budget's status set by hand (no disruption controller runs).
func TestEvictionHonoursDisruptionBudgets(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	pods := s.client.CoreV1().Pods("default")
	for _, name := range []string{"a", "b"} {
		p := pod(name)
		p.Spec.NodeName = "n1" // a scheduled pod is deleted gracefully
		p, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	one := intstr.FromInt32(1)
	pdbs := s.client.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evict := func(name string) error {
		return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
	}

	// The controller has not looked at the budget yet.
	err = evict("a")
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction before the budget is observed: %v, want 429", err)
	}
	// A budget with no disruption left.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, CurrentHealthy: 2, DesiredHealthy: 2, ExpectedPods: 2}
	if pdb, err = pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = evict("a")
	se, ok := err.(apierrors.APIStatus)
	if !ok || se.Status().Code != http.StatusTooManyRequests || se.Status().Message != "Cannot evict pod as it would violate the pod's disruption budget." ||
		se.Status().Details == nil || len(se.Status().Details.Causes) != 1 ||
		se.Status().Details.Causes[0].Message != "The disruption budget web needs 2 healthy pods and has 2 currently" {
		t.Fatalf("eviction over budget: %#v", err)
	}
	// One disruption allowed: the first eviction spends it, the second is refused.
	pdb.Status.DisruptionsAllowed, pdb.Status.DesiredHealthy = 1, 1
	if _, err = pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict("a"); err != nil {
		t.Fatalf("eviction within budget: %v", err)
	}
	got, err := pods.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("evicted pod: %v %+v", err, got)
	}
	pdb, _ = pdbs.Get(ctx, "web", metav1.GetOptions{})
	if _, ok := pdb.Status.DisruptedPods["a"]; !ok || pdb.Status.DisruptionsAllowed != 0 {
		t.Fatalf("budget after eviction: %+v", pdb.Status)
	}
	if err := evict("b"); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("second eviction: %v, want 429", err)
	}
	// A pod being deleted ignores the budget; a name mismatch is a bad request.
	if err := evict("a"); err != nil {
		t.Fatalf("evicting a deleting pod: %v", err)
	}
	err = s.client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("b").SubResource("eviction").
		Body(&policyv1.Eviction{TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "Eviction"}, ObjectMeta: metav1.ObjectMeta{Name: "a"}}).
		Do(ctx).Error()
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("mismatched name: %v", err)
	}
	if err := evict("missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("missing pod: %v", err)
	}
}
