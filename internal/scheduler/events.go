package scheduler

import (
	"reflect"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// DefaultSchedulerName is the name pods get when they name none.
const DefaultSchedulerName = v1.DefaultSchedulerName

// isTerminal reports whether the pod's containers are all done for good.
func isTerminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

// isPendingFor reports whether the pod waits for this scheduler: no node
// yet, names this scheduler, not being deleted, not finished.
func isPendingFor(p *v1.Pod, schedulerName string) bool {
	name := p.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return p.Spec.NodeName == "" && name == schedulerName && p.DeletionTimestamp == nil && !isTerminal(p)
}

// isPlaced reports whether the pod occupies resources on a node.
func isPlaced(p *v1.Pod) bool { return p.Spec.NodeName != "" && !isTerminal(p) }

// podUpdateMayHelp reports whether a change to a pending pod may make it
// schedulable: anything in its spec, labels or annotations. Status-only
// changes (such as our own PodScheduled condition) do not count, or every
// failure would retry itself at once.
func podUpdateMayHelp(old, cur *v1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!reflect.DeepEqual(old.Labels, cur.Labels) ||
		!reflect.DeepEqual(old.Annotations, cur.Annotations)
}

// nodeUpdateMayHelp reports whether a node change may let a pod that did
// not fit fit now. Heartbeat-only status updates do not count.
func nodeUpdateMayHelp(old, cur *v1.Node) bool {
	if old.Spec.Unschedulable != cur.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		!reflect.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable) {
		return true
	}
	return readyStatus(old) != readyStatus(cur)
}

func readyStatus(n *v1.Node) v1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status
		}
	}
	return v1.ConditionUnknown
}
