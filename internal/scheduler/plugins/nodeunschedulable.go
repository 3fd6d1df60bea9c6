package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable) unless the
// pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint.
type NodeUnschedulable struct{}

// ErrReasonUnschedulable is upstream's reason.
const ErrReasonUnschedulable = "node(s) were unschedulable"

func (*NodeUnschedulable) Name() string { return NodeUnschedulableName }

func (*NodeUnschedulable) Filter(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	if !node.Node.Spec.Unschedulable {
		return nil
	}
	taint := v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}
	if tolerates(pod.Spec.Tolerations, &taint) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable)
}
