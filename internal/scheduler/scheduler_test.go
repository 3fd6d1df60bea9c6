package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// newFakeCluster returns a fake API whose pods/binding sets spec.nodeName,
// as the real API server does.
func newFakeCluster(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		obj, err := cs.Tracker().Get(v1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*v1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue})
		return true, nil, cs.Tracker().Update(v1.SchemeGroupVersion.WithResource("pods"), p, b.Namespace)
	})
	return cs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func getPod(t *testing.T, cs *fake.Clientset, name string) *v1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func findEvent(cs *fake.Clientset, reason, message string) bool {
	evs, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, e := range evs.Items {
		if e.Reason == reason && e.Message == message && e.Source.Component == DefaultSchedulerName {
			return true
		}
	}
	return false
}

func TestSchedulerBindsAndReportsFailures(t *testing.T) {
	cs := newFakeCluster(t,
		testNode("a", "2"), testNode("b", "2"),
		testPod("p1", "", "1"), testPod("p2", "", "1"), testPod("p3", "", "1"),
		testPod("big", "", "3"),
		func() *v1.Pod { p := testPod("other", "", ""); p.Spec.SchedulerName = "someone-else"; return p }(),
	)
	s, err := New(Config{Client: cs, SchedulerName: DefaultSchedulerName})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	}()

	// Three 1-cpu pods on two 2-cpu nodes: assumed pods must be counted,
	// or back-to-back cycles would stack them on one node.
	waitFor(t, "p1..p3 bound", func() bool {
		for _, n := range []string{"p1", "p2", "p3"} {
			if getPod(t, cs, n).Spec.NodeName == "" {
				return false
			}
		}
		return true
	})
	perNode := map[string]int{}
	for _, n := range []string{"p1", "p2", "p3"} {
		p := getPod(t, cs, n)
		perNode[p.Spec.NodeName]++
		msg := "Successfully assigned default/" + n + " to " + p.Spec.NodeName
		waitFor(t, "Scheduled event for "+n, func() bool { return findEvent(cs, "Scheduled", msg) })
	}
	if perNode["a"] > 2 || perNode["b"] > 2 {
		t.Fatalf("overcommitted: %v", perNode)
	}

	const want = "0/2 nodes are available: 2 Insufficient cpu. no new claims to deallocate, " +
		"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	waitFor(t, "big marked unschedulable", func() bool {
		for _, c := range getPod(t, cs, "big").Status.Conditions {
			if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && c.Reason == "Unschedulable" && c.Message == want {
				return true
			}
		}
		return false
	})
	waitFor(t, "FailedScheduling event", func() bool { return findEvent(cs, "FailedScheduling", want) })

	// A bigger node arrives: the pod is retried at once, not after its
	// back-off.
	if _, err := cs.CoreV1().Nodes().Create(ctx, testNode("c", "4"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "big bound to c", func() bool { return getPod(t, cs, "big").Spec.NodeName == "c" })
	t.Logf("big bound %v after node c appeared", time.Since(start))

	if n := getPod(t, cs, "other").Spec.NodeName; n != "" {
		t.Errorf("pod of another scheduler bound to %q", n)
	}
}

func TestSchedulerPreemptsLowerPriority(t *testing.T) {
	low := testPod("low", "a", "1500m")
	lp := int32(1)
	low.Spec.Priority = &lp
	high := testPod("high", "", "1")
	hp := int32(1000)
	high.Spec.Priority = &hp
	cs := newFakeCluster(t, testNode("a", "2"), low, high)
	s, err := New(Config{Client: cs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "high bound to a", func() bool { return getPod(t, cs, "high").Spec.NodeName == "a" })
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "low", metav1.GetOptions{}); err == nil {
		t.Fatal("victim still exists")
	}
	waitFor(t, "Preempted event", func() bool {
		evs, _ := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.Reason == "Preempted" && e.InvolvedObject.Name == "low" && strings.HasPrefix(e.Message, "Preempted by pod "+string(high.UID)+" on node a") {
				return true
			}
		}
		return false
	})
}

func TestSchedulingGatesPark(t *testing.T) {
	gated := testPod("gated", "", "")
	gated.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	cs := newFakeCluster(t, testNode("a", "2"), gated)
	s, err := New(Config{Client: cs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "SchedulingGated condition", func() bool {
		for _, c := range getPod(t, cs, "gated").Status.Conditions {
			if c.Type == v1.PodScheduled && c.Reason == "SchedulingGated" && c.Message == "Scheduling is blocked due to non-empty scheduling gates" {
				return true
			}
		}
		return false
	})
	p := getPod(t, cs, "gated")
	p.Spec.SchedulingGates = nil
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gated pod bound once ungated", func() bool { return getPod(t, cs, "gated").Spec.NodeName == "a" })
}
