package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func testRS(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "default", UID: "rs-uid", Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "fe"}, Annotations: map[string]string{"a": "b"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func node(n string) podOpt            { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: n}} }
}
func labelsOf(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func cost(c string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{podDeletionCostAnnotation: c} }
}
func readyAt(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(d))}}
	}
}

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web", "tier": "fe"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
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
	return out
}

func TestPlanReplicas(t *testing.T) {
	tests := []struct {
		name       string
		replicas   int32
		pods       []*corev1.Pod
		wantCreate int
		wantDelete []string
	}{
		{"nothing to do", 2, []*corev1.Pod{pod("a"), pod("b")}, 0, nil},
		{"scale up from zero", 3, nil, 3, nil},
		{"scale up the difference", 3, []*corev1.Pod{pod("a")}, 2, nil},
		{"burst is capped", 1000, nil, BurstReplicas, nil},
		{"scale down removes the worst", 1, []*corev1.Pod{pod("ready", readyAt(0)), pod("pending", phase(corev1.PodPending))}, 0, []string{"pending"}},
		{"scale to zero", 0, []*corev1.Pod{pod("a"), pod("b")}, 0, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanReplicas(testRS(tt.replicas), tt.pods, tt.pods, t0)
			if got.Create != tt.wantCreate {
				t.Errorf("Create = %d, want %d", got.Create, tt.wantCreate)
			}
			if tt.wantDelete == nil {
				tt.wantDelete = []string{}
			}
			if d := names(got.Delete); !reflect.DeepEqual(d, tt.wantDelete) {
				t.Errorf("Delete = %v, want %v", d, tt.wantDelete)
			}
		})
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		related []*corev1.Pod
		want    []string
	}{
		{"unscheduled before scheduled", []*corev1.Pod{pod("sched"), pod("unsched", node(""))}, nil, []string{"unsched", "sched"}},
		{"pending before unknown before running", []*corev1.Pod{pod("run"), pod("unk", phase(corev1.PodUnknown)), pod("pend", phase(corev1.PodPending))}, nil, []string{"pend", "unk", "run"}},
		{"not ready before ready", []*corev1.Pod{pod("ready", readyAt(0)), pod("notready")}, nil, []string{"notready", "ready"}},
		{"lower deletion cost first", []*corev1.Pod{pod("keep", cost("100")), pod("cheap", cost("-5"))}, nil, []string{"cheap", "keep"}},
		{"crowded node first", []*corev1.Pod{pod("alone", node("n2")), pod("crowded", node("n1"))},
			[]*corev1.Pod{pod("x", node("n1")), pod("y", node("n1")), pod("z", node("n2"))}, []string{"crowded", "alone"}},
		{"ready more recently first", []*corev1.Pod{pod("old", readyAt(0)), pod("fresh", readyAt(time.Minute))}, nil, []string{"fresh", "old"}},
		{"more restarts first", []*corev1.Pod{pod("calm"), pod("crashy", restarts(5))}, nil, []string{"crashy", "calm"}},
		{"newer first", []*corev1.Pod{pod("older", created(0)), pod("newer", created(time.Hour))}, nil, []string{"newer", "older"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(PodsToDelete(tt.pods, tt.related, len(tt.pods), t0))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	failing := testRS(3)
	failing.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate"}}
	slow := testRS(2)
	slow.Spec.MinReadySeconds = 30

	tests := []struct {
		name     string
		rs       *appsv1.ReplicaSet
		pods     []*corev1.Pod
		err      error
		want     appsv1.ReplicaSetStatus
		wantCond string // reason of the ReplicaFailure condition, "" for none
	}{
		{
			name: "counts ready, available and fully labeled",
			rs:   testRS(3),
			pods: []*corev1.Pod{pod("a", readyAt(-time.Hour)), pod("b"), pod("c", readyAt(0), labelsOf(map[string]string{"app": "web"}))},
			want: appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 2},
		},
		{
			name: "minReadySeconds delays availability",
			rs:   slow,
			pods: []*corev1.Pod{pod("a", readyAt(-time.Minute)), pod("b", readyAt(-10*time.Second))},
			want: appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name:     "create error sets ReplicaFailure",
			rs:       testRS(3),
			err:      errors.New("quota exceeded"),
			want:     appsv1.ReplicaSetStatus{ObservedGeneration: 2},
			wantCond: "FailedCreate",
		},
		{
			name: "success clears ReplicaFailure",
			rs:   failing,
			want: appsv1.ReplicaSetStatus{ObservedGeneration: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Status(tt.rs, tt.pods, 0, tt.err, t0)
			cond := ""
			if c := replicaFailure(&got); c != nil {
				cond = c.Reason
				if c.Message != tt.err.Error() {
					t.Errorf("message = %q", c.Message)
				}
			}
			if cond != tt.wantCond {
				t.Errorf("ReplicaFailure reason = %q, want %q", cond, tt.wantCond)
			}
			got.Conditions = nil
			if got.TerminatingReplicas == nil || *got.TerminatingReplicas != 0 {
				t.Errorf("terminatingReplicas = %v", got.TerminatingReplicas)
			}
			got.TerminatingReplicas = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	p, err := NewPod(testRS(1))
	if err != nil {
		t.Fatal(err)
	}
	if p.GenerateName != "web-abc-" || p.Name != "" {
		t.Errorf("name = %q generateName = %q", p.Name, p.GenerateName)
	}
	if !reflect.DeepEqual(p.Labels, map[string]string{"app": "web", "tier": "fe"}) || p.Annotations["a"] != "b" {
		t.Errorf("labels/annotations not copied: %v %v", p.Labels, p.Annotations)
	}
	want := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "rs-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	if len(p.OwnerReferences) != 1 || !reflect.DeepEqual(p.OwnerReferences[0], want) {
		t.Errorf("ownerReferences = %+v", p.OwnerReferences)
	}
	noLabels := testRS(1)
	noLabels.Spec.Template.Labels = nil
	if _, err := NewPod(noLabels); err == nil {
		t.Error("template without labels must be refused")
	}
}

func TestTerminating(t *testing.T) {
	owned := func(p *corev1.Pod) *corev1.Pod {
		p.OwnerReferences = []metav1.OwnerReference{{UID: "rs-uid", Controller: ptr.To(true)}}
		return p
	}
	gone := metav1.NewTime(t0)
	deleting := owned(pod("deleting"))
	deleting.DeletionTimestamp = &gone
	finished := owned(pod("finished", phase(corev1.PodSucceeded)))
	finished.DeletionTimestamp = &gone
	foreign := pod("foreign")
	foreign.DeletionTimestamp = &gone
	if n := Terminating("rs-uid", []*corev1.Pod{deleting, finished, foreign, owned(pod("running"))}); n != 1 {
		t.Errorf("Terminating = %d, want 1", n)
	}
}
