package statefulset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

var (
	controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	podKind        = corev1.SchemeGroupVersion.WithKind("Pod")
)

// parentAndOrdinal splits a pod name "<parent>-<ordinal>"; the ordinal is
// -1 when the name has no numeric suffix.
func parentAndOrdinal(name string) (string, int) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 || name[i-1] != '-' {
		return "", -1
	}
	ord, err := strconv.ParseInt(name[i:], 10, 32)
	if err != nil {
		return "", -1
	}
	return name[:i-1], int(ord)
}

func ordinalOf(pod *corev1.Pod) int {
	_, ord := parentAndOrdinal(pod.Name)
	return ord
}

// isMember reports whether the pod's name makes it one of set's pods.
func isMember(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, ord := parentAndOrdinal(pod.Name)
	return ord >= 0 && parent == set.Name
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

// inRange reports whether ordinal is one the set keeps at its replicas.
func inRange(set *appsv1.StatefulSet, ordinal int) bool {
	start := startOrdinal(set)
	return ordinal >= start && ordinal < start+replicasOf(set)
}

// PodName is the name of the set's pod with the given ordinal.
func PodName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

// ClaimName is the name of the claim a volume claim template gives the pod
// with the given ordinal: <template>-<set>-<ordinal>.
func ClaimName(set *appsv1.StatefulSet, template string, ordinal int) string {
	return template + "-" + set.Name + "-" + strconv.Itoa(ordinal)
}

// NewPod builds the set's pod for ordinal from template (the set's template
// at the given revision): the template's labels, annotations and
// finalizers, the controller reference, the stable identity (name,
// hostname, subdomain, pod-name and pod-index labels), one volume per claim
// template and the revision label.
func NewPod(set *appsv1.StatefulSet, template *corev1.PodTemplateSpec, ordinal int, revision string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            PodName(set, ordinal),
			GenerateName:    podPrefix(set.Name),
			Namespace:       set.Namespace,
			Labels:          copyMap(template.Labels),
			Annotations:     copyMap(template.Annotations),
			Finalizers:      append([]string(nil), template.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind)},
		},
		Spec: *template.Spec.DeepCopy(),
	}
	setIdentity(set, pod)
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	setStorage(set, pod)
	pod.Labels[appsv1.StatefulSetRevisionLabel] = revision
	return pod
}

// podPrefix is the generateName upstream leaves on the pods it names
// itself: "<set>-" when that is a valid prefix.
func podPrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return name
	}
	return prefix
}

func revisionOf(pod *corev1.Pod) string { return pod.Labels[appsv1.StatefulSetRevisionLabel] }

// setIdentity gives the pod its name, namespace and identity labels.
func setIdentity(set *appsv1.StatefulSet, pod *corev1.Pod) {
	ordinal := ordinalOf(pod)
	pod.Name = PodName(set, ordinal)
	pod.Namespace = set.Namespace
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
}

func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	ordinal := ordinalOf(pod)
	return ordinal >= 0 && isMember(set, pod) && pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ordinal)
}

// storageMatches reports whether every claim template is mounted from the
// pod's own claim.
func storageMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	ordinal := ordinalOf(pod)
	if ordinal < 0 {
		return false
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, t := range set.Spec.VolumeClaimTemplates {
		v, ok := vols[t.Name]
		if !ok || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != ClaimName(set, t.Name, ordinal) {
			return false
		}
	}
	return true
}

// setStorage points one volume per claim template at the pod's claim,
// replacing template volumes of the same name; other volumes follow.
func setStorage(set *appsv1.StatefulSet, pod *corev1.Pod) {
	if len(set.Spec.VolumeClaimTemplates) == 0 {
		return
	}
	ordinal := ordinalOf(pod)
	names := map[string]bool{}
	vols := make([]corev1.Volume, 0, len(set.Spec.VolumeClaimTemplates)+len(pod.Spec.Volumes))
	for _, t := range set.Spec.VolumeClaimTemplates {
		names[t.Name] = true
		vols = append(vols, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ClaimName(set, t.Name, ordinal)},
		}})
	}
	for _, v := range pod.Spec.Volumes {
		if !names[v.Name] {
			vols = append(vols, v)
		}
	}
	pod.Spec.Volumes = vols
}

// Claims returns the claims the pod with the given ordinal needs, in
// template order: each template named for the pod, in the set's
// namespace, labelled with the template's labels and the selector's
// matchLabels.
func Claims(set *appsv1.StatefulSet, ordinal int) []*corev1.PersistentVolumeClaim {
	out := make([]*corev1.PersistentVolumeClaim, 0, len(set.Spec.VolumeClaimTemplates))
	for i := range set.Spec.VolumeClaimTemplates {
		c := set.Spec.VolumeClaimTemplates[i].DeepCopy()
		c.Name = ClaimName(set, set.Spec.VolumeClaimTemplates[i].Name, ordinal)
		c.Namespace = set.Namespace
		c.Status = corev1.PersistentVolumeClaimStatus{}
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for k, v := range set.Spec.Selector.MatchLabels {
				c.Labels[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// retention returns the set's claim retention policy, Retain when unset.
func retention(set *appsv1.StatefulSet) appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	if r := set.Spec.PersistentVolumeClaimRetentionPolicy; r != nil {
		if r.WhenDeleted != "" {
			p.WhenDeleted = r.WhenDeleted
		}
		if r.WhenScaled != "" {
			p.WhenScaled = r.WhenScaled
		}
	}
	return p
}

// claimOwner is the set or one of its pods as a claim's possible owner.
type claimOwner struct {
	gvk  schema.GroupVersionKind
	name string
	uid  types.UID
}

func setOwner(set *appsv1.StatefulSet) claimOwner {
	return claimOwner{controllerKind, set.Name, set.UID}
}

func podOwner(pod *corev1.Pod) claimOwner { return claimOwner{podKind, pod.Name, pod.UID} }

// names reports whether ref points at the owner's kind and name, whatever
// its UID.
func (o claimOwner) names(ref *metav1.OwnerReference) bool {
	return ref.APIVersion == o.gvk.GroupVersion().String() && ref.Kind == o.gvk.Kind && ref.Name == o.name
}

func (o claimOwner) ref() metav1.OwnerReference {
	t, f := true, true
	return metav1.OwnerReference{APIVersion: o.gvk.GroupVersion().String(), Kind: o.gvk.Kind, Name: o.name, UID: o.uid,
		Controller: &t, BlockOwnerDeletion: &f}
}

// staleRef reports whether the claim references the owner's name with
// another UID: it belonged to an earlier object of that name.
func staleRef(claim *corev1.PersistentVolumeClaim, o claimOwner) bool {
	for i := range claim.OwnerReferences {
		if o.names(&claim.OwnerReferences[i]) {
			return claim.OwnerReferences[i].UID != o.uid
		}
	}
	return false
}

func hasRef(claim *corev1.PersistentVolumeClaim, uid types.UID) bool {
	for _, r := range claim.OwnerReferences {
		if r.UID == uid {
			return true
		}
	}
	return false
}

// foreignController reports whether, under a policy that deletes claims,
// someone other than the set and the pod controls the claim; the retention
// policy then leaves the claim alone.
func foreignController(claim *corev1.PersistentVolumeClaim, set, pod claimOwner, p appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy) bool {
	if p.WhenDeleted == appsv1.RetainPersistentVolumeClaimRetentionPolicyType && p.WhenScaled == appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		return false
	}
	for i := range claim.OwnerReferences {
		r := &claim.OwnerReferences[i]
		switch {
		case set.names(r):
			if r.UID != set.uid {
				return true
			}
		case pod.names(r):
			if r.UID != pod.uid {
				return true
			}
		case r.Controller != nil && *r.Controller:
			return true
		}
	}
	return false
}

// wantedOwners says which of set and pod should own a claim under the
// retention policy: the set when claims go with the set (and the pod is
// not scaled away under WhenScaled=Delete), the pod when claims go with
// pods removed by a scale down.
func wantedOwners(p appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy, condemned bool) (bySet, byPod bool) {
	scaledDelete := p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	deletedDelete := p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	byPod = scaledDelete && condemned
	bySet = deletedDelete && !byPod
	return bySet, byPod
}

// claimOwnersUpToDate reports whether the claim's owner references follow
// the retention policy for a pod that is (condemned) or is not being
// scaled away. Claims with stale references or a foreign controller are
// left as they are.
func claimOwnersUpToDate(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod, condemned bool) bool {
	so, po := setOwner(set), podOwner(pod)
	if staleRef(claim, so) || staleRef(claim, po) {
		return true
	}
	p := retention(set)
	if foreignController(claim, so, po, p) {
		return !hasRef(claim, set.UID) && !hasRef(claim, pod.UID)
	}
	for _, r := range claim.OwnerReferences {
		if (r.UID == set.UID || r.UID == pod.UID) && (r.Controller == nil || !*r.Controller) {
			return false
		}
	}
	bySet, byPod := wantedOwners(p, condemned)
	return hasRef(claim, set.UID) == bySet && hasRef(claim, pod.UID) == byPod
}

// claimOwners returns the claim's owner references rewritten to follow the
// retention policy: references to the set and the pod are dropped, then
// the wanted ones added as controller references.
func claimOwners(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod, condemned bool) []metav1.OwnerReference {
	so, po := setOwner(set), podOwner(pod)
	p := retention(set)
	foreign := foreignController(claim, so, po, p)
	var refs []metav1.OwnerReference
	for i := range claim.OwnerReferences {
		r := &claim.OwnerReferences[i]
		if !so.names(r) && !po.names(r) {
			refs = append(refs, *r)
		}
	}
	if foreign {
		return refs
	}
	bySet, byPod := wantedOwners(p, condemned)
	if bySet {
		refs = append(refs, so.ref())
	}
	if byPod {
		refs = append(refs, po.ref())
	}
	return refs
}

func isRunningAndReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && ctrlutil.IsPodReady(pod)
}

func isHealthy(pod *corev1.Pod) bool { return isRunningAndReady(pod) && pod.DeletionTimestamp == nil }

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
