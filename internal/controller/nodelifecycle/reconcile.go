package nodelifecycle

import (
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults as the brief and upstream's node lifecycle controller use them.
const (
	DefaultGracePeriod        = 40 * time.Second // node-monitor-grace-period
	DefaultStartupGracePeriod = 60 * time.Second // node-startup-grace-period
	DefaultMonitorPeriod      = 5 * time.Second  // node-monitor-period
)

// Reasons and messages of conditions the controller sets, as upstream.
const (
	ReasonStatusUnknown      = "NodeStatusUnknown"
	MessageStatusUnknown     = "Kubelet stopped posting node status."
	ReasonStatusNeverUpdated = "NodeStatusNeverUpdated"
	MessageNeverUpdated      = "Kubelet never posted node status."
)

// watchedConditions are marked Unknown when the kubelet goes silent.
var watchedConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// Health remembers, per node, when this controller last saw the kubelet
// alive: the local time at which the Lease's renewTime or the Ready
// condition's heartbeat last changed. Only local time is compared, so a
// skewed node clock cannot fake liveness.
type Health struct {
	mu    sync.Mutex
	nodes map[string]*probe
}

type probe struct {
	renew     time.Time // lease spec.renewTime last seen
	heartbeat time.Time // Ready lastHeartbeatTime last seen
	seen      time.Time // local time of the last change of either
	ready     corev1.ConditionStatus
}

// NewHealth returns an empty tracker.
func NewHealth() *Health { return &Health{nodes: map[string]*probe{}} }

// Observe records what the node and its lease (nil if none) show at now
// and returns the local time the kubelet was last seen alive. A node seen
// for the first time counts as alive now.
func (h *Health) Observe(node *corev1.Node, lease *coordinationv1.Lease, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var renew, heartbeat time.Time
	if lease != nil && lease.Spec.RenewTime != nil {
		renew = lease.Spec.RenewTime.Time
	}
	if c := nodeCondition(&node.Status, corev1.NodeReady); c != nil {
		heartbeat = c.LastHeartbeatTime.Time
	}
	p, ok := h.nodes[node.Name]
	if !ok {
		p = &probe{renew: renew, heartbeat: heartbeat, seen: now}
		h.nodes[node.Name] = p
		return p.seen
	}
	if !renew.Equal(p.renew) || !heartbeat.Equal(p.heartbeat) {
		p.renew, p.heartbeat, p.seen = renew, heartbeat, now
	}
	return p.seen
}

// ReadyTransition records the node's Ready status and reports whether it
// just went from True to something else.
func (h *Health) ReadyTransition(name string, status corev1.ConditionStatus) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.nodes[name]
	if !ok {
		p = &probe{}
		h.nodes[name] = p
	}
	wasReady := p.ready == corev1.ConditionTrue
	p.ready = status
	return wasReady && status != corev1.ConditionTrue
}

// Forget drops a deleted node.
func (h *Health) Forget(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.nodes, name)
}

// Expired reports whether the kubelet has been silent longer than its
// grace period; a node that never posted Ready gets the startup grace.
func Expired(node *corev1.Node, lastSeen time.Time, grace, startupGrace time.Duration, now time.Time) bool {
	g := grace
	if nodeCondition(&node.Status, corev1.NodeReady) == nil {
		g = startupGrace
	}
	return now.After(lastSeen.Add(g))
}

// MarkUnknown returns the node's conditions with Ready and the pressure
// conditions set to Unknown, as upstream does for a silent kubelet, and
// whether anything changed.
func MarkUnknown(node *corev1.Node, now time.Time) ([]corev1.NodeCondition, bool) {
	conds := append([]corev1.NodeCondition(nil), node.Status.Conditions...)
	changed := false
	ts := metav1.NewTime(now)
	for _, t := range watchedConditions {
		i := -1
		for j := range conds {
			if conds[j].Type == t {
				i = j
			}
		}
		switch {
		case i < 0:
			conds = append(conds, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: ReasonStatusNeverUpdated, Message: MessageNeverUpdated,
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: ts,
			})
			changed = true
		case conds[i].Status != corev1.ConditionUnknown:
			conds[i].Status = corev1.ConditionUnknown
			conds[i].Reason = ReasonStatusUnknown
			conds[i].Message = MessageStatusUnknown
			conds[i].LastTransitionTime = ts
			changed = true
		}
	}
	return conds, changed
}

// Taint keys the controller owns (node.kubernetes.io/...).
var (
	noScheduleByCondition = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
		corev1.NodeReady: {
			corev1.ConditionFalse:   corev1.TaintNodeNotReady,
			corev1.ConditionUnknown: corev1.TaintNodeUnreachable,
		},
		corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
		corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
		corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
		corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
	}
	managedNoSchedule = map[string]bool{
		corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true, corev1.TaintNodeMemoryPressure: true,
		corev1.TaintNodeDiskPressure: true, corev1.TaintNodePIDPressure: true,
		corev1.TaintNodeNetworkUnavailable: true, corev1.TaintNodeUnschedulable: true,
	}
	managedNoExecute = map[string]bool{corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true}
)

// Taints returns the node's taints with the ones this controller owns
// matching its conditions: NoSchedule for Ready False/Unknown, pressure,
// network unavailable and spec.unschedulable; NoExecute for Ready
// False/Unknown. Other taints are kept as they are. It reports whether
// anything changed.
func Taints(node *corev1.Node, now time.Time) ([]corev1.Taint, bool) {
	want := map[corev1.Taint]bool{} // key+effect only
	for _, c := range node.Status.Conditions {
		if key, ok := noScheduleByCondition[c.Type][c.Status]; ok {
			want[corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}] = true
		}
		if c.Type == corev1.NodeReady {
			switch c.Status {
			case corev1.ConditionFalse:
				want[corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}] = true
			case corev1.ConditionUnknown:
				want[corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}] = true
			}
		}
	}
	if node.Spec.Unschedulable {
		want[corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}] = true
	}
	var out []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		id := corev1.Taint{Key: t.Key, Effect: t.Effect}
		managed := (t.Effect == corev1.TaintEffectNoSchedule && managedNoSchedule[t.Key]) ||
			(t.Effect == corev1.TaintEffectNoExecute && managedNoExecute[t.Key])
		switch {
		case !managed:
			out = append(out, t)
		case want[id]:
			out = append(out, t)
			delete(want, id)
		default:
			changed = true
		}
	}
	// Add the missing ones in a stable order.
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeMemoryPressure,
		corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeNetworkUnavailable, corev1.TaintNodeUnschedulable} {
		for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
			id := corev1.Taint{Key: key, Effect: effect}
			if !want[id] {
				continue
			}
			if effect == corev1.TaintEffectNoExecute {
				ts := metav1.NewTime(now)
				id.TimeAdded = &ts
			}
			out = append(out, id)
			changed = true
		}
	}
	return out, changed
}

// MarkPodNotReady returns the pod's status with Ready set to False, or nil
// when it is not Ready=True (nothing to do).
func MarkPodNotReady(pod *corev1.Pod, now time.Time) *corev1.PodStatus {
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady || c.Status != corev1.ConditionTrue {
			continue
		}
		st := pod.Status.DeepCopy()
		st.Conditions[i].Status = corev1.ConditionFalse
		st.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		return st
	}
	return nil
}

func nodeCondition(st *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}
