package nodelifecycle

import (
	"reflect"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrltest"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func readyNode(status corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: metav1.NewTime(t0)},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(t0)},
		}},
	}
}

func lease(renew time.Time) *coordinationv1.Lease {
	ts := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: LeaseNamespace}, Spec: coordinationv1.LeaseSpec{RenewTime: &ts}}
}

func TestHealthUsesLocalObservationTime(t *testing.T) {
	h := NewHealth()
	n := readyNode(corev1.ConditionTrue)
	if got := h.Observe(n, lease(t0), t0); !got.Equal(t0) {
		t.Fatalf("first observation = %v", got)
	}
	// Same renewTime later: still last seen at t0.
	if got := h.Observe(n, lease(t0), t0.Add(30*time.Second)); !got.Equal(t0) {
		t.Errorf("unchanged lease moved lastSeen to %v", got)
	}
	// A renewal, even one stamped in the past by a skewed clock, counts now.
	at := t0.Add(50 * time.Second)
	if got := h.Observe(n, lease(t0.Add(-time.Hour)), at); !got.Equal(at) {
		t.Errorf("renewal observed at %v, want %v", got, at)
	}
	if Expired(n, at, DefaultGracePeriod, DefaultStartupGracePeriod, at.Add(39*time.Second)) {
		t.Error("expired within the grace period")
	}
	if !Expired(n, at, DefaultGracePeriod, DefaultStartupGracePeriod, at.Add(41*time.Second)) {
		t.Error("not expired after the grace period")
	}
	fresh := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
	if Expired(fresh, at, DefaultGracePeriod, DefaultStartupGracePeriod, at.Add(50*time.Second)) {
		t.Error("a node that never posted Ready gets the startup grace period")
	}
}

func TestMarkUnknown(t *testing.T) {
	now := t0.Add(time.Minute)
	conds, changed := MarkUnknown(readyNode(corev1.ConditionTrue), now)
	if !changed {
		t.Fatal("want changes")
	}
	byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range conds {
		byType[c.Type] = c
	}
	ready := byType[corev1.NodeReady]
	if ready.Status != corev1.ConditionUnknown || ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." ||
		!ready.LastTransitionTime.Time.Equal(now) || !ready.LastHeartbeatTime.Time.Equal(t0) {
		t.Errorf("Ready = %+v", ready)
	}
	disk := byType[corev1.NodeDiskPressure]
	if disk.Status != corev1.ConditionUnknown || disk.Reason != "NodeStatusNeverUpdated" || disk.Message != "Kubelet never posted node status." {
		t.Errorf("DiskPressure = %+v", disk)
	}
	if len(conds) != 4 {
		t.Errorf("conditions = %d, want Ready, MemoryPressure, DiskPressure, PIDPressure", len(conds))
	}
	n := readyNode(corev1.ConditionTrue)
	n.Status.Conditions = conds
	if _, changed := MarkUnknown(n, now.Add(time.Minute)); changed {
		t.Error("already Unknown: nothing to change")
	}
}

func TestTaints(t *testing.T) {
	custom := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	notReadyNS := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	unreachNS := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	unreachNE := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	notReadyNE := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	cordoned := readyNode(corev1.ConditionTrue)
	cordoned.Spec.Unschedulable = true
	pressure := readyNode(corev1.ConditionTrue)
	pressure.Status.Conditions[1].Status = corev1.ConditionTrue

	tests := []struct {
		name    string
		node    *corev1.Node
		want    []corev1.Taint
		changed bool
	}{
		{"ready node loses the registration taint", readyNode(corev1.ConditionTrue, custom, notReadyNS), []corev1.Taint{custom}, true},
		{"ready node without taints", readyNode(corev1.ConditionTrue), nil, false},
		{"unreachable", readyNode(corev1.ConditionUnknown, custom), []corev1.Taint{custom, unreachNS, unreachNE}, true},
		{"unreachable already tainted", readyNode(corev1.ConditionUnknown, unreachNS, unreachNE), []corev1.Taint{unreachNS, unreachNE}, false},
		{"not ready replaces unreachable", readyNode(corev1.ConditionFalse, unreachNS, unreachNE), []corev1.Taint{notReadyNS, notReadyNE}, true},
		{"cordoned", cordoned, []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}, true},
		{"memory pressure", pressure, []corev1.Taint{{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Taints(tt.node, t0)
			for i := range got {
				got[i].TimeAdded = nil
			}
			if changed != tt.changed || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Taints = %v (changed %v), want %v (changed %v)", got, changed, tt.want, tt.changed)
			}
		})
	}
	got, _ := Taints(readyNode(corev1.ConditionUnknown), t0)
	if got[1].TimeAdded == nil || got[0].TimeAdded != nil {
		t.Error("NoExecute taints carry timeAdded, NoSchedule ones do not")
	}
}

func TestControllerMarksSilentNode(t *testing.T) {
	now := t0
	node := readyNode(corev1.ConditionTrue, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	cs := ctrltest.NewClientset(node, lease(t0), pod)
	f := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(20)
	c, err := New(Options{Client: cs, Informers: f, Recorder: rec, Workers: 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctrltest.StartInformers(t, f)

	// Ready kubelet: the registration taint goes, nothing else happens.
	if err := c.sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if len(got.Spec.Taints) != 0 {
		t.Errorf("taints on a ready node: %v", got.Spec.Taints)
	}

	// 41 s of silence.
	now = t0.Add(41 * time.Second)
	ctrltest.Eventually(t, "cache sees the untainted node", func() bool {
		n, _ := c.nodeLister.Get("n1")
		return len(n.Spec.Taints) == 0
	})
	if err := c.sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	got, _ = cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if r := nodeCondition(&got.Status, corev1.NodeReady); r.Status != corev1.ConditionUnknown || r.Reason != ReasonStatusUnknown {
		t.Errorf("Ready = %+v", r)
	}
	var keys []string
	for _, tn := range got.Spec.Taints {
		keys = append(keys, tn.Key+":"+string(tn.Effect))
	}
	if want := []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("taints = %v, want %v", keys, want)
	}
	p, _ := cs.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("pod still ready: %+v", p.Status.Conditions)
	}
	events := ctrltest.Drain(rec.Events)
	want := []string{
		"Normal RegisteredNode Node n1 event: Registered Node n1 in Controller",
		"Normal NodeNotReady Node n1 status is now: NodeNotReady",
		"Warning NodeNotReady Node is not ready",
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events = %q\nwant %q", events, want)
	}
}
