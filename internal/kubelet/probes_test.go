package kubelet

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestStatusFromProbes(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"a", "b"})
	rt := runtimeOf([]*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)},
		ctr{name: "a", sandbox: "s1", state: stRunning, hash: hashOf(pod, "a")},
		ctr{name: "b", sandbox: "s1", state: stRunning, hash: hashOf(pod, "b")})
	type flags struct{ started, ready bool }
	for _, tc := range []struct {
		name       string
		probes     map[string]flags
		wantReady  v1.ConditionStatus
		wantReason string
		wantMsg    string
	}{
		{"all ready", map[string]flags{"a": {true, true}, "b": {true, true}}, v1.ConditionTrue, "", ""},
		{"readiness failing", map[string]flags{"a": {true, true}, "b": {true, false}}, v1.ConditionFalse,
			"ContainersNotReady", "containers with unready status: [b]"},
		{"not started yet", map[string]flags{"a": {false, false}, "b": {true, true}}, v1.ConditionFalse,
			"ContainersNotReady", "containers with unready status: [a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := statusInput{Runtime: rt, HostIPs: []string{"192.0.2.2"}, Now: t0,
				Probes: func(c *v1.Container, id string) (bool, bool) {
					if id != c.Name+"-s1-0" {
						t.Errorf("probed %s with container ID %s", c.Name, id)
					}
					f := tc.probes[c.Name]
					return f.started, f.ready
				}}
			s := computePodStatus(pod, in)
			for _, cs := range s.ContainerStatuses {
				f := tc.probes[cs.Name]
				if cs.Ready != f.ready || cs.Started == nil || *cs.Started != f.started {
					t.Errorf("%s: ready %v started %v, want %v %v", cs.Name, cs.Ready, cs.Started, f.ready, f.started)
				}
			}
			for _, typ := range []v1.PodConditionType{v1.PodReady, v1.ContainersReady} {
				c := cond(s, typ)
				if c.Status != tc.wantReady || c.Reason != tc.wantReason || c.Message != tc.wantMsg {
					t.Errorf("%s = %s/%s/%q, want %s/%s/%q", typ, c.Status, c.Reason, c.Message, tc.wantReady, tc.wantReason, tc.wantMsg)
				}
			}
			if s.Phase != v1.PodRunning {
				t.Errorf("phase %s", s.Phase)
			}
		})
	}
}

func TestReadinessGates(t *testing.T) {
	base := testPod(v1.RestartPolicyAlways, []string{"a"})
	base.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	rt := runtimeOf([]*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)},
		ctr{name: "a", sandbox: "s1", state: stRunning, hash: hashOf(base, "a")})
	for _, tc := range []struct {
		name       string
		conds      []v1.PodCondition
		containers bool // containers ready
		want       v1.ConditionStatus
		reason     string
		message    string
	}{
		{"no gate condition yet", nil, true, v1.ConditionFalse, "ReadinessGatesNotReady",
			`corresponding condition of pod readiness gate "example.com/lb" does not exist., corresponding condition of pod readiness gate "example.com/dns" does not exist.`},
		{"one gate false", []v1.PodCondition{{Type: "example.com/lb", Status: v1.ConditionFalse}, {Type: "example.com/dns", Status: v1.ConditionTrue}},
			true, v1.ConditionFalse, "ReadinessGatesNotReady", `the status of pod readiness gate "example.com/lb" is not "True", but False`},
		{"all gates true", []v1.PodCondition{{Type: "example.com/lb", Status: v1.ConditionTrue}, {Type: "example.com/dns", Status: v1.ConditionTrue}},
			true, v1.ConditionTrue, "", ""},
		{"containers not ready win", nil, false, v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := base.DeepCopy()
			pod.Status.Conditions = tc.conds
			s := computePodStatus(pod, statusInput{Runtime: rt, Now: t0,
				Probes: func(*v1.Container, string) (bool, bool) { return true, tc.containers }})
			c := cond(s, v1.PodReady)
			if c.Status != tc.want || c.Reason != tc.reason || c.Message != tc.message {
				t.Errorf("Ready = %s/%s/%q, want %s/%s/%q", c.Status, c.Reason, c.Message, tc.want, tc.reason, tc.message)
			}
			if cr := cond(s, v1.ContainersReady); (cr.Status == v1.ConditionTrue) != tc.containers {
				t.Errorf("ContainersReady = %s", cr.Status)
			}
			// The gate conditions themselves are kept as others set them.
			for _, g := range tc.conds {
				if got := cond(s, g.Type); got.Status != g.Status {
					t.Errorf("gate %s = %s, want %s", g.Type, got.Status, g.Status)
				}
			}
		})
	}
}

func TestExpandStatic(t *testing.T) {
	c := &v1.Container{Env: []v1.EnvVar{
		{Name: "PORT", Value: "8080"},
		{Name: "SECRET", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}},
	}}
	got := expandStatic(c, []string{"check", "--port=$(PORT)", "$(SECRET)x", "$(NOPE)", "$$(PORT)"})
	if want := "check --port=8080 x $(NOPE) $(PORT)"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestRestartNowAfterProbeKill(t *testing.T) {
	k := &Kubelet{restartBackoff: newBackoff(backoffInitial, backoffMax)}
	pod := testPod(v1.RestartPolicyAlways, []string{"c"})
	now := time.Now()
	rtWith := func(previousEnded time.Duration) *podRuntime {
		rt := &podRuntime{Containers: []*runtimeapi.ContainerStatus{
			{Id: "new", Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, State: stRunning, CreatedAt: now.UnixNano()},
		}}
		if previousEnded > 0 {
			rt.Containers = append(rt.Containers, &runtimeapi.ContainerStatus{Id: "old", Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
				State: stExited, CreatedAt: now.Add(-time.Hour).UnixNano(), FinishedAt: now.Add(-previousEnded).UnixNano()})
		}
		return rt
	}
	key := string(pod.UID) + "/c"
	// First kill: no earlier run, restart at once, no back-off recorded.
	if !k.restartNow(pod, "c", rtWith(0)) || k.restartBackoff.current(key) != 0 {
		t.Fatalf("first kill: want an immediate restart without back-off (delay %v)", k.restartBackoff.current(key))
	}
	// Second kill: the first run ended 3 s ago; no back-off yet: restart, now 10 s.
	if !k.restartNow(pod, "c", rtWith(3*time.Second)) || k.restartBackoff.current(key) != 10*time.Second {
		t.Fatalf("second kill: want a restart and a 10s back-off, got %v", k.restartBackoff.current(key))
	}
	// Third kill: the previous run ended 3 s ago, within 10 s: back off.
	if k.restartNow(pod, "c", rtWith(3*time.Second)) {
		t.Fatal("third kill within the back-off: restarted at once")
	}
	// A run that lasted longer than the back-off restarts at once.
	if !k.restartNow(pod, "c", rtWith(time.Minute)) || k.restartBackoff.current(key) != 20*time.Second {
		t.Fatalf("long run: want a restart and a 20s back-off, got %v", k.restartBackoff.current(key))
	}
}
