package plugins

import (
	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodePorts rejects nodes where a hostPort the pod wants is already taken
// (same port and protocol, overlapping host IP).
type NodePorts struct{}

// ErrReasonNodePorts is upstream's reason.
const ErrReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

const nodePortsKey = "PreFilter" + NodePortsName

func (*NodePorts) Name() string { return NodePortsName }

func (*NodePorts) PreFilter(state *framework.CycleState, pod *v1.Pod, _ *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	state.Write(nodePortsKey, framework.PodHostPorts(pod))
	return nil, nil
}

func (*NodePorts) Filter(state *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	var want []framework.HostPort
	if v, ok := state.Read(nodePortsKey); ok {
		want = v.([]framework.HostPort)
	} else {
		want = framework.PodHostPorts(pod)
	}
	for _, w := range want {
		for _, used := range node.UsedPorts {
			if w.Conflicts(used) {
				return framework.NewStatus(framework.Unschedulable, ErrReasonNodePorts)
			}
		}
	}
	return nil
}
