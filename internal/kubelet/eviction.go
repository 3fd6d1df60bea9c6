package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Node-pressure eviction: the pure part (thresholds, pressure conditions,
// the pods to evict, the status an evicted pod gets). What observes the
// node (free memory, file systems) and acts on the result lives with the
// node loop.

// Eviction signals, upstream's names.
const (
	signalMemoryAvailable   = "memory.available"
	signalNodeFsAvailable   = "nodefs.available"
	signalNodeFsInodesFree  = "nodefs.inodesFree"
	signalImageFsAvailable  = "imagefs.available"
	signalImageFsInodesFree = "imagefs.inodesFree"
	signalPIDAvailable      = "pid.available"
	reasonEvicted           = "Evicted"
	nodeLowMessageFmt       = "The node was low on resource: %v. "
	thresholdMetMessageFmt  = "Threshold quantity: %v, available: %v. "
	containerMessageFmt     = "Container %s was using %s, request is %s, has larger consumption of %v. "
	reasonTerminationByNode = "TerminationByKubelet"

	// Local storage limits (emptyDir sizeLimit, ephemeral-storage
	// limits), upstream's messages.
	emptyDirMessageFmt         = "Usage of EmptyDir volume %q exceeds the limit %q. "
	containerStorageMessageFmt = "Container %s exceeded its local ephemeral storage limit %q. "
	podStorageMessageFmt       = "Pod ephemeral local storage usage exceeds the total limit of containers %s. "
)

// evictionThreshold is one hard threshold: the signal is met when what is
// available falls below Quantity, or below Percentage of the capacity.
type evictionThreshold struct {
	Signal     string
	Quantity   *resource.Quantity
	Percentage float64
}

// defaultEvictionThresholds are upstream's defaults for evictionHard.
func defaultEvictionThresholds() []evictionThreshold {
	q := resource.MustParse("100Mi")
	return []evictionThreshold{
		{Signal: signalMemoryAvailable, Quantity: &q},
		{Signal: signalNodeFsAvailable, Percentage: 0.10},
		{Signal: signalImageFsAvailable, Percentage: 0.15},
		{Signal: signalNodeFsInodesFree, Percentage: 0.05},
	}
}

// parseEvictionHard reads upstream's --eviction-hard syntax,
// "memory.available<100Mi,nodefs.available<10%"; empty is the defaults.
func parseEvictionHard(spec string) ([]evictionThreshold, error) {
	if strings.TrimSpace(spec) == "" {
		return defaultEvictionThresholds(), nil
	}
	var out []evictionThreshold
	for _, part := range strings.Split(spec, ",") {
		signal, value, ok := strings.Cut(strings.TrimSpace(part), "<")
		if !ok {
			return nil, fmt.Errorf("eviction threshold %q: want <signal><<quantity or percentage>", part)
		}
		switch signal {
		case signalMemoryAvailable, signalNodeFsAvailable, signalNodeFsInodesFree,
			signalImageFsAvailable, signalImageFsInodesFree, signalPIDAvailable:
		default:
			return nil, fmt.Errorf("eviction threshold %q: unknown signal %q", part, signal)
		}
		t := evictionThreshold{Signal: signal}
		if pct, isPct := strings.CutSuffix(value, "%"); isPct {
			var f float64
			if _, err := fmt.Sscanf(pct, "%g", &f); err != nil || f <= 0 || f > 100 {
				return nil, fmt.Errorf("eviction threshold %q: bad percentage %q", part, value)
			}
			t.Percentage = f / 100
		} else {
			q, err := resource.ParseQuantity(value)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("eviction threshold %q: bad quantity %q", part, value)
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	return out, nil
}

// signalObservation is what is available of a signal's resource and its
// capacity (bytes or inodes).
type signalObservation struct {
	Available, Capacity int64
}

// thresholdMet is a met threshold with the values of its message.
type thresholdMet struct {
	Threshold evictionThreshold
	// Quantity is the threshold as an absolute amount.
	Quantity  resource.Quantity
	Available resource.Quantity
}

// thresholdsMet returns the thresholds whose signal is below them.
// Signals without an observation are never met.
func thresholdsMet(thresholds []evictionThreshold, obs map[string]signalObservation) []thresholdMet {
	var out []thresholdMet
	for _, t := range thresholds {
		o, ok := obs[t.Signal]
		if !ok || o.Capacity <= 0 {
			continue
		}
		format := resource.BinarySI
		if t.Signal == signalNodeFsInodesFree || t.Signal == signalImageFsInodesFree || t.Signal == signalPIDAvailable {
			format = resource.DecimalSI
		}
		limit := int64(t.Percentage * float64(o.Capacity))
		if t.Quantity != nil {
			limit = t.Quantity.Value()
		}
		if o.Available < limit {
			out = append(out, thresholdMet{Threshold: t,
				Quantity: *resource.NewQuantity(limit, format), Available: *resource.NewQuantity(o.Available, format)})
		}
	}
	return out
}

// signalResource is the resource a signal is about, named as upstream's
// messages name it.
func signalResource(signal string) v1.ResourceName {
	switch signal {
	case signalMemoryAvailable:
		return v1.ResourceMemory
	case signalNodeFsInodesFree, signalImageFsInodesFree:
		return "inodes"
	case signalPIDAvailable:
		return "pids"
	}
	return v1.ResourceEphemeralStorage
}

// nodePressure is which pressure conditions met thresholds raise.
type nodePressure struct {
	Memory, Disk, PID bool
}

func pressureOf(met []thresholdMet) nodePressure {
	var p nodePressure
	for _, m := range met {
		switch m.Threshold.Signal {
		case signalMemoryAvailable:
			p.Memory = true
		case signalPIDAvailable:
			p.PID = true
		default:
			p.Disk = true
		}
	}
	return p
}

// pressureConditionSpecs are the node's pressure conditions, with
// upstream's reasons and messages for both states.
func pressureConditionSpecs(p nodePressure) []conditionSpec {
	out := []conditionSpec{
		{v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		{v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		{v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	}
	if p.Memory {
		out[0] = conditionSpec{v1.NodeMemoryPressure, v1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"}
	}
	if p.Disk {
		out[1] = conditionSpec{v1.NodeDiskPressure, v1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure"}
	}
	if p.PID {
		out[2] = conditionSpec{v1.NodePIDPressure, v1.ConditionTrue, "KubeletHasInsufficientPID", "kubelet has insufficient PID available"}
	}
	return out
}

// podUsage is what a pod's containers use of the resource being
// reclaimed, by container name.
type podUsage map[string]resource.Quantity

func (u podUsage) total() int64 {
	var n int64
	for _, q := range u {
		n += q.Value()
	}
	return n
}

func podRequest(pod *v1.Pod, name v1.ResourceName) int64 {
	var n int64
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests[name]; ok {
			n += q.Value()
		}
	}
	return n
}

// rankForEviction orders candidate pods the way upstream picks victims:
// pods using more than they request first, then lower priority, then
// the most usage above the request.
func rankForEviction(pods []*v1.Pod, res v1.ResourceName, usage map[string]podUsage) []*v1.Pod {
	out := append([]*v1.Pod{}, pods...)
	over := func(p *v1.Pod) int64 { return usage[string(p.UID)].total() - podRequest(p, res) }
	prio := func(p *v1.Pod) int32 {
		if p.Spec.Priority != nil {
			return *p.Spec.Priority
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, oj := over(out[i]) > 0, over(out[j]) > 0
		if oi != oj {
			return oi
		}
		if pi, pj := prio(out[i]), prio(out[j]); pi != pj {
			return pi < pj
		}
		return over(out[i]) > over(out[j])
	})
	return out
}

// evictionMessage is upstream's message for a pod evicted to reclaim
// the resource of met: the node's state, then each container using more
// than it requests.
func evictionMessage(pod *v1.Pod, met thresholdMet, usage podUsage) string {
	res := signalResource(met.Threshold.Signal)
	msg := fmt.Sprintf(nodeLowMessageFmt, res)
	msg += fmt.Sprintf(thresholdMetMessageFmt, met.Quantity.String(), met.Available.String())
	for _, c := range pod.Spec.Containers {
		used, ok := usage[c.Name]
		if !ok {
			continue
		}
		req := c.Resources.Requests[res]
		if used.Cmp(req) > 0 {
			msg += fmt.Sprintf(containerMessageFmt, c.Name, used.String(), req.String(), res)
		}
	}
	return msg
}

// evictedStatus is the status an evicted pod is given: phase Failed,
// reason Evicted, the message, and a DisruptionTarget condition.
func evictedStatus(pod *v1.Pod, cur v1.PodStatus, message string, now time.Time) v1.PodStatus {
	st := *cur.DeepCopy()
	st.Phase = v1.PodFailed
	st.Reason = reasonEvicted
	st.Message = message
	for i := range st.ContainerStatuses {
		st.ContainerStatuses[i].Ready = false
	}
	cond := v1.PodCondition{Type: v1.DisruptionTarget, Status: v1.ConditionTrue,
		Reason: reasonTerminationByNode, Message: message, ObservedGeneration: pod.Generation, LastTransitionTime: apiTime(now)}
	replaced := false
	for i := range st.Conditions {
		if st.Conditions[i].Type == v1.DisruptionTarget {
			cond.LastTransitionTime = st.Conditions[i].LastTransitionTime
			st.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		st.Conditions = append(st.Conditions, cond)
	}
	return st
}

// storageUse is what a pod uses of local ephemeral storage: each
// container's writable layer and logs, and each emptyDir on disk.
type storageUse struct {
	Containers map[string]int64
	EmptyDirs  map[string]int64
}

func (u storageUse) total() int64 { return sum(u.Containers) + sum(u.EmptyDirs) }

// podUsage is the storage use as eviction ranks it: by container, and
// the emptyDirs under "" (no container has that name, so messages leave
// them out as upstream's do).
func (u storageUse) podUsage() podUsage {
	out := podUsage{}
	for name, b := range u.Containers {
		out[name] = *resource.NewQuantity(b, resource.BinarySI)
	}
	if n := sum(u.EmptyDirs); n > 0 {
		out[""] = *resource.NewQuantity(n, resource.BinarySI)
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// hasStorageLimit reports whether a pod has a limit storageLimitExceeded
// checks.
func hasStorageLimit(pod *v1.Pod) bool {
	for _, vol := range pod.Spec.Volumes {
		if ed := vol.EmptyDir; ed != nil && ed.Medium != v1.StorageMediumMemory && ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Limits[v1.ResourceEphemeralStorage]; ok {
			return true
		}
	}
	return false
}

// storageLimitExceeded is upstream's local storage eviction of one pod: an
// emptyDir over its sizeLimit, a container over its ephemeral-storage
// limit, or the pod over the sum of its containers' limits. It returns
// the eviction message, "" when every limit holds.
func storageLimitExceeded(pod *v1.Pod, use storageUse) string {
	for _, vol := range pod.Spec.Volumes {
		ed := vol.EmptyDir
		if ed == nil || ed.Medium == v1.StorageMediumMemory || ed.SizeLimit == nil || ed.SizeLimit.IsZero() {
			continue
		}
		if used, ok := use.EmptyDirs[vol.Name]; ok && used > ed.SizeLimit.Value() {
			return fmt.Sprintf(emptyDirMessageFmt, vol.Name, ed.SizeLimit.String())
		}
	}
	// The pod's limit is the sum of the limits its containers have.
	var podLimit int64
	limited := false
	for _, c := range pod.Spec.Containers {
		limit, ok := c.Resources.Limits[v1.ResourceEphemeralStorage]
		if !ok {
			continue
		}
		limited = true
		podLimit += limit.Value()
		if used, ok := use.Containers[c.Name]; ok && used > limit.Value() {
			return fmt.Sprintf(containerStorageMessageFmt, c.Name, limit.String())
		}
	}
	if limited && use.total() > podLimit {
		return fmt.Sprintf(podStorageMessageFmt, resource.NewQuantity(podLimit, resource.BinarySI).String())
	}
	return ""
}
