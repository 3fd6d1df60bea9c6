package daemonset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// BurstReplicas caps how many pods one sync creates or deletes, as
// upstream's DaemonSet controller does (250).
const BurstReplicas = 250

// PodsByNode groups a DaemonSet's pods by the node they are for. Pods that
// are finished and already being deleted are left out unless
// includeDeletedTerminal; pods naming no node are dropped.
func PodsByNode(pods []*corev1.Pod, includeDeletedTerminal bool) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if !includeDeletedTerminal && ctrlutil.IsPodTerminal(p) && p.DeletionTimestamp != nil {
			continue
		}
		if n := TargetNode(p); n != "" {
			out[n] = append(out[n], p)
		}
	}
	return out
}

// Plan is the pod writes of one sync: a pod to create on each node of
// Create, the pods of Delete to delete. Failed and Succeeded are finished
// pods to delete and report; the controller rate-limits failed ones per
// node, since they are often the kubelet refusing the pod.
type Plan struct {
	Create    []string
	Delete    []*corev1.Pod
	Failed    []*corev1.Pod
	Succeeded []*corev1.Pod
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool {
	return len(p.Create)+len(p.Delete)+len(p.Failed)+len(p.Succeeded) == 0
}

// byAge orders daemon pods as upstream does: scheduled first, then oldest
// first, then by name.
func byAge(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
			return a.Spec.NodeName != ""
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	return out
}

func sortedNodes(nodes []*corev1.Node) []*corev1.Node {
	out := append([]*corev1.Node(nil), nodes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Manage puts one daemon pod on every node that should run one and takes
// them off nodes that should not: finished pods are replaced, extra pods
// pruned (the oldest kept; with surge, an old and a new one may overlap
// until the new one is available), and unscheduled pods for nodes that no
// longer exist deleted.
func Manage(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) Plan {
	var plan Plan
	surge := allowsSurge(ds)
	for _, node := range sortedNodes(nodes) {
		shouldRun, shouldContinue := ShouldRun(ds, node)
		pods, exists := byNode[node.Name]
		switch {
		case shouldRun && !exists:
			plan.Create = append(plan.Create, node.Name)
		case shouldContinue:
			var running []*corev1.Pod
			for _, p := range pods {
				switch {
				case p.DeletionTimestamp != nil:
				case p.Status.Phase == corev1.PodFailed:
					plan.Failed = append(plan.Failed, p)
				case p.Status.Phase == corev1.PodSucceeded:
					plan.Succeeded = append(plan.Succeeded, p)
				default:
					running = append(running, p)
				}
			}
			if !surge {
				if len(running) > 1 {
					plan.Delete = append(plan.Delete, byAge(running)[1:]...)
				}
				continue
			}
			if len(running) == 0 && shouldRun {
				plan.Create = append(plan.Create, node.Name)
			}
			if len(running) <= 1 {
				continue
			}
			// With surge an old and a new pod may share the node until the
			// new one is available; anything else goes.
			var oldestNew, oldestOld *corev1.Pod
			for _, p := range byAge(running) {
				switch {
				case p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash && oldestNew == nil:
					oldestNew = p
				case p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash && oldestOld == nil:
					oldestOld = p
				default:
					plan.Delete = append(plan.Delete, p)
				}
			}
			if oldestNew != nil && oldestOld != nil &&
				(!ctrlutil.IsPodReady(oldestOld) || ctrlutil.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, now)) {
				plan.Delete = append(plan.Delete, oldestOld)
			}
		case exists:
			for _, p := range pods {
				if p.DeletionTimestamp == nil {
					plan.Delete = append(plan.Delete, p)
				}
			}
		}
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	for _, name := range sortedKeys(byNode) {
		if known[name] {
			continue
		}
		for _, p := range byNode[name] {
			if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
				plan.Delete = append(plan.Delete, p)
			}
		}
	}
	return plan
}

func sortedKeys(m map[string][]*corev1.Pod) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// surgeCount resolves maxSurge against the number of nodes (rounding up);
// 0 unless the strategy is RollingUpdate.
func surgeCount(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	if err != nil {
		return 0
	}
	return n
}

// unavailableCount resolves maxUnavailable the same way.
func unavailableCount(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxUnavailable == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true)
	if err != nil {
		return 0
	}
	return n
}

func allowsSurge(ds *appsv1.DaemonSet) bool { return surgeCount(ds, 1) != 0 }

// updatedPods returns the one new and one old live pod of a node; ok is
// false when the node has more than one of either (Manage prunes those
// first).
func updatedPods(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	gen := templateGeneration(ds)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if IsUpdated(p, hash, gen) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// RollingUpdate replaces outdated pods. Without surge it deletes old pods
// (unavailable ones always, available ones while fewer than maxUnavailable
// nodes are unavailable) and Manage creates their replacements; with
// surge it creates new pods beside old ones (for unavailable old pods
// always, otherwise up to maxSurge at a time) and deletes an old pod once
// the new one on its node is available.
func RollingUpdate(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) Plan {
	nodeByName := map[string]*corev1.Node{}
	all := map[string][]*corev1.Pod{}
	for k, v := range byNode {
		all[k] = v
	}
	desired := 0
	for _, n := range nodes {
		nodeByName[n.Name] = n
		if run, _ := ShouldRun(ds, n); run {
			desired++
			if _, ok := all[n.Name]; !ok {
				all[n.Name] = nil
			}
		}
	}
	maxSurge, maxUnavailable := surgeCount(ds, desired), unavailableCount(ds, desired)
	if desired > 0 && maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}
	available := func(p *corev1.Pod) bool { return ctrlutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }
	shouldRun := func(name string) bool {
		n := nodeByName[name]
		if n == nil {
			return false
		}
		run, _ := ShouldRun(ds, n)
		return run
	}

	var plan Plan
	if maxSurge == 0 {
		unavailable := 0
		var replace, candidates []*corev1.Pod
		for _, name := range sortedKeys(all) {
			newPod, oldPod, ok := updatedPods(ds, all[name], hash)
			switch {
			case !ok, oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				unavailable++
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				replace = append(replace, oldPod)
				unavailable++
			case unavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		n := min(max(maxUnavailable-unavailable, 0), len(candidates))
		plan.Delete = append(replace, candidates[:n]...)
		return plan
	}

	var surge, availableNodes int
	var newNodes, candidateNodes []string
	var strandedPods []*corev1.Pod
	for _, name := range sortedKeys(all) {
		newPod, oldPod, ok := updatedPods(ds, all[name], hash)
		if !ok {
			surge++
			continue
		}
		if (oldPod != nil && available(oldPod)) || (oldPod == nil && newPod != nil && available(newPod)) {
			availableNodes++
		}
		switch {
		case oldPod == nil:
		case newPod == nil && !available(oldPod):
			if !shouldRun(name) {
				plan.Delete = append(plan.Delete, oldPod)
				continue
			}
			newNodes = append(newNodes, name)
		case newPod == nil:
			if !shouldRun(name) {
				strandedPods = append(strandedPods, oldPod)
				continue
			}
			if surge < maxSurge {
				candidateNodes = append(candidateNodes, name)
			}
		case !available(newPod):
			surge++
		default:
			plan.Delete = append(plan.Delete, oldPod)
		}
	}
	// Pods on nodes that no longer qualify go only once the pods elsewhere
	// keep the DaemonSet fully available.
	if extra := min(availableNodes-desired, len(strandedPods)); extra > 0 {
		plan.Delete = append(plan.Delete, strandedPods[:extra]...)
	}
	n := min(max(maxSurge-surge, 0), len(candidateNodes))
	plan.Create = append(newNodes, candidateNodes[:n]...)
	return plan
}

// Status counts, over the nodes, where the DaemonSet's pods should be and
// are: desired and current (scheduled where wanted), misscheduled,
// ready, available, updated and unavailable. For each node its oldest pod
// stands for it.
func Status(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now time.Time) appsv1.DaemonSetStatus {
	var st appsv1.DaemonSetStatus
	gen := templateGeneration(ds)
	for _, node := range nodes {
		shouldRun, _ := ShouldRun(ds, node)
		pods := byNode[node.Name]
		if !shouldRun {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		pod := byAge(pods)[0]
		if ctrlutil.IsPodReady(pod) {
			st.NumberReady++
			if ctrlutil.IsPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		if IsUpdated(pod, hash, gen) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}
