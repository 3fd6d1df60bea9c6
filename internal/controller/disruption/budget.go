package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// deletionTimeout is how long an evicted pod stays in disruptedPods waiting
// for its deletion to be seen, as upstream.
const deletionTimeout = 2 * time.Minute

// Condition reasons, as upstream.
const (
	reasonSufficientPods   = "SufficientPods"
	reasonInsufficientPods = "InsufficientPods"
	reasonSyncFailed       = "SyncFailed"
)

// counts is what a budget needs to know about its pods.
type counts struct {
	expected       int32 // pods the budget's controllers want
	desiredHealthy int32
}

// Expected computes the expected and desired healthy pod counts of pdb.
// scale returns the total replicas wanted by the controllers of pods; it is
// only consulted for percentages and maxUnavailable, as upstream.
func Expected(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scale func() (int32, error)) (counts, error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		expected, err := scale()
		if err != nil {
			return counts{}, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return counts{}, err
		}
		return counts{expected: expected, desiredHealthy: max(expected-int32(maxUnavailable), 0)}, nil
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		return counts{expected: int32(len(pods)), desiredHealthy: pdb.Spec.MinAvailable.IntVal}, nil
	case pdb.Spec.MinAvailable != nil:
		expected, err := scale()
		if err != nil {
			return counts{}, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return counts{}, err
		}
		return counts{expected: expected, desiredHealthy: int32(minAvailable)}, nil
	}
	// Neither set: the API server defaults minAvailable to 1.
	return counts{expected: int32(len(pods)), desiredHealthy: 1}, nil
}

// Status computes the status of pdb from its pods and counts at now. It
// returns the new status and when it must be looked at again (an entry of
// disruptedPods expiring), zero for never.
func Status(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, c counts, now time.Time) (policyv1.PodDisruptionBudgetStatus, time.Duration) {
	st := *pdb.Status.DeepCopy()
	disrupted, recheck := liveDisruptions(pdb.Status.DisruptedPods, pods, now)
	healthy := int32(0)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if _, evicted := disrupted[p.Name]; evicted {
			continue
		}
		if ctrlutil.IsPodReady(p) {
			healthy++
		}
	}
	allowed := max(healthy-c.desiredHealthy, 0)
	if c.expected <= 0 {
		allowed = 0
	}
	st.ExpectedPods, st.DesiredHealthy, st.CurrentHealthy = c.expected, c.desiredHealthy, healthy
	st.DisruptionsAllowed = allowed
	st.DisruptedPods = disrupted
	st.ObservedGeneration = pdb.Generation
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue,
		Reason: reasonSufficientPods, ObservedGeneration: pdb.Generation}
	if allowed == 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, reasonInsufficientPods
	}
	setCondition(&st.Conditions, cond, now)
	return st, recheck
}

// Failed is the status of a budget whose counts cannot be computed.
func Failed(pdb *policyv1.PodDisruptionBudget, err error, now time.Time) policyv1.PodDisruptionBudgetStatus {
	st := *pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	st.ObservedGeneration = pdb.Generation
	setCondition(&st.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: reasonSyncFailed, Message: err.Error(), ObservedGeneration: pdb.Generation}, now)
	return st
}

// liveDisruptions keeps the evictions still waiting for their pod to go.
func liveDisruptions(recorded map[string]metav1.Time, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	if len(recorded) == 0 {
		return nil, 0
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var recheck time.Duration
	for name, at := range recorded {
		p, ok := byName[name]
		if !ok || p.DeletionTimestamp != nil {
			continue // gone or going: the eviction is done
		}
		left := at.Add(deletionTimeout).Sub(now)
		if left <= 0 {
			continue // the eviction did not happen after all
		}
		out[name] = at
		if recheck == 0 || left < recheck {
			recheck = left
		}
	}
	if len(out) == 0 {
		return nil, recheck
	}
	return out, recheck
}

func setCondition(conds *[]metav1.Condition, c metav1.Condition, now time.Time) {
	if old := meta.FindStatusCondition(*conds, c.Type); old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	} else {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	meta.SetStatusCondition(conds, c)
}

// errNoController is upstream's message for a budget with a percentage or
// maxUnavailable over pods no scalable controller owns.
func errNoController(pod *corev1.Pod) error {
	return fmt.Errorf("found no controllers for pod %q", pod.Name)
}
