package scheduler

import (
	"encoding/json"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's PodScheduled condition reasons and messages.
const (
	reasonUnschedulable   = v1.PodReasonUnschedulable   // "Unschedulable"
	reasonSchedulerError  = v1.PodReasonSchedulerError  // "SchedulerError"
	reasonSchedulingGated = v1.PodReasonSchedulingGated // "SchedulingGated"
	msgSchedulingGated    = "Scheduling is blocked due to non-empty scheduling gates"

	// Event reasons.
	eventScheduled        = "Scheduled"
	eventFailedScheduling = "FailedScheduling"
	eventPreempted        = "Preempted"
)

// statusChange is a PodScheduled condition (and nominated node) to record
// on a pod that was not bound.
type statusChange struct {
	Reason, Message string
	// Nominated is the node preemption made room on; "" clears it.
	Nominated string
}

// schedulingStatusPatch computes the strategic-merge patch for pods/status
// that records ch, or nil when the pod already says exactly that (so that
// retries of an unchanged failure do not write).
func schedulingStatusPatch(pod *v1.Pod, ch statusChange, now time.Time) []byte {
	cur := scheduledCondition(pod)
	condSame := cur != nil && cur.Status == v1.ConditionFalse && cur.Reason == ch.Reason && cur.Message == ch.Message
	nomSame := pod.Status.NominatedNodeName == ch.Nominated
	if condSame && nomSame {
		return nil
	}
	cond := v1.PodCondition{
		Type:               v1.PodScheduled,
		Status:             v1.ConditionFalse,
		Reason:             ch.Reason,
		Message:            ch.Message,
		LastTransitionTime: metav1.NewTime(now),
	}
	if cur != nil && cur.Status == v1.ConditionFalse {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	status := map[string]any{"conditions": []v1.PodCondition{cond}}
	if !nomSame {
		if ch.Nominated == "" {
			status["nominatedNodeName"] = nil
		} else {
			status["nominatedNodeName"] = ch.Nominated
		}
	}
	b, _ := json.Marshal(map[string]any{"status": status})
	return b
}

func scheduledCondition(pod *v1.Pod) *v1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == v1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// applyStatusChange is the same change applied to a copy of the pod, for
// servers that do not take strategic-merge patches on pods/status.
func applyStatusChange(pod *v1.Pod, ch statusChange, now time.Time) *v1.Pod {
	p := pod.DeepCopy()
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: ch.Reason, Message: ch.Message, LastTransitionTime: metav1.NewTime(now)}
	replaced := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodScheduled {
			if p.Status.Conditions[i].Status == v1.ConditionFalse {
				cond.LastTransitionTime = p.Status.Conditions[i].LastTransitionTime
			}
			p.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	p.Status.NominatedNodeName = ch.Nominated
	return p
}

// disruptionTargetPatch marks a preemption victim the way upstream does
// before deleting it.
func disruptionTargetPatch(schedulerName string, now time.Time) []byte {
	cond := v1.PodCondition{
		Type:               v1.DisruptionTarget,
		Status:             v1.ConditionTrue,
		Reason:             v1.PodReasonPreemptionByScheduler,
		Message:            schedulerName + ": preempting to accommodate a higher priority pod",
		LastTransitionTime: metav1.NewTime(now),
	}
	b, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []v1.PodCondition{cond}}})
	return b
}
