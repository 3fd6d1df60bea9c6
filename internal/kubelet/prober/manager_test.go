package prober

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeRuntime answers exec probes with exit codes a test sets per command
// and records the calls.
type fakeRuntime struct {
	mu     sync.Mutex
	codes  map[string]int32 // by the command's last word
	calls  []string
	events []string
	called chan string
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{codes: map[string]int32{}, called: make(chan string, 100)}
}

func (f *fakeRuntime) set(cmd string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[cmd] = code
}

func (f *fakeRuntime) exec(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, int32, error) {
	last := cmd[len(cmd)-1]
	f.mu.Lock()
	code := f.codes[last]
	f.calls = append(f.calls, id+" "+last)
	f.mu.Unlock()
	f.called <- last
	if code != 0 {
		return []byte(last + " says no\n"), nil, code, nil
	}
	return []byte("ok"), nil, 0, nil
}

func (f *fakeRuntime) event(_ *v1.Pod, container, eventType, reason, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("%s %s %s: %s", container, eventType, reason, message))
}

func (f *fakeRuntime) eventList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// harness runs a Manager on a fake clock.
type harness struct {
	t       *testing.T
	clock   *clocktesting.FakeClock
	rt      *fakeRuntime
	m       *Manager
	changed chan types.UID
	cancel  context.CancelFunc
	done    chan struct{}
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, clock: clocktesting.NewFakeClock(t0), rt: newFakeRuntime(), changed: make(chan types.UID, 100), done: make(chan struct{})}
	h.m = New(Config{Exec: h.rt.exec, Event: h.rt.event, Clock: h.clock, Changed: func(uid types.UID) { h.changed <- uid }})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.m.Run(ctx); close(h.done) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		h.t.Error("manager did not stop its workers")
	}
}

// waiters waits until n workers are blocked on the clock.
func (h *harness) waiters(n int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.clock.Waiters() != n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d workers waiting on the clock, want %d", h.clock.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// step advances the clock once n workers wait on it.
func (h *harness) step(d time.Duration, n int) {
	h.t.Helper()
	h.waiters(n)
	h.clock.Step(d)
}

// probed waits for the probes cmds (in any order) and nothing else.
func (h *harness) probed(cmds ...string) {
	h.t.Helper()
	want := map[string]int{}
	for _, c := range cmds {
		want[c]++
	}
	for range cmds {
		select {
		case c := <-h.rt.called:
			if want[c] == 0 {
				h.t.Fatalf("unexpected probe %q (want %v)", c, cmds)
			}
			want[c]--
		case <-time.After(5 * time.Second):
			h.t.Fatalf("probes %v did not run", cmds)
		}
	}
}

func (h *harness) noProbe() {
	h.t.Helper()
	select {
	case c := <-h.rt.called:
		h.t.Fatalf("unexpected probe %q", c)
	case <-time.After(20 * time.Millisecond):
	}
}

func (h *harness) wasChanged() {
	h.t.Helper()
	select {
	case <-h.changed:
	case <-time.After(5 * time.Second):
		h.t.Fatal("no change reported")
	}
}

func probePod(c v1.Container) *v1.Pod {
	pod := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{c}}}
	pod.Name, pod.Namespace, pod.UID = "p", "ns", "uid-1"
	return pod
}

func execProbe(cmd string, delay, period, success, failure int32) *v1.Probe {
	return &v1.Probe{
		ProbeHandler:        v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"check", cmd}}},
		InitialDelaySeconds: delay, PeriodSeconds: period, SuccessThreshold: success, FailureThreshold: failure,
	}
}

func TestLivenessFailureAfterThreshold(t *testing.T) {
	h := newHarness(t)
	c := v1.Container{Name: "c", LivenessProbe: execProbe("live", 5, 10, 1, 3)}
	pod := probePod(c)
	h.rt.set("live", 1)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "c", ID: "id1", Running: true, StartedAt: t0}})

	h.step(4*time.Second, 1) // t=4: still in the initial delay
	h.noProbe()
	h.step(time.Second, 1) // t=5
	h.probed("live")
	if _, _, failed := h.m.Failed(pod.UID, "id1"); failed {
		t.Fatal("failed after one failure")
	}
	h.step(10*time.Second, 1) // t=15
	h.probed("live")
	h.step(9*time.Second, 1) // t=24: not a period yet
	h.noProbe()
	h.step(time.Second, 1) // t=25
	h.probed("live")
	h.wasChanged()
	kind, p, failed := h.m.Failed(pod.UID, "id1")
	if !failed || kind != Liveness || p != nil && p.PeriodSeconds != 10 {
		t.Fatalf("Failed = %v %v %v, want a liveness failure", kind, p, failed)
	}
	// The instance is not probed any more: its worker ended.
	h.waiters(0)
	want := "c Warning Unhealthy: Liveness probe failed: live says no\n"
	if ev := h.rt.eventList(); len(ev) != 3 || ev[0] != want {
		t.Errorf("events %q, want 3 of %q", ev, want)
	}
	// Liveness does not make a container unready.
	if started, ready := h.m.Status(pod.UID, &c, "id1"); !started || !ready {
		t.Errorf("started %v ready %v", started, ready)
	}
	// The restarted container is a new instance: alive again.
	h.rt.set("live", 0)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "c", ID: "id1", Running: false}, {Name: "c", ID: "id2", Running: true, StartedAt: t0.Add(25 * time.Second)}})
	if _, _, failed := h.m.Failed(pod.UID, "id2"); failed {
		t.Error("new instance failed")
	}
	h.step(5*time.Second, 1)
	h.probed("live")
}

func TestReadinessThresholds(t *testing.T) {
	h := newHarness(t)
	c := v1.Container{Name: "c", ReadinessProbe: execProbe("ready", 0, 1, 2, 2)}
	pod := probePod(c)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "c", ID: "id1", Running: true, StartedAt: t0}})
	ready := func() bool { _, r := h.m.Status(pod.UID, &c, "id1"); return r }

	h.probed("ready") // at once: no initial delay
	if ready() {
		t.Fatal("ready after one success (successThreshold 2)")
	}
	h.step(time.Second, 1)
	h.probed("ready")
	h.wasChanged()
	if !ready() {
		t.Fatal("not ready after two successes")
	}
	h.rt.set("ready", 1)
	h.step(time.Second, 1)
	h.probed("ready")
	h.waiters(1)
	if !ready() {
		t.Fatal("unready after one failure (failureThreshold 2)")
	}
	h.step(time.Second, 1)
	h.probed("ready")
	h.wasChanged()
	if ready() {
		t.Fatal("still ready after two failures")
	}
	// Readiness keeps probing: back when it succeeds again.
	h.rt.set("ready", 0)
	h.step(time.Second, 1)
	h.probed("ready")
	h.step(time.Second, 1)
	h.probed("ready")
	h.wasChanged()
	if !ready() {
		t.Fatal("not ready again")
	}
	if ev := h.rt.eventList(); len(ev) != 2 || ev[0] != "c Warning Unhealthy: Readiness probe failed: ready says no\n" {
		t.Errorf("events %q", ev)
	}
}

func TestStartupGatesOtherProbes(t *testing.T) {
	h := newHarness(t)
	c := v1.Container{Name: "c",
		StartupProbe:   execProbe("start", 0, 3, 1, 10),
		LivenessProbe:  execProbe("live", 0, 10, 1, 3),
		ReadinessProbe: execProbe("ready", 0, 10, 1, 3),
	}
	pod := probePod(c)
	h.rt.set("start", 1)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "c", ID: "id1", Running: true, StartedAt: t0}})
	status := func() (bool, bool) { return h.m.Status(pod.UID, &c, "id1") }

	h.probed("start")
	h.step(3*time.Second, 3)
	h.probed("start")
	if started, ready := status(); started || ready {
		t.Fatalf("started %v ready %v before the startup probe succeeded", started, ready)
	}
	h.step(7*time.Second, 3) // t=10: liveness and readiness are due but gated
	h.probed("start")        // the startup probe's overdue tick, next at 13
	h.noProbe()
	h.rt.set("start", 0)
	h.step(3*time.Second, 3) // t=13
	// The startup success wakes liveness and readiness at once.
	h.probed("start", "live", "ready")
	h.wasChanged()
	started, ready := status()
	if !started {
		t.Fatal("not started after the startup probe succeeded")
	}
	h.waiters(2) // the startup worker ended
	if !ready {
		// readiness may still be publishing
		h.wasChanged()
		if _, ready = status(); !ready {
			t.Fatal("not ready after the readiness probe succeeded")
		}
	}
	if ev := h.rt.eventList(); len(ev) != 3 || ev[0] != "c Warning Unhealthy: Startup probe failed: start says no\n" {
		t.Errorf("events %q", ev)
	}
}

func TestStartupFailure(t *testing.T) {
	h := newHarness(t)
	c := v1.Container{Name: "c", StartupProbe: execProbe("start", 0, 1, 1, 2), LivenessProbe: execProbe("live", 0, 1, 1, 1)}
	pod := probePod(c)
	h.rt.set("start", 1)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "c", ID: "id1", Running: true, StartedAt: t0}})
	h.probed("start")
	h.step(time.Second, 2)
	h.probed("start")
	h.wasChanged()
	kind, _, failed := h.m.Failed(pod.UID, "id1")
	if !failed || kind != Startup {
		t.Fatalf("Failed = %v %v, want a startup failure", kind, failed)
	}
	if started, _ := h.m.Status(pod.UID, &c, "id1"); started {
		t.Error("started after the startup probe failed")
	}
}

func TestStatusWithoutProbes(t *testing.T) {
	m := New(Config{})
	plain := v1.Container{Name: "c"}
	if started, ready := m.Status("uid", &plain, "id"); !started || !ready {
		t.Errorf("no probes: started %v ready %v, want both", started, ready)
	}
	withReadiness := v1.Container{Name: "c", ReadinessProbe: execProbe("r", 0, 1, 1, 1)}
	if started, ready := m.Status("uid", &withReadiness, "id"); !started || ready {
		t.Errorf("readiness probe not run yet: started %v ready %v, want started, not ready", started, ready)
	}
	withStartup := v1.Container{Name: "c", StartupProbe: execProbe("s", 0, 1, 1, 1)}
	if started, ready := m.Status("uid", &withStartup, "id"); started || ready {
		t.Errorf("startup probe not run yet: started %v ready %v, want neither", started, ready)
	}
}

func TestWorkersStopWithContainerAndPod(t *testing.T) {
	h := newHarness(t)
	a := v1.Container{Name: "a", ReadinessProbe: execProbe("a", 100, 10, 1, 3)}
	b := v1.Container{Name: "b", LivenessProbe: execProbe("b", 100, 10, 1, 3), ReadinessProbe: execProbe("b2", 100, 10, 1, 3)}
	pod := probePod(a)
	pod.Spec.Containers = append(pod.Spec.Containers, b)
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "a", ID: "a1", Running: true, StartedAt: t0}, {Name: "b", ID: "b1", Running: true, StartedAt: t0}})
	h.waiters(3)
	// Same state again: nothing new.
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "a", ID: "a1", Running: true, StartedAt: t0}, {Name: "b", ID: "b1", Running: true, StartedAt: t0}})
	h.waiters(3)
	// b exited: its two workers end.
	h.m.Update(pod, "10.0.0.5", []Container{{Name: "a", ID: "a1", Running: true, StartedAt: t0}, {Name: "b", ID: "b1"}})
	h.waiters(1)
	// The pod goes: every worker ends.
	h.m.RemovePod(pod.UID)
	h.waiters(0)
	if started, ready := h.m.Status(pod.UID, &a, "a1"); !started || ready {
		t.Errorf("removed pod: started %v ready %v", started, ready)
	}
}

func TestSidecarsAreProbed(t *testing.T) {
	h := newHarness(t)
	always := v1.ContainerRestartPolicyAlways
	pod := probePod(v1.Container{Name: "main"})
	pod.Spec.InitContainers = []v1.Container{
		{Name: "init", ReadinessProbe: execProbe("init", 100, 10, 1, 3)}, // not a sidecar: never probed
		{Name: "side", RestartPolicy: &always, StartupProbe: execProbe("side", 100, 10, 1, 3)},
	}
	h.m.Update(pod, "10.0.0.5", []Container{
		{Name: "init", ID: "i1", Running: true, StartedAt: t0},
		{Name: "side", ID: "s1", Running: true, StartedAt: t0},
		{Name: "main", ID: "m1", Running: true, StartedAt: t0},
	})
	h.waiters(1) // the sidecar's startup probe only
	if started, _ := h.m.Status(pod.UID, &pod.Spec.InitContainers[1], "s1"); started {
		t.Error("sidecar started before its startup probe passed")
	}
}
