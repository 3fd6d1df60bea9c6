package scheduler

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testNode(name, cpu string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse(cpu),
				v1.ResourceMemory: resource.MustParse("4Gi"),
				v1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

func testPod(name, node, cpu string) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{NodeName: node, SchedulerName: DefaultSchedulerName, Containers: []v1.Container{{
			Name: "c", Image: "localhost/busybox:1.36",
		}}},
	}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}
	}
	return p
}

func TestCacheAssumedPodsCountUntilForgotten(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := newSchedulerCache(clk.now)
	c.SetNode(testNode("b", "2"))
	c.SetNode(testNode("a", "2"))
	c.SetPod(testPod("running", "a", "500m"))
	c.Assume(testPod("assumed", "a", "1"))

	snap := c.Snapshot()
	if len(snap.Nodes) != 2 || snap.Nodes[0].Name() != "a" {
		t.Fatalf("nodes not sorted: %v", snap.Nodes)
	}
	if got := snap.Nodes[0].Requested.MilliCPU; got != 1500 {
		t.Fatalf("node a requested %dm, want 1500m (running + assumed)", got)
	}
	if !c.IsAssumed("uid-assumed") {
		t.Fatal("pod not assumed")
	}

	c.Forget("uid-assumed")
	if got := c.Snapshot().Nodes[0].Requested.MilliCPU; got != 500 {
		t.Fatalf("after Forget: %dm, want 500m", got)
	}
	c.Forget("uid-running") // Forget never drops confirmed pods
	if got := c.Snapshot().Nodes[0].Requested.MilliCPU; got != 500 {
		t.Fatalf("Forget dropped a confirmed pod: %dm", got)
	}
}

func TestCacheConfirmAndExpire(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := newSchedulerCache(clk.now)
	c.SetNode(testNode("a", "2"))

	c.Assume(testPod("p1", "a", "1"))
	c.FinishBinding("uid-p1")
	c.SetPod(testPod("p1", "a", "1")) // the informer shows it bound
	if c.IsAssumed("uid-p1") {
		t.Fatal("confirmed pod still assumed")
	}

	c.Assume(testPod("p2", "a", "500m"))
	c.FinishBinding("uid-p2")
	clk.t = clk.t.Add(assumedTTL + time.Second)
	if got := c.Snapshot().Nodes[0].Requested.MilliCPU; got != 1000 {
		t.Fatalf("requested %dm, want 1000m (p1 kept, p2 expired)", got)
	}
}

func TestCachePodsOfUnknownNodesAreIgnored(t *testing.T) {
	c := newSchedulerCache(nil)
	c.SetNode(testNode("a", "2"))
	c.SetPod(testPod("x", "gone", "1"))
	if got := c.Snapshot().Nodes[0].Requested.MilliCPU; got != 0 {
		t.Fatalf("requested %dm", got)
	}
	c.RemoveNode("a")
	if n := len(c.Snapshot().Nodes); n != 0 {
		t.Fatalf("%d nodes after removal", n)
	}
}
