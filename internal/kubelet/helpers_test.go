package kubelet

import (
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"strconv"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sandbox(id string, ready bool, attempt uint32, age int) *runtimeapi.PodSandbox {
	state := runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	if ready {
		state = runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return &runtimeapi.PodSandbox{
		Id: id, State: state, CreatedAt: t0.Add(-time.Duration(age) * time.Minute).UnixNano(),
		Metadata: &runtimeapi.PodSandboxMetadata{Attempt: attempt},
	}
}

type ctr struct {
	name, sandbox string
	state         runtimeapi.ContainerState
	exit          int32
	age           int // minutes; newer containers have smaller ages
	restarts      int
	hash          string
}

func (c ctr) status() *runtimeapi.ContainerStatus {
	created := t0.Add(-time.Duration(c.age) * time.Minute)
	s := &runtimeapi.ContainerStatus{
		Id:          c.name + "-" + c.sandbox + "-" + strconv.Itoa(c.restarts),
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.name, Attempt: uint32(c.restarts)},
		State:       c.state,
		CreatedAt:   created.UnixNano(),
		StartedAt:   created.Add(time.Second).UnixNano(),
		ExitCode:    c.exit,
		ImageRef:    "sha256:abc",
		Labels:      map[string]string{sandboxIDKey: c.sandbox, labelContainerName: c.name},
		Annotations: map[string]string{annotationRestartCount: strconv.Itoa(c.restarts), annotationContainerHash: c.hash},
	}
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		s.FinishedAt = created.Add(2 * time.Second).UnixNano()
	}
	return s
}

const (
	stRunning = runtimeapi.ContainerState_CONTAINER_RUNNING
	stExited  = runtimeapi.ContainerState_CONTAINER_EXITED
	stCreated = runtimeapi.ContainerState_CONTAINER_CREATED
	podIPTest = "10.42.0.7"
)

func runtimeOf(sandboxes []*runtimeapi.PodSandbox, ctrs ...ctr) *podRuntime {
	rt := &podRuntime{Sandboxes: sandboxes, Messages: map[string]string{}}
	for _, c := range ctrs {
		rt.Containers = append(rt.Containers, c.status())
	}
	rt.sort()
	if len(rt.Sandboxes) > 0 {
		rt.Sandbox = &runtimeapi.PodSandboxStatus{Id: rt.Sandboxes[0].Id, State: rt.Sandboxes[0].State,
			Network: &runtimeapi.PodSandboxNetworkStatus{Ip: podIPTest}}
	}
	return rt
}

func testPod(policy v1.RestartPolicy, containers []string, inits ...string) *v1.Pod {
	pod := &v1.Pod{}
	pod.Name, pod.Namespace, pod.UID, pod.Generation = "p", "ns", "uid-1", 3
	pod.Spec.RestartPolicy = policy
	pod.Spec.NodeName = "n1"
	for _, n := range inits {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: n, Image: "img:1"})
	}
	for _, n := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: n, Image: "img:1"})
	}
	return pod
}

// hashOf is the spec hash of the named container of pod.
func hashOf(pod *v1.Pod, name string) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return containerHash(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return containerHash(&pod.Spec.Containers[i])
		}
	}
	return ""
}
