package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodeReady keeps pods off nodes whose Ready condition is not True.
//
// Upstream has no such filter: the node lifecycle controller taints such
// nodes (node.kubernetes.io/not-ready or .../unreachable, NoSchedule) and
// TaintToleration does the rest. NodeReady closes the window before that
// taint is set, treating the node as if it carried it: a pod that
// tolerates the taint (a CNI DaemonSet, say) still passes. It runs after
// TaintToleration so that, once the taint is there, upstream's reason is
// the one shown.
type NodeReady struct{}

// ErrReasonNotReady is the reason upstream's old CheckNodeCondition
// predicate used.
const ErrReasonNotReady = "node(s) were not ready"

func (*NodeReady) Name() string { return NodeReadyName }

func (*NodeReady) Filter(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	status := v1.ConditionUnknown
	for _, c := range node.Node.Status.Conditions {
		if c.Type == v1.NodeReady {
			status = c.Status
		}
	}
	var taint v1.Taint
	switch status {
	case v1.ConditionTrue:
		return nil
	case v1.ConditionFalse:
		taint = v1.Taint{Key: v1.TaintNodeNotReady, Effect: v1.TaintEffectNoSchedule}
	default:
		taint = v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoSchedule}
	}
	if tolerates(pod.Spec.Tolerations, &taint) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNotReady)
}
