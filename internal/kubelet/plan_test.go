package kubelet

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestComputePodActions(t *testing.T) {
	always := testPod(v1.RestartPolicyAlways, []string{"a", "b"})
	onFailure := testPod(v1.RestartPolicyOnFailure, []string{"a"})
	never := testPod(v1.RestartPolicyNever, []string{"a"})
	withInit := testPod(v1.RestartPolicyAlways, []string{"a"}, "i1", "i2")
	initNever := testPod(v1.RestartPolicyNever, []string{"a"}, "i1")
	h := func(p *v1.Pod, n string) string { return hashOf(p, n) }
	ready := []*runtimeapi.PodSandbox{sandbox("s1", true, 0, 5)}
	dead := []*runtimeapi.PodSandbox{sandbox("s1", false, 0, 5)}

	for _, tc := range []struct {
		name string
		pod  *v1.Pod
		rt   *podRuntime
		want podActions
	}{
		{"new pod gets a sandbox and all containers", always, runtimeOf(nil),
			podActions{CreateSandbox: true, NextInit: -1, Start: []int{0, 1}}},
		{"new pod with init containers starts the first init only", withInit, runtimeOf(nil),
			podActions{CreateSandbox: true, NextInit: 0}},
		{"running pod needs nothing", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: h(always, "a")},
			ctr{name: "b", sandbox: "s1", state: stRunning, hash: h(always, "b")}),
			podActions{NextInit: -1}},
		{"missing container is started", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: h(always, "a")}),
			podActions{NextInit: -1, Start: []int{1}}},
		{"exited container restarts under Always", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 0, hash: h(always, "a")},
			ctr{name: "b", sandbox: "s1", state: stRunning, hash: h(always, "b")}),
			podActions{NextInit: -1, Start: []int{0}}},
		{"succeeded container stays under OnFailure", onFailure, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 0}),
			podActions{NextInit: -1}},
		{"failed container restarts under OnFailure", onFailure, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 2}),
			podActions{NextInit: -1, Start: []int{0}}},
		{"failed container stays under Never", never, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 2}),
			podActions{NextInit: -1}},
		{"created but never started container is started again", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stCreated, hash: h(always, "a")},
			ctr{name: "b", sandbox: "s1", state: stRunning, hash: h(always, "b")}),
			podActions{NextInit: -1, Start: []int{0}}},
		{"dead sandbox is replaced with the next attempt", always, runtimeOf(dead,
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: h(always, "a")},
			ctr{name: "b", sandbox: "s1", state: stExited, hash: h(always, "b")}),
			podActions{KillPod: true, CreateSandbox: true, Attempt: 1, NextInit: -1, Start: []int{0, 1}}},
		{"Never pod that ran gets no new sandbox", never, runtimeOf(dead,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 1}),
			podActions{NextInit: -1}},
		{"OnFailure pod whose containers all succeeded gets no new sandbox", onFailure, runtimeOf(dead,
			ctr{name: "a", sandbox: "s1", state: stExited, exit: 0}),
			podActions{NextInit: -1}},
		{"container not in the spec is killed", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: h(always, "a")},
			ctr{name: "b", sandbox: "s1", state: stRunning, hash: h(always, "b")},
			ctr{name: "zombie", sandbox: "s1", state: stRunning}),
			podActions{NextInit: -1, Kill: []*runtimeapi.ContainerStatus{
				ctr{name: "zombie", sandbox: "s1", state: stRunning}.status()}}},
		{"changed spec restarts the container", always, runtimeOf(ready,
			ctr{name: "a", sandbox: "s1", state: stRunning, hash: "old"},
			ctr{name: "b", sandbox: "s1", state: stRunning, hash: h(always, "b")}),
			podActions{NextInit: -1, Start: []int{0}, Kill: []*runtimeapi.ContainerStatus{
				ctr{name: "a", sandbox: "s1", state: stRunning, hash: "old"}.status()}}},
		{"running init container is waited for", withInit, runtimeOf(ready,
			ctr{name: "i1", sandbox: "s1", state: stRunning, hash: h(withInit, "i1")}),
			podActions{NextInit: -1}},
		{"next init container after one succeeded", withInit, runtimeOf(ready,
			ctr{name: "i1", sandbox: "s1", state: stExited, exit: 0, hash: h(withInit, "i1")}),
			podActions{NextInit: 1}},
		{"failed init container restarts", withInit, runtimeOf(ready,
			ctr{name: "i1", sandbox: "s1", state: stExited, exit: 1, hash: h(withInit, "i1")}),
			podActions{NextInit: 0}},
		{"failed init container under Never is final", initNever, runtimeOf(ready,
			ctr{name: "i1", sandbox: "s1", state: stExited, exit: 1, hash: h(initNever, "i1")}),
			podActions{NextInit: -1}},
		{"regular containers start after all init containers", withInit, runtimeOf(ready,
			ctr{name: "i1", sandbox: "s1", state: stExited, exit: 0, age: 2, hash: h(withInit, "i1")},
			ctr{name: "i2", sandbox: "s1", state: stExited, exit: 0, age: 1, hash: h(withInit, "i2")}),
			podActions{NextInit: -1, Start: []int{0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := computePodActions(tc.pod, tc.rt)
			if len(got.Kill) != len(tc.want.Kill) {
				t.Fatalf("kill %d containers, want %d", len(got.Kill), len(tc.want.Kill))
			}
			for i := range got.Kill {
				if got.Kill[i].Id != tc.want.Kill[i].Id {
					t.Errorf("kill %s, want %s", got.Kill[i].Id, tc.want.Kill[i].Id)
				}
			}
			got.Kill, tc.want.Kill = nil, nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions = %+v, want %+v", got, tc.want)
			}
		})
	}
}
