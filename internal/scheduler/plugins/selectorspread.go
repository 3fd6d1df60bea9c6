package plugins

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// SelectorSpread prefers nodes (and zones) running fewer pods of the same
// group as the incoming pod, where the group is: same namespace, same
// controlling owner (ReplicaSet, StatefulSet, ...), and selected by every
// Service that selects the incoming pod. Fewer matching pods give a higher
// score, so replicas spread across nodes and zones.
type SelectorSpread struct{}

const spreadKey = "PreScore" + SelectorSpreadName

// zoneWeighting is the share of the score given to zone spreading when
// nodes carry zone labels (2/3, as upstream's SelectorSpread did).
const zoneWeighting = 2.0 / 3.0

type spreadState struct {
	owner     types.UID
	selectors []labels.Selector
	// zoneOf maps each feasible node to its zone label, if any.
	zoneOf map[string]string
}

func (*SelectorSpread) Name() string { return SelectorSpreadName }

func (*SelectorSpread) PreScore(state *framework.CycleState, pod *v1.Pod, snap *framework.Snapshot, nodes []*framework.NodeInfo) *framework.Status {
	s := &spreadState{zoneOf: map[string]string{}}
	for _, n := range nodes {
		if z := n.Node.Labels[v1.LabelTopologyZone]; z != "" {
			s.zoneOf[n.Name()] = z
		}
	}
	if ref := controllerOf(pod); ref != nil {
		s.owner = ref.UID
	}
	for _, svc := range snap.Services {
		if svc.Namespace != pod.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := selectorFor(svc.Spec.Selector)
		if sel.Matches(labels.Set(pod.Labels)) {
			s.selectors = append(s.selectors, sel)
		}
	}
	state.Write(spreadKey, s)
	return nil
}

func controllerOf(pod *v1.Pod) *metav1.OwnerReference {
	for i := range pod.OwnerReferences {
		if r := &pod.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

// matches reports whether other belongs to the incoming pod's group.
func (s *spreadState) matches(pod, other *v1.Pod) bool {
	if s.owner == "" && len(s.selectors) == 0 {
		return false
	}
	if other.Namespace != pod.Namespace || other.DeletionTimestamp != nil || other.UID == pod.UID {
		return false
	}
	if s.owner != "" {
		ref := controllerOf(other)
		if ref == nil || ref.UID != s.owner {
			return false
		}
	}
	for _, sel := range s.selectors {
		if !sel.Matches(labels.Set(other.Labels)) {
			return false
		}
	}
	return true
}

// Score counts the group's pods on the node.
func (*SelectorSpread) Score(state *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(spreadKey)
	if !ok {
		return 0, nil
	}
	s := v.(*spreadState)
	var n int64
	for _, p := range node.Pods {
		if s.matches(pod, p.Pod) {
			n++
		}
	}
	return n, nil
}

// NormalizeScore turns counts into scores: the emptiest node gets 100, the
// fullest 0 (per node), blended with the same measure per zone.
func (*SelectorSpread) NormalizeScore(state *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	var zoneOf map[string]string
	if v, ok := state.Read(spreadKey); ok {
		zoneOf = v.(*spreadState).zoneOf
	}

	var maxNode int64
	zoneCounts := map[string]int64{}
	for _, s := range scores {
		maxNode = max(maxNode, s.Score)
		if z := zoneOf[s.Name]; z != "" {
			zoneCounts[z] += s.Score
		}
	}
	var maxZone int64
	for _, c := range zoneCounts {
		maxZone = max(maxZone, c)
	}
	for i := range scores {
		f := float64(framework.MaxNodeScore)
		if maxNode > 0 {
			f = float64(framework.MaxNodeScore) * float64(maxNode-scores[i].Score) / float64(maxNode)
		}
		if z := zoneOf[scores[i].Name]; z != "" && len(zoneCounts) > 0 {
			zf := float64(framework.MaxNodeScore)
			if maxZone > 0 {
				zf = float64(framework.MaxNodeScore) * float64(maxZone-zoneCounts[z]) / float64(maxZone)
			}
			f = f*(1-zoneWeighting) + zf*zoneWeighting
		}
		scores[i].Score = int64(f)
	}
	return nil
}
