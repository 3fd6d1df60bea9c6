package kubelet

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sidecarPod has init containers "side" (a sidecar) and "i2", and a
// regular container "a".
func sidecarPod(policy v1.RestartPolicy) *v1.Pod {
	pod := testPod(policy, []string{"a"}, "side", "i2")
	pod.Spec.InitContainers[0].RestartPolicy = ptr(v1.ContainerRestartPolicyAlways)
	return pod
}

func TestComputePodActionsSidecars(t *testing.T) {
	pod := sidecarPod(v1.RestartPolicyNever)
	h := func(n string) string { return hashOf(pod, n) }
	ready := []*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}
	for _, tc := range []struct {
		name string
		rt   *podRuntime
		want podActions
	}{
		{"sidecar starts first", runtimeOf(ready), podActions{NextInit: 0}},
		{"running sidecar lets the next init container start", runtimeOf(ready,
			ctr{name: "side", sandbox: "s1", state: stRunning, hash: h("side")}),
			podActions{NextInit: 1}},
		{"then the regular containers", runtimeOf(ready,
			ctr{name: "side", sandbox: "s1", state: stRunning, hash: h("side")},
			ctr{name: "i2", sandbox: "s1", state: stExited, hash: h("i2")}),
			podActions{NextInit: -1, Start: []int{0}}},
		{"exited sidecar restarts beside running containers, even under Never", runtimeOf(ready,
			ctr{name: "side", sandbox: "s1", state: stExited, exit: 1, hash: h("side")},
			ctr{name: "i2", sandbox: "s1", state: stExited, hash: h("i2")},
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: h("a")}),
			podActions{NextInit: -1, StartSidecars: []int{0}}},
		{"exited sidecar before initialization restarts as init", runtimeOf(ready,
			ctr{name: "side", sandbox: "s1", state: stExited, exit: 1, hash: h("side")}),
			podActions{NextInit: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := computePodActions(pod, tc.rt); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestComputePodStatusSidecars(t *testing.T) {
	pod := sidecarPod(v1.RestartPolicyNever)
	h := func(n string) string { return hashOf(pod, n) }
	ready := []*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}

	// Sidecar running, second init container running: still initializing.
	st := computePodStatus(pod, statusInput{Now: t0, Runtime: runtimeOf(ready,
		ctr{name: "side", sandbox: "s1", state: stRunning, hash: h("side")},
		ctr{name: "i2", sandbox: "s1", state: stRunning, hash: h("i2")})})
	if st.Phase != v1.PodPending || cond(st, v1.PodInitialized).Message != "containers with incomplete status: [i2]" {
		t.Errorf("initializing: phase %s, %+v", st.Phase, cond(st, v1.PodInitialized))
	}

	// Everything running: Initialized, Ready, sidecar ready too.
	st = computePodStatus(pod, statusInput{Now: t0, Runtime: runtimeOf(ready,
		ctr{name: "side", sandbox: "s1", state: stRunning, hash: h("side")},
		ctr{name: "i2", sandbox: "s1", state: stExited, hash: h("i2")},
		ctr{name: "a", sandbox: "s1", state: stRunning, hash: h("a")})})
	if st.Phase != v1.PodRunning || cond(st, v1.PodInitialized).Status != v1.ConditionTrue || cond(st, v1.PodReady).Status != v1.ConditionTrue ||
		!st.InitContainerStatuses[0].Ready {
		t.Errorf("running: phase %s, conditions %+v", st.Phase, st.Conditions)
	}

	// A crashed sidecar makes the pod unready but neither fails it nor
	// un-initializes it.
	st = computePodStatus(pod, statusInput{Now: t0, Runtime: runtimeOf(ready,
		ctr{name: "side", sandbox: "s1", state: stExited, exit: 1, hash: h("side")},
		ctr{name: "i2", sandbox: "s1", state: stExited, hash: h("i2")},
		ctr{name: "a", sandbox: "s1", state: stRunning, hash: h("a")})})
	if st.Phase != v1.PodRunning || cond(st, v1.ContainersReady).Message != "containers with unready status: [side]" {
		t.Errorf("crashed sidecar: phase %s, %+v", st.Phase, cond(st, v1.ContainersReady))
	}

	// The regular container is done: the pod succeeds though the sidecar runs.
	st = computePodStatus(pod, statusInput{Now: t0, Runtime: runtimeOf(ready,
		ctr{name: "side", sandbox: "s1", state: stRunning, hash: h("side")},
		ctr{name: "i2", sandbox: "s1", state: stExited, hash: h("i2")},
		ctr{name: "a", sandbox: "s1", state: stExited, hash: h("a")})})
	if st.Phase != v1.PodSucceeded {
		t.Errorf("done: phase %s", st.Phase)
	}
}

func TestSidecarOOMScoreAdj(t *testing.T) {
	pod := sidecarPod(v1.RestartPolicyAlways)
	pod.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceMemory: resource.MustParse("2Gi")}
	pod.Spec.InitContainers[0].Resources.Requests = v1.ResourceList{v1.ResourceMemory: resource.MustParse("1Gi")}
	if adj := oomScoreAdj(pod, &pod.Spec.InitContainers[0], 8<<30); adj != 750 {
		t.Errorf("sidecar oom_score_adj %d, want 750 (that of the regular container)", adj)
	}
	if adj := oomScoreAdj(pod, &pod.Spec.InitContainers[1], 8<<30); adj != 999 {
		t.Errorf("plain init container oom_score_adj %d, want 999", adj)
	}
}
