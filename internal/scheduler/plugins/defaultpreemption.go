package plugins

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// DefaultPreemption looks, when no node fits, for a node where evicting
// pods of lower priority would make room. It only proposes (a node and its
// victims); the scheduler does the evicting. Its failure message lists,
// per node, why preemption cannot help, in upstream's words.
type DefaultPreemption struct{}

// Upstream's reasons.
const (
	ErrReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	ErrReasonNoVictims            = "No preemption victims found for incoming pod"
	msgNotEligibleNever           = "not eligible due to preemptionPolicy=Never."
	msgNotEligibleTerminating     = "not eligible due to a terminating pod on the nominated node."
)

func (*DefaultPreemption) Name() string { return DefaultPreemptionName }

// PodPriority is spec.priority, 0 when unset.
func PodPriority(p *v1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

type candidate struct {
	node    string
	victims []*v1.Pod
}

func (pl *DefaultPreemption) PostFilter(state *framework.CycleState, pod *v1.Pod, snap *framework.Snapshot, statuses map[string]*framework.Status, filter framework.FilterFunc) (*framework.PostFilterResult, *framework.Status) {
	if msg, ok := eligible(pod, snap, statuses); !ok {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msg)
	}
	why := map[string]*framework.Status{}
	var cands []candidate
	for _, n := range snap.Nodes {
		st := statuses[n.Name()]
		if st.Code() == framework.UnschedulableAndUnresolvable {
			why[n.Name()] = framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPreemptionNotHelpful)
			continue
		}
		victims, s := selectVictims(state, pod, n, filter)
		if !s.IsSuccess() {
			why[n.Name()] = s
			continue
		}
		cands = append(cands, candidate{node: n.Name(), victims: victims})
	}
	if len(cands) == 0 {
		msg := fmt.Sprintf("0/%d nodes are available: %s.", len(snap.Nodes), strings.Join(framework.ReasonHistogram(why), ", "))
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msg)
	}
	best := pickCandidate(cands)
	return &framework.PostFilterResult{NominatedNodeName: best.node, Victims: best.victims}, nil
}

// eligible says whether the pod may preempt at all.
func eligible(pod *v1.Pod, snap *framework.Snapshot, statuses map[string]*framework.Status) (string, bool) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return msgNotEligibleNever, false
	}
	nom := pod.Status.NominatedNodeName
	if nom == "" || statuses[nom].Code() == framework.UnschedulableAndUnresolvable {
		return "", true
	}
	if n := snap.Get(nom); n != nil {
		for _, p := range n.Pods {
			if p.Pod.DeletionTimestamp != nil && PodPriority(p.Pod) < PodPriority(pod) {
				// Victims of an earlier preemption are still leaving.
				return msgNotEligibleTerminating, false
			}
		}
	}
	return "", true
}

// selectVictims removes every lower-priority pod from a copy of the node;
// if the pod then fits, it puts back as many as it can, most important
// first, and returns those that must go.
func selectVictims(state *framework.CycleState, pod *v1.Pod, node *framework.NodeInfo, filter framework.FilterFunc) ([]*v1.Pod, *framework.Status) {
	n := node.Clone()
	var potential []*framework.PodInfo
	for _, p := range node.Pods {
		if PodPriority(p.Pod) < PodPriority(pod) {
			potential = append(potential, p)
			n.RemovePod(string(p.Pod.UID))
		}
	}
	if len(potential) == 0 {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNoVictims)
	}
	if s := filter(state, pod, n); !s.IsSuccess() {
		return nil, s
	}
	sort.SliceStable(potential, func(i, j int) bool {
		return moreImportant(potential[i].Pod, potential[j].Pod)
	})
	var victims []*v1.Pod
	for _, p := range potential {
		n.AddPod(p)
		if s := filter(state, pod, n); !s.IsSuccess() {
			n.RemovePod(string(p.Pod.UID))
			victims = append(victims, p.Pod)
		}
	}
	return victims, nil
}

// moreImportant orders by priority, then by earlier start.
func moreImportant(a, b *v1.Pod) bool {
	if pa, pb := PodPriority(a), PodPriority(b); pa != pb {
		return pa > pb
	}
	ta, tb := startOf(a), startOf(b)
	return ta.Before(&tb)
}

func startOf(p *v1.Pod) metav1.Time {
	if p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return p.CreationTimestamp
}

// pickCandidate prefers the node whose most important victim is least
// important, then the smallest sum of victim priorities, then the fewest
// victims, then the first by name.
func pickCandidate(cands []candidate) candidate {
	key := func(c candidate) (int32, int64, int) {
		hi := int32(-1 << 31)
		var sum int64
		for _, v := range c.victims {
			hi = max(hi, PodPriority(v))
			sum += int64(PodPriority(v)) + 1<<31
		}
		return hi, sum, len(c.victims)
	}
	return slices.MinFunc(cands, func(a, b candidate) int {
		ha, sa, na := key(a)
		hb, sb, nb := key(b)
		switch {
		case ha != hb:
			return cmp.Compare(ha, hb)
		case sa != sb:
			return cmp.Compare(sa, sb)
		case na != nb:
			return na - nb
		}
		return strings.Compare(a.node, b.node)
	})
}
