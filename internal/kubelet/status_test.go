package kubelet

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func cond(s v1.PodStatus, t v1.PodConditionType) v1.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return v1.PodCondition{}
}

func TestComputePodStatus(t *testing.T) {
	ready := []*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}
	dead := []*runtimeapi.PodSandbox{sandbox("s1", false, 0, 5)}
	type check func(t *testing.T, s v1.PodStatus)
	phase := func(want v1.PodPhase) check {
		return func(t *testing.T, s v1.PodStatus) {
			if s.Phase != want {
				t.Errorf("phase %s, want %s", s.Phase, want)
			}
		}
	}
	condition := func(typ v1.PodConditionType, status v1.ConditionStatus, reason, message string) check {
		return func(t *testing.T, s v1.PodStatus) {
			c := cond(s, typ)
			if c.Status != status || c.Reason != reason || c.Message != message {
				t.Errorf("%s = %s/%q/%q, want %s/%q/%q", typ, c.Status, c.Reason, c.Message, status, reason, message)
			}
		}
	}
	waiting := func(i int, reason string) check {
		return func(t *testing.T, s v1.PodStatus) {
			w := s.ContainerStatuses[i].State.Waiting
			if w == nil || w.Reason != reason {
				t.Errorf("container %d state %+v, want waiting %s", i, s.ContainerStatuses[i].State, reason)
			}
		}
	}
	terminated := func(i int, code int32, reason string) check {
		return func(t *testing.T, s v1.PodStatus) {
			tm := s.ContainerStatuses[i].State.Terminated
			if tm == nil || tm.ExitCode != code || tm.Reason != reason {
				t.Errorf("container %d state %+v, want terminated %d %s", i, s.ContainerStatuses[i].State, code, reason)
			}
		}
	}

	always := testPod(v1.RestartPolicyAlways, []string{"a", "b"})
	never := testPod(v1.RestartPolicyNever, []string{"a"})
	onFailure := testPod(v1.RestartPolicyOnFailure, []string{"a"})
	withInit := testPod(v1.RestartPolicyAlways, []string{"a"}, "init")

	for _, tc := range []struct {
		name   string
		pod    *v1.Pod
		rt     *podRuntime
		waits  map[string]waitState
		term   bool
		checks []check
	}{
		{"nothing created yet", always, runtimeOf(nil), nil, false, []check{
			phase(v1.PodPending), waiting(0, "ContainerCreating"), waiting(1, "ContainerCreating"),
			condition(v1.PodReadyToStartContainers, v1.ConditionFalse, "", ""),
			condition(v1.PodInitialized, v1.ConditionTrue, "", ""),
			condition(v1.PodReady, v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]"),
			condition(v1.ContainersReady, v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a b]"),
			condition(v1.PodScheduled, v1.ConditionTrue, "", ""),
		}},
		{"all running", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning}, ctr{name: "b", sandbox: "s1", state: stRunning}), nil, false, []check{
			phase(v1.PodRunning),
			condition(v1.PodReadyToStartContainers, v1.ConditionTrue, "", ""),
			condition(v1.PodReady, v1.ConditionTrue, "", ""),
			condition(v1.ContainersReady, v1.ConditionTrue, "", ""),
			func(t *testing.T, s v1.PodStatus) {
				cs := s.ContainerStatuses[0]
				if !cs.Ready || cs.Started == nil || !*cs.Started || cs.ContainerID != "containerd://a-s1-0" || cs.ImageID != "sha256:abc" || cs.Image != "img:1" {
					t.Errorf("container status %+v", cs)
				}
				if s.PodIP != podIPTest || len(s.PodIPs) != 1 || s.HostIP != "192.0.2.2" || len(s.HostIPs) != 1 {
					t.Errorf("IPs: pod %s %v host %s %v", s.PodIP, s.PodIPs, s.HostIP, s.HostIPs)
				}
				if s.ObservedGeneration != 3 || cond(s, v1.PodReady).ObservedGeneration != 3 {
					t.Errorf("observedGeneration not tracked")
				}
			},
		}},
		{"crash loop back-off", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 1, restarts: 2, age: 1},
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 1, restarts: 1, age: 2},
			ctr{name: "b", sandbox: "s1", state: stRunning}),
			map[string]waitState{"a": {Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container=a pod=p_ns(uid-1)"}}, false, []check{
				phase(v1.PodRunning), waiting(0, "CrashLoopBackOff"),
				condition(v1.PodReady, v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a]"),
				func(t *testing.T, s v1.PodStatus) {
					cs := s.ContainerStatuses[0]
					if cs.RestartCount != 2 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
						t.Errorf("container status %+v", cs)
					}
				},
			}},
		{"restarted container shows the previous run", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning, restarts: 1, age: 1},
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 137, restarts: 0, age: 2},
			ctr{name: "b", sandbox: "s1", state: stRunning}), nil, false, []check{
			phase(v1.PodRunning),
			func(t *testing.T, s v1.PodStatus) {
				cs := s.ContainerStatuses[0]
				last := cs.LastTerminationState.Terminated
				if cs.RestartCount != 1 || cs.State.Running == nil || last == nil || last.ExitCode != 137 || last.Reason != "Error" {
					t.Errorf("container status %+v", cs)
				}
			},
		}},
		{"Never pod that failed", never, runtimeOf(dead, ctr{name: "a", sandbox: "s1", state: stExited, exit: 3}), nil, false, []check{
			phase(v1.PodFailed), terminated(0, 3, "Error"),
			condition(v1.PodReadyToStartContainers, v1.ConditionFalse, "", ""),
			condition(v1.PodReady, v1.ConditionFalse, "ContainersNotReady", "containers with unready status: [a]"),
		}},
		{"OnFailure pod that succeeded", onFailure, runtimeOf(ready, ctr{name: "a", sandbox: "s1", state: stExited}), nil, false, []check{
			phase(v1.PodSucceeded), terminated(0, 0, "Completed"),
			condition(v1.PodInitialized, v1.ConditionTrue, "PodCompleted", ""),
			condition(v1.PodReady, v1.ConditionFalse, "PodCompleted", ""),
			condition(v1.ContainersReady, v1.ConditionFalse, "PodCompleted", ""),
		}},
		{"init container running", withInit, runtimeOf(ready, ctr{name: "init", sandbox: "s1", state: stRunning}), nil, false, []check{
			phase(v1.PodPending), waiting(0, "PodInitializing"),
			condition(v1.PodInitialized, v1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [init]"),
		}},
		{"deleted pod killed by signal", always, runtimeOf(dead,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 137}, ctr{name: "b", sandbox: "s1", state: stExited}), nil, true, []check{
			phase(v1.PodFailed),
		}},
		{"deleted pod that exited cleanly", always, runtimeOf(dead,
			ctr{name: "a", sandbox: "s1", state: stExited}, ctr{name: "b", sandbox: "s1", state: stExited}), nil, true, []check{
			phase(v1.PodSucceeded),
		}},
		{"image pull failure is a waiting reason", always, runtimeOf(ready, ctr{name: "b", sandbox: "s1", state: stRunning}),
			map[string]waitState{"a": {Reason: "ErrImagePull", Message: "not found"}}, false, []check{
				phase(v1.PodPending), waiting(0, "ErrImagePull"),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod.DeepCopy()
			sched := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}
			pod.Status.Conditions = []v1.PodCondition{sched}
			s := computePodStatus(pod, statusInput{Runtime: tc.rt, Waits: tc.waits, HostIPs: []string{"192.0.2.2"}, Terminal: tc.term, Now: t0})
			for _, c := range tc.checks {
				c(t, s)
			}
			if s.StartTime == nil || s.QOSClass != v1.PodQOSBestEffort {
				t.Errorf("startTime %v qos %s", s.StartTime, s.QOSClass)
			}
		})
	}
}

func TestComputePodStatusKeepsTransitionTimes(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, []string{"a"})
	rt := runtimeOf([]*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}, ctr{name: "a", sandbox: "s1", state: stRunning})
	first := computePodStatus(pod, statusInput{Runtime: rt, Now: t0})
	pod.Status = first
	second := computePodStatus(pod, statusInput{Runtime: rt, Now: t0.Add(time.Minute)})
	if !apiequality.Semantic.DeepEqual(first, second) {
		t.Errorf("status changed without a runtime change:\n%+v\n%+v", first, second)
	}
	// A change moves only the changed condition's transition time.
	rt2 := runtimeOf([]*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}, ctr{name: "a", sandbox: "s1", state: stExited, exit: 1})
	third := computePodStatus(pod, statusInput{Runtime: rt2, Now: t0.Add(2 * time.Minute)})
	if got := cond(third, v1.PodReady).LastTransitionTime.Time; !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("Ready transition time %v", got)
	}
	if got := cond(third, v1.PodInitialized).LastTransitionTime.Time; !got.Equal(t0) {
		t.Errorf("Initialized transition time moved to %v", got)
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim map[v1.ResourceName]string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{Requests: v1.ResourceList{}, Limits: v1.ResourceList{}}
		for k, v := range req {
			r.Requests[k] = resource.MustParse(v)
		}
		for k, v := range lim {
			r.Limits[k] = resource.MustParse(v)
		}
		return r
	}
	both := map[v1.ResourceName]string{v1.ResourceCPU: "100m", v1.ResourceMemory: "64Mi"}
	for _, tc := range []struct {
		name string
		res  []v1.ResourceRequirements
		want v1.PodQOSClass
	}{
		{"nothing", []v1.ResourceRequirements{{}}, v1.PodQOSBestEffort},
		{"requests equal limits", []v1.ResourceRequirements{res(both, both)}, v1.PodQOSGuaranteed},
		{"limits only", []v1.ResourceRequirements{res(nil, both)}, v1.PodQOSGuaranteed},
		{"requests only", []v1.ResourceRequirements{res(both, nil)}, v1.PodQOSBurstable},
		{"one container without", []v1.ResourceRequirements{res(both, both), {}}, v1.PodQOSBurstable},
		{"memory limit only", []v1.ResourceRequirements{res(nil, map[v1.ResourceName]string{v1.ResourceMemory: "1Gi"})}, v1.PodQOSBurstable},
	} {
		pod := &v1.Pod{}
		for _, r := range tc.res {
			pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Resources: r})
		}
		if got := qosClass(pod); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodChangeMatters(t *testing.T) {
	base := testPod(v1.RestartPolicyAlways, []string{"c"})
	base.ResourceVersion = "1"
	next := func(f func(p *v1.Pod)) *v1.Pod {
		p := base.DeepCopy()
		p.ResourceVersion = "2"
		f(p)
		return p
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		cur  *v1.Pod
		want bool
	}{
		{"resync", base.DeepCopy(), true},
		{"status only (our own write)", next(func(p *v1.Pod) { p.Status.Phase = v1.PodRunning }), false},
		{"deletion", next(func(p *v1.Pod) { p.DeletionTimestamp = &now }), true},
		{"spec", next(func(p *v1.Pod) { p.Spec.Containers[0].Image = "img:2" }), true},
		{"labels", next(func(p *v1.Pod) { p.Labels = map[string]string{"a": "b"} }), true},
		{"annotations", next(func(p *v1.Pod) { p.Annotations = map[string]string{"a": "b"} }), true},
	} {
		if got := podChangeMatters(base, tc.cur); got != tc.want {
			t.Errorf("%s: podChangeMatters = %v, want %v", tc.name, got, tc.want)
		}
	}
}
