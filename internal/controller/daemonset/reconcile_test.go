package daemonset

import (
	"reflect"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type dsOpt func(*appsv1.DaemonSet)

func withImage(img string) dsOpt {
	return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = img }
}
func withSurge(v intstr.IntOrString) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &v, MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	}
}
func withUnavailable(v intstr.IntOrString) dsOpt {
	return func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &v }
}
func withNodeSelector(sel map[string]string) dsOpt {
	return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = sel }
}

func testDS(opts ...dsOpt) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 1,
			Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "busybox:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr.To(int32(10)),
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

type nodeOpt func(*corev1.Node)

func taint(key string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}
func nodeLabels(l map[string]string) nodeOpt { return func(n *corev1.Node) { n.Labels = l } }

func node(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

type podOpt func(*corev1.Pod)

func readyFor(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-d))}}
	}
}

var ready = readyFor(time.Hour)

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func age(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-d)) }
}
func deleting(p *corev1.Pod)    { p.DeletionTimestamp = &metav1.Time{Time: t0} }
func unscheduled(p *corev1.Pod) { p.Spec.NodeName = "" }

// dsPod is a daemon pod of ds with the given hash on the node.
func dsPod(ds *appsv1.DaemonSet, name, nodeName, hash string, opts ...podOpt) *corev1.Pod {
	p := NewPod(ds, nodeName, hash)
	p.Name = name
	p.UID = types.UID("uid-" + name)
	p.Spec.NodeName = nodeName
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestShouldRun(t *testing.T) {
	hostNet := testDS()
	hostNet.Spec.Template.Spec.HostNetwork = true
	tolerating := testDS()
	tolerating.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	affinity := testDS()
	affinity.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
	pinned := testDS()
	pinned.Spec.Template.Spec.NodeName = "n2"

	tests := []struct {
		name           string
		ds             *appsv1.DaemonSet
		node           *corev1.Node
		run, keepGoing bool
	}{
		{"plain node", testDS(), node("n1"), true, true},
		{"node selector matches", testDS(withNodeSelector(map[string]string{"role": "edge"})), node("n1", nodeLabels(map[string]string{"role": "edge"})), true, true},
		{"node selector does not match", testDS(withNodeSelector(map[string]string{"role": "edge"})), node("n1"), false, false},
		{"required affinity does not match", affinity, node("n1", nodeLabels(map[string]string{"zone": "b"})), false, false},
		{"required affinity matches", affinity, node("n1", nodeLabels(map[string]string{"zone": "a"})), true, true},
		{"template nodeName elsewhere", pinned, node("n1"), false, false},
		{"untolerated NoSchedule: no new pod, keep the old", testDS(), node("n1", taint("dedicated", corev1.TaintEffectNoSchedule)), false, true},
		{"untolerated NoExecute: none at all", testDS(), node("n1", taint("dedicated", corev1.TaintEffectNoExecute)), false, false},
		{"PreferNoSchedule is ignored", testDS(), node("n1", taint("dedicated", corev1.TaintEffectPreferNoSchedule)), true, true},
		{"template toleration", tolerating, node("n1", taint("dedicated", corev1.TaintEffectNoSchedule)), true, true},
		{"automatic: unschedulable", testDS(), node("n1", taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), true, true},
		{"automatic: not-ready NoExecute", testDS(), node("n1", taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)), true, true},
		{"automatic: pressures", testDS(), node("n1", taint(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule),
			taint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule), taint(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)), true, true},
		{"not-ready NoSchedule is not tolerated", testDS(), node("n1", taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)), false, true},
		{"network-unavailable only for hostNetwork", testDS(), node("n1", taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), false, true},
		{"network-unavailable with hostNetwork", hostNet, node("n1", taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, keep := ShouldRun(tt.ds, tt.node)
			if run != tt.run || keep != tt.keepGoing {
				t.Errorf("ShouldRun = %v, %v; want %v, %v", run, keep, tt.run, tt.keepGoing)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	ds := testDS()
	ds.Spec.Template.Spec.HostNetwork = true
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(30))},
		{Key: "dedicated", Operator: corev1.TolerationOpExists},
	}
	p := NewPod(ds, "n1", "5d4c8")
	if p.GenerateName != "agent-" || p.Namespace != "default" {
		t.Errorf("generateName %q namespace %q", p.GenerateName, p.Namespace)
	}
	want := map[string]string{"app": "agent", "pod-template-generation": "1", "controller-revision-hash": "5d4c8"}
	if !reflect.DeepEqual(p.Labels, want) {
		t.Errorf("labels = %v", p.Labels)
	}
	var keys []string
	for _, tol := range p.Spec.Tolerations {
		keys = append(keys, tol.Key+":"+string(tol.Effect))
	}
	wantKeys := []string{"node.kubernetes.io/not-ready:NoExecute", "dedicated:", "node.kubernetes.io/unreachable:NoExecute",
		"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule",
		"node.kubernetes.io/unschedulable:NoSchedule", "node.kubernetes.io/network-unavailable:NoSchedule"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("tolerations = %v\nwant %v", keys, wantKeys)
	}
	if p.Spec.Tolerations[0].TolerationSeconds != nil {
		t.Error("the automatic not-ready toleration replaces the template's bounded one")
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	wantTerms := []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}
	if !reflect.DeepEqual(terms, wantTerms) {
		t.Errorf("node affinity = %+v", terms)
	}
	if TargetNode(p) != "n1" || p.Spec.NodeName != "" {
		t.Errorf("target %q nodeName %q", TargetNode(p), p.Spec.NodeName)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "DaemonSet" || ref.UID != "ds-uid" || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", p.OwnerReferences)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 2 || ds.Spec.Template.Spec.Affinity != nil {
		t.Error("the template must not be modified")
	}
}

func TestManage(t *testing.T) {
	ds := testDS()
	const h = "h1"
	tests := []struct {
		name       string
		ds         *appsv1.DaemonSet
		nodes      []*corev1.Node
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
		wantFailed []string
	}{
		{"one pod per node", ds, []*corev1.Node{node("n2"), node("n1")}, nil, []string{"n1", "n2"}, nil, nil},
		{"nodes with a pod are left alone", ds, []*corev1.Node{node("n1"), node("n2")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, ready)}, []string{"n2"}, nil, nil},
		{"unscheduled pod counts for its node", ds, []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, unscheduled)}, nil, nil, nil},
		{"extra pods: the oldest stays", ds, []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "new", "n1", h, age(time.Minute)), dsPod(ds, "old", "n1", h, age(time.Hour))}, nil, []string{"new"}, nil},
		{"misplaced pod goes", testDS(withNodeSelector(map[string]string{"role": "edge"})), []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, ready)}, nil, []string{"a"}, nil},
		{"NoSchedule taint keeps a running pod", ds, []*corev1.Node{node("n1", taint("x", corev1.TaintEffectNoSchedule))},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, ready)}, nil, nil, nil},
		{"failed pod is reported for deletion", ds, []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, phase(corev1.PodFailed))}, nil, nil, []string{"a"}},
		{"terminating pod: wait", ds, []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, ready, deleting)}, nil, nil, nil},
		{"unscheduled pod for a deleted node goes", ds, []*corev1.Node{node("n1")},
			[]*corev1.Pod{dsPod(ds, "a", "n1", h, ready), dsPod(ds, "b", "gone", h, unscheduled)}, nil, []string{"b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Manage(tt.ds, tt.nodes, PodsByNode(tt.pods, false), h, t0)
			if !reflect.DeepEqual(plan.Create, tt.wantCreate) {
				t.Errorf("create = %v, want %v", plan.Create, tt.wantCreate)
			}
			want := tt.wantDelete
			if want == nil {
				want = []string{}
			}
			if got := names(plan.Delete); !reflect.DeepEqual(got, want) {
				t.Errorf("delete = %v, want %v", got, want)
			}
			wantF := tt.wantFailed
			if wantF == nil {
				wantF = []string{}
			}
			if got := names(plan.Failed); !reflect.DeepEqual(got, wantF) {
				t.Errorf("failed = %v, want %v", got, wantF)
			}
		})
	}
}

func TestRollingUpdate(t *testing.T) {
	old := testDS()
	const h = "new"
	three := []*corev1.Node{node("n1"), node("n2"), node("n3")}
	v2 := func(opts ...dsOpt) *appsv1.DaemonSet {
		ds := testDS(append([]dsOpt{withImage("busybox:2")}, opts...)...)
		ds.Annotations[appsv1.DeprecatedTemplateGeneration] = "2"
		return ds
	}
	tests := []struct {
		name       string
		ds         *appsv1.DaemonSet
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
	}{
		{"maxUnavailable 1: one old pod at a time", v2(), []*corev1.Pod{
			dsPod(old, "a", "n1", "old", ready), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)}, nil, []string{"a"}},
		{"waits while a new pod is unavailable", v2(), []*corev1.Pod{
			dsPod(old, "a", "n1", h), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)}, nil, []string{}},
		{"unavailable old pods are replaced regardless", v2(), []*corev1.Pod{
			dsPod(old, "a", "n1", h), dsPod(old, "b", "n2", "old"), dsPod(old, "c", "n3", "old", ready)}, nil, []string{"b"}},
		{"maxUnavailable 2", v2(withUnavailable(intstr.FromInt32(2))), []*corev1.Pod{
			dsPod(old, "a", "n1", "old", ready), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)}, nil, []string{"a", "b"}},
		{"generation label alone counts as updated", v2(), []*corev1.Pod{
			func() *corev1.Pod {
				p := dsPod(old, "a", "n1", "other", ready)
				p.Labels[TemplateGenerationLabel] = "2"
				return p
			}(), dsPod(old, "b", "n2", h, ready), dsPod(old, "c", "n3", h, ready)}, nil, []string{}},
		{"surge: new pod beside the old one", v2(withSurge(intstr.FromInt32(1))), []*corev1.Pod{
			dsPod(old, "a", "n1", "old", ready), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)}, []string{"n1"}, []string{}},
		{"surge: old pod goes once the new one is available", v2(withSurge(intstr.FromInt32(1))), []*corev1.Pod{
			dsPod(old, "a", "n1", "old", ready), dsPod(old, "a2", "n1", h, ready), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)},
			[]string{"n2"}, []string{"a"}},
		{"surge: waits on an unavailable new pod", v2(withSurge(intstr.FromInt32(1))), []*corev1.Pod{
			dsPod(old, "a", "n1", "old", ready), dsPod(old, "a2", "n1", h), dsPod(old, "b", "n2", "old", ready), dsPod(old, "c", "n3", "old", ready)},
			nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := RollingUpdate(tt.ds, three, PodsByNode(tt.pods, false), h, t0)
			if !reflect.DeepEqual(plan.Create, tt.wantCreate) {
				t.Errorf("create = %v, want %v", plan.Create, tt.wantCreate)
			}
			want := tt.wantDelete
			if want == nil {
				want = []string{}
			}
			if got := names(plan.Delete); !reflect.DeepEqual(got, want) {
				t.Errorf("delete = %v, want %v", got, want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	ds := testDS(withNodeSelector(map[string]string{"role": "edge"}))
	ds.Spec.MinReadySeconds = 60
	edge := map[string]string{"role": "edge"}
	nodes := []*corev1.Node{node("n1", nodeLabels(edge)), node("n2", nodeLabels(edge)), node("n3", nodeLabels(edge)), node("n4")}
	pods := []*corev1.Pod{
		dsPod(ds, "a", "n1", "h1", ready),
		dsPod(ds, "b", "n2", "h0", readyFor(10*time.Second), func(p *corev1.Pod) { p.Labels[TemplateGenerationLabel] = "0" }),
		dsPod(ds, "stray", "n4", "h1", ready),
	}
	got := Status(ds, nodes, PodsByNode(pods, false), "h1", t0)
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 2, NumberMisscheduled: 1, NumberReady: 2,
		UpdatedNumberScheduled: 1, NumberAvailable: 1, NumberUnavailable: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status = %+v\nwant %+v", got, want)
	}
}

func TestPlanHistory(t *testing.T) {
	v1, v2 := testDS(), testDS(withImage("busybox:2"))
	r1, _ := NewRevision(v1, 1)
	r2, _ := NewRevision(v2, 2)

	t.Run("first revision", func(t *testing.T) {
		hp, err := PlanHistory(v1, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := hp.Current
		if !hp.Create || c.Revision != 1 || c.Name != "agent-"+c.Labels["controller-revision-hash"] || c.Labels["app"] != "agent" {
			t.Errorf("current = %+v", c)
		}
		if c.Annotations[appsv1.DeprecatedTemplateGeneration] != "1" || metav1.GetControllerOf(c).UID != "ds-uid" {
			t.Errorf("annotations %v owners %+v", c.Annotations, c.OwnerReferences)
		}
	})
	t.Run("unchanged", func(t *testing.T) {
		hp, _ := PlanHistory(v2, []*appsv1.ControllerRevision{r1, r2}, nil)
		if hp.Create || len(hp.Updates) != 0 || hp.Current.Name != r2.Name || len(hp.Old) != 1 {
			t.Errorf("plan = %+v", hp)
		}
	})
	t.Run("rollback renumbers", func(t *testing.T) {
		hp, _ := PlanHistory(v1, []*appsv1.ControllerRevision{r1, r2}, nil)
		if hp.Create || hp.Current.Name != r1.Name || hp.Current.Revision != 3 || len(hp.Updates) != 1 || r1.Revision != 1 {
			t.Errorf("plan = %+v", hp)
		}
	})
	t.Run("duplicates collapse into the newest", func(t *testing.T) {
		dup := r1.DeepCopy()
		dup.Name, dup.Revision = "agent-dup", 3
		dup.Labels["controller-revision-hash"] = "dup"
		pod := dsPod(v1, "a", "n1", r1.Labels["controller-revision-hash"])
		hp, _ := PlanHistory(v1, []*appsv1.ControllerRevision{r1, dup, r2}, []*corev1.Pod{pod})
		if hp.Current.Name != "agent-dup" || len(hp.Deletes) != 1 || hp.Deletes[0].Name != r1.Name || len(hp.Relabel) != 1 {
			t.Errorf("plan = current %s deletes %v relabel %v", hp.Current.Name, hp.Deletes, hp.Relabel)
		}
	})
	t.Run("history limit keeps revisions pods still run", func(t *testing.T) {
		ds := testDS()
		ds.Spec.RevisionHistoryLimit = ptr.To(int32(1))
		var old []*appsv1.ControllerRevision
		for i := 1; i <= 4; i++ {
			old = append(old, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "r" + string(rune('0'+i)),
				Labels: map[string]string{"controller-revision-hash": "h" + string(rune('0'+i))}}, Revision: int64(i)})
		}
		pods := []*corev1.Pod{dsPod(ds, "a", "n1", "h1")}
		var got []string
		for _, r := range HistoryToDelete(ds, old, pods) {
			got = append(got, r.Name)
		}
		// Three beyond the limit go; r1 stays for its pod.
		if !reflect.DeepEqual(got, []string{"r2", "r3", "r4"}) {
			t.Errorf("deleted %v, want [r2 r3 r4]", got)
		}
	})
}
