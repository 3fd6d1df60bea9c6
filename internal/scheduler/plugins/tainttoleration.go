package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// TaintToleration keeps pods off nodes with NoSchedule/NoExecute taints
// they do not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type TaintToleration struct{}

// ErrReasonUntoleratedTaint is upstream's reason since 1.34: taint keys and
// values are no longer put in pod status (they may be sensitive).
const ErrReasonUntoleratedTaint = "node(s) had untolerated taint(s)"

func (*TaintToleration) Name() string { return TaintTolerationName }

func (*TaintToleration) Filter(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	for i := range node.Node.Spec.Taints {
		t := &node.Node.Spec.Taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUntoleratedTaint)
		}
	}
	return nil
}

func (*TaintToleration) PreScore(*framework.CycleState, *v1.Pod, *framework.Snapshot, []*framework.NodeInfo) *framework.Status {
	return nil
}

// Score counts untolerated PreferNoSchedule taints; normalization reverses
// it so that fewer is better.
func (*TaintToleration) Score(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	var n int64
	for i := range node.Node.Spec.Taints {
		t := &node.Node.Spec.Taints[i]
		if t.Effect == v1.TaintEffectPreferNoSchedule && !tolerates(pod.Spec.Tolerations, t) {
			n++
		}
	}
	return n, nil
}

func (*TaintToleration) NormalizeScore(_ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(scores, true)
	return nil
}
