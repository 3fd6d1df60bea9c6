package daemonset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"

	"github.com/kedge-dev/kedge/internal/scheduler/plugins"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// TemplateGenerationLabel carries the DaemonSet's template generation on
// its pods (from the deprecated.daemonset.template.generation annotation).
const TemplateGenerationLabel = "pod-template-generation"

// nodeNameField is the node field a pod's node affinity can select on.
const nodeNameField = "metadata.name"

// daemonTolerations are the tolerations every daemon pod gets, in
// upstream's order: a node's problems must not evict or keep out the pods
// that often deal with them. network-unavailable is for hostNetwork pods.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

var networkUnavailable = corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

// AddDaemonTolerations adds the daemon tolerations to spec: one that
// matches an existing toleration (same key, operator, value, effect)
// replaces it, the others are appended.
func AddDaemonTolerations(spec *corev1.PodSpec) {
	add := func(t corev1.Toleration) {
		for i := range spec.Tolerations {
			if spec.Tolerations[i].MatchToleration(&t) {
				spec.Tolerations[i] = t
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
	for _, t := range daemonTolerations {
		add(t)
	}
	if spec.HostNetwork {
		add(networkUnavailable)
	}
}

// NodeAffinityFor returns affinity with its required node affinity
// replaced by one term selecting the node by name (metadata.name In
// [node]); the scheduler then binds the pod there. The controller checked
// that the node satisfies the template's own node affinity.
func NodeAffinityFor(affinity *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: nodeNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	if affinity == nil {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}}
	}
	out := affinity.DeepCopy()
	if out.NodeAffinity == nil {
		out.NodeAffinity = &corev1.NodeAffinity{}
	}
	out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return out
}

// TargetNode is the node a daemon pod is for: spec.nodeName once bound,
// else the node its affinity names ("" when neither).
func TargetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == nodeNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// templateGeneration reads the template generation annotation (nil when
// absent or unreadable).
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// IsUpdated reports whether a pod runs the DaemonSet's current template:
// its revision hash label equals hash, or its template generation label
// equals the DaemonSet's.
func IsUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	byGen := generation != nil && pod.Labels[TemplateGenerationLabel] == strconv.FormatInt(*generation, 10)
	byHash := hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash
	return byGen || byHash
}

// NewPod builds the daemon pod for node: the template with the daemon
// tolerations, the pod-template-generation and controller-revision-hash
// labels, a node affinity for that node, generateName "<ds>-" and the
// controller reference.
func NewPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	AddDaemonTolerations(&t.Spec)
	lbls := make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		lbls[k] = v
	}
	if g := templateGeneration(ds); g != nil {
		lbls[TemplateGenerationLabel] = strconv.FormatInt(*g, 10)
	}
	if hash != "" {
		lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	t.Spec.Affinity = NodeAffinityFor(t.Spec.Affinity, node)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podPrefix(ds.Name),
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Spec: t.Spec,
	}
}

func podPrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return name
	}
	return prefix
}

// ShouldRun checks a node against a DaemonSet: shouldRun says a daemon pod
// belongs there (node name, node selector and required node affinity
// match, and every NoSchedule/NoExecute taint is tolerated);
// shouldContinueRunning says a pod already there may stay (only an
// untolerated NoExecute taint drives it away).
func ShouldRun(ds *appsv1.DaemonSet, node *corev1.Node) (shouldRun, shouldContinueRunning bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	pod := &corev1.Pod{Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Spec.NodeName = node.Name
	AddDaemonTolerations(&pod.Spec)
	if !plugins.MatchesNodeSelectorAndAffinity(pod, node) {
		return false, false
	}
	untolerated := func(effects ...corev1.TaintEffect) bool {
		for i := range node.Spec.Taints {
			taint := &node.Spec.Taints[i]
			relevant := false
			for _, e := range effects {
				relevant = relevant || taint.Effect == e
			}
			if relevant && !tolerated(pod.Spec.Tolerations, taint) {
				return true
			}
		}
		return false
	}
	if untolerated(corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute) {
		return false, !untolerated(corev1.TaintEffectNoExecute)
	}
	return true, true
}

func tolerated(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(klog.Background(), taint, true) {
			return true
		}
	}
	return false
}
