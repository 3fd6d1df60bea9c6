package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodeName keeps a pod that names its node (spec.nodeName) off every other
// node.
type NodeName struct{}

// ErrReasonNodeName is upstream's reason.
const ErrReasonNodeName = "node(s) didn't match the requested node name"

func (*NodeName) Name() string { return NodeNameName }

func (*NodeName) Filter(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	if pod.Spec.NodeName == "" || pod.Spec.NodeName == node.Name() {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeName)
}
