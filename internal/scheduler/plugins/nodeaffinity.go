package plugins

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// NodeAffinity enforces spec.nodeSelector and required node affinity, and
// scores preferred node affinity.
type NodeAffinity struct{}

// ErrReasonNodeAffinity is upstream's reason.
const ErrReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

func (*NodeAffinity) Name() string { return NodeAffinityName }

// PreFilter narrows the candidates when every required term names nodes
// with matchFields metadata.name In (what the DaemonSet controller writes),
// so a DaemonSet pod is only filtered against its own node.
func (*NodeAffinity) PreFilter(_ *framework.CycleState, pod *v1.Pod, _ *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	req := requiredTerms(pod)
	if len(req) == 0 {
		return nil, nil
	}
	names := sets.New[string]()
	for _, term := range req {
		found := false
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == v1.NodeSelectorOpIn {
				if found {
					// Two name requirements in one term: intersect them.
					names = names.Intersection(sets.New(f.Values...))
					continue
				}
				names.Insert(f.Values...)
				found = true
			}
		}
		if !found {
			return nil, nil
		}
	}
	return &framework.PreFilterResult{NodeNames: names}, nil
}

func (*NodeAffinity) Filter(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) *framework.Status {
	if !MatchesNodeSelectorAndAffinity(pod, node.Node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeAffinity)
	}
	return nil
}

func (*NodeAffinity) PreScore(*framework.CycleState, *v1.Pod, *framework.Snapshot, []*framework.NodeInfo) *framework.Status {
	return nil
}

// Score sums the weights of the preferred terms the node matches.
func (*NodeAffinity) Score(_ *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0, nil
	}
	var sum int64
	for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if p.Weight != 0 && termMatches(&p.Preference, node.Node) {
			sum += int64(p.Weight)
		}
	}
	return sum, nil
}

func (*NodeAffinity) NormalizeScore(_ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(scores, false)
	return nil
}

func requiredTerms(pod *v1.Pod) []v1.NodeSelectorTerm {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
}

// MatchesNodeSelectorAndAffinity reports whether node satisfies the pod's
// nodeSelector (every label equal) and its required node affinity (any
// term matches; within a term every expression and field matches).
func MatchesNodeSelectorAndAffinity(pod *v1.Pod, node *v1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for i := range requiredTerms(pod) {
		if termMatches(&requiredTerms(pod)[i], node) {
			return true
		}
	}
	return false
}

// termMatches: a term with neither expressions nor fields matches nothing.
func termMatches(term *v1.NodeSelectorTerm, node *v1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, e := range term.MatchExpressions {
		if !requirementMatches(e, node.Labels) {
			return false
		}
	}
	for _, f := range term.MatchFields {
		if f.Key != "metadata.name" {
			return false
		}
		if !requirementMatches(v1.NodeSelectorRequirement{Key: f.Key, Operator: f.Operator, Values: f.Values},
			map[string]string{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

func requirementMatches(r v1.NodeSelectorRequirement, set map[string]string) bool {
	val, has := set[r.Key]
	switch r.Operator {
	case v1.NodeSelectorOpIn:
		return has && contains(r.Values, val)
	case v1.NodeSelectorOpNotIn:
		return !has || !contains(r.Values, val)
	case v1.NodeSelectorOpExists:
		return has
	case v1.NodeSelectorOpDoesNotExist:
		return !has
	case v1.NodeSelectorOpGt, v1.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		want, err1 := strconv.ParseInt(r.Values[0], 10, 64)
		got, err2 := strconv.ParseInt(val, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == v1.NodeSelectorOpGt {
			return got > want
		}
		return got < want
	}
	return false
}

func contains(values []string, v string) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}

// selectorFor turns a label selector map into a labels.Selector; an empty
// map selects nothing (as Service selectors do).
func selectorFor(m map[string]string) labels.Selector {
	if len(m) == 0 {
		return labels.Nothing()
	}
	sel := labels.NewSelector()
	for k, v := range m {
		r, err := labels.NewRequirement(k, selection.Equals, []string{v})
		if err != nil {
			return labels.Nothing()
		}
		sel = sel.Add(*r)
	}
	return sel
}
