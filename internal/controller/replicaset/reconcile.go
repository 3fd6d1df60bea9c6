package replicaset

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// BurstReplicas caps how many pods one sync creates or deletes, as
// upstream's --replicaset-burst-replicas (500) does.
const BurstReplicas = 500

// podDeletionCostAnnotation lets users say which pods to remove first.
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Plan is what one sync must do to bring a ReplicaSet to its replica count.
type Plan struct {
	Create int           // pods to create from the template
	Delete []*corev1.Pod // pods to delete, best candidates first
}

// PlanReplicas compares the active pods a ReplicaSet owns with its desired
// replicas. related are the active pods of every ReplicaSet with the same
// controller (the Deployment's siblings); they make pods on crowded nodes
// go first.
func PlanReplicas(rs *appsv1.ReplicaSet, owned, related []*corev1.Pod, now time.Time) Plan {
	diff := len(owned) - int(replicasOf(rs))
	switch {
	case diff < 0:
		return Plan{Create: min(-diff, BurstReplicas)}
	case diff > 0:
		return Plan{Delete: PodsToDelete(owned, related, min(diff, BurstReplicas), now)}
	}
	return Plan{}
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// PodsToDelete picks n pods in upstream's preference order: unscheduled
// before scheduled, pending before unknown before running, not ready before
// ready, lower pod-deletion-cost first, pods sharing a node with more
// related pods first, ready for a shorter time first, more restarts first,
// newer before older.
func PodsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		n = len(pods)
	}
	onNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		ranked[i] = rankedPod{pod: p, rank: onNode[p.Spec.NodeName]}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i], ranked[j]) })
	out := make([]*corev1.Pod, n)
	for i := range n {
		out[i] = ranked[i].pod
	}
	return out
}

type rankedPod struct {
	pod  *corev1.Pod
	rank int // related pods on the same node
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a should be deleted before b.
func deleteFirst(a, b rankedPod) bool {
	pa, pb := a.pod, b.pod
	if (pa.Spec.NodeName == "") != (pb.Spec.NodeName == "") {
		return pa.Spec.NodeName == ""
	}
	if phaseOrder[pa.Status.Phase] != phaseOrder[pb.Status.Phase] {
		return phaseOrder[pa.Status.Phase] < phaseOrder[pb.Status.Phase]
	}
	ra, rb := ctrlutil.IsPodReady(pa), ctrlutil.IsPodReady(pb)
	if ra != rb {
		return !ra
	}
	if ca, cb := deletionCost(pa), deletionCost(pb); ca != cb {
		return ca < cb
	}
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if ra && rb {
		ta, tb := readySince(pa), readySince(pb)
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
	}
	if ka, kb := maxRestarts(pa), maxRestarts(pb); ka != kb {
		return ka > kb
	}
	ta, tb := pa.CreationTimestamp.Time, pb.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return pa.Name < pb.Name
}

func deletionCost(p *corev1.Pod) int64 {
	v, err := strconv.ParseInt(p.Annotations[podDeletionCostAnnotation], 10, 32)
	if err != nil {
		return 0
	}
	return v
}

func readySince(p *corev1.Pod) time.Time {
	if c := ctrlutil.PodCondition(&p.Status, corev1.PodReady); c != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, s := range p.Status.ContainerStatuses {
		m = max(m, s.RestartCount)
	}
	return m
}

// NewPod builds the pod a ReplicaSet creates from its template: generated
// name "<rs>-", template labels, annotations and finalizers, and a
// controller reference that blocks the owner's foreground deletion.
func NewPod(rs *appsv1.ReplicaSet) (*corev1.Pod, error) {
	t := rs.Spec.Template
	if len(t.Labels) == 0 {
		return nil, fmt.Errorf("unable to create pods, no labels")
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podPrefix(rs.Name),
			Namespace:       rs.Namespace,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod, nil
}

func podPrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return name
	}
	return prefix
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Status computes a ReplicaSet's status from the active pods it owns and
// the number of its pods still terminating. manageErr, the error of the
// last create/delete round, becomes the ReplicaFailure condition.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, terminating int32, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fullyLabeled, ready, available int32
	for _, p := range owned {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fullyLabeled++
		}
		if ctrlutil.IsPodReady(p) {
			ready++
			if ctrlutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	st.Replicas = int32(len(owned))
	st.FullyLabeledReplicas = fullyLabeled
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.TerminatingReplicas = &terminating
	st.ObservedGeneration = rs.Generation

	failure := replicaFailure(st)
	switch {
	case manageErr != nil && failure == nil:
		reason := "FailedCreate"
		if len(owned) > int(replicasOf(rs)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, c := range st.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, c)
			}
		}
		st.Conditions = kept
	}
	return *st
}

// Terminating counts the pods controlled by uid that are being deleted but
// have not finished (status.terminatingReplicas).
func Terminating(uid types.UID, pods []*corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		if p.DeletionTimestamp == nil || ctrlutil.IsPodTerminal(p) {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.UID == uid {
			n++
		}
	}
	return n
}

func replicaFailure(st *appsv1.ReplicaSetStatus) *appsv1.ReplicaSetCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
			return &st.Conditions[i]
		}
	}
	return nil
}
