package plugins

import (
	"fmt"
	"sort"

	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodeResourcesFit rejects nodes without room for the pod's requests (and
// without a free pod slot), and scores nodes by how much stays free
// (LeastAllocated: emptier is better, spreading load).
type NodeResourcesFit struct{}

// Upstream's reasons.
const (
	ErrReasonTooManyPods = "Too many pods"
	// Other resources read "Insufficient <resource name>".
	insufficientPrefix = "Insufficient "
)

const fitKey = "PreFilter" + NodeResourcesFitName

func (*NodeResourcesFit) Name() string { return NodeResourcesFitName }

func (*NodeResourcesFit) PreFilter(state *framework.CycleState, pod *v1.Pod, _ *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	state.Write(fitKey, framework.NewPodInfo(pod))
	return nil, nil
}

func podInfoFrom(state *framework.CycleState, pod *v1.Pod) *framework.PodInfo {
	if v, ok := state.Read(fitKey); ok {
		return v.(*framework.PodInfo)
	}
	return framework.NewPodInfo(pod)
}

// Insufficiency is one resource the node lacks for the pod.
type Insufficiency struct {
	Reason string
	// Unresolvable: the pod asks for more than the node has in total, so
	// even an empty node would not fit it and preemption cannot help.
	Unresolvable bool
}

// Fits lists what node lacks for a pod with requests req.
func Fits(req framework.Resource, node *framework.NodeInfo) []Insufficiency {
	var out []Insufficiency
	alloc, used := node.Allocatable, node.Requested
	if int64(len(node.Pods))+1 > alloc.AllowedPodNumber {
		out = append(out, Insufficiency{Reason: ErrReasonTooManyPods, Unresolvable: alloc.AllowedPodNumber < 1})
	}
	check := func(name string, want, have, inUse int64) {
		if want > 0 && want > have-inUse {
			out = append(out, Insufficiency{Reason: insufficientPrefix + name, Unresolvable: want > have})
		}
	}
	check(string(v1.ResourceCPU), req.MilliCPU, alloc.MilliCPU, used.MilliCPU)
	check(string(v1.ResourceMemory), req.Memory, alloc.Memory, used.Memory)
	check(string(v1.ResourceEphemeralStorage), req.EphemeralStorage, alloc.EphemeralStorage, used.EphemeralStorage)
	names := make([]string, 0, len(req.Scalar))
	for n := range req.Scalar {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		rn := v1.ResourceName(n)
		check(n, req.Scalar[rn], alloc.Scalar[rn], used.Scalar[rn])
	}
	return out
}

func (*NodeResourcesFit) Filter(state *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	lacks := Fits(podInfoFrom(state, pod).Requests, node)
	if len(lacks) == 0 {
		return nil
	}
	code := framework.Unschedulable
	reasons := make([]string, len(lacks))
	for i, l := range lacks {
		reasons[i] = l.Reason
		if l.Unresolvable {
			code = framework.UnschedulableAndUnresolvable
		}
	}
	return framework.NewStatus(code, reasons...)
}

// Score is LeastAllocated over cpu and memory (weight 1 each): the share of
// each that stays free once the pod is placed, averaged, in [0, 100].
// Pods without requests count as 0.1 cpu / 200 MiB so that they still
// spread.
func (*NodeResourcesFit) Score(state *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	req := podInfoFrom(state, pod).NonZero
	free := func(alloc, requested int64) int64 {
		if alloc == 0 || requested > alloc {
			return 0
		}
		return (alloc - requested) * framework.MaxNodeScore / alloc
	}
	cpu := free(node.Allocatable.MilliCPU, node.NonZeroRequested.MilliCPU+req.MilliCPU)
	mem := free(node.Allocatable.Memory, node.NonZeroRequested.Memory+req.Memory)
	score := (cpu + mem) / 2
	if score < 0 || score > framework.MaxNodeScore {
		return 0, framework.AsStatus(fmt.Errorf("least-allocated score %d out of range", score))
	}
	return score, nil
}
