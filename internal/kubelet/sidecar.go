package kubelet

import v1 "k8s.io/api/core/v1"

// isSidecar reports whether an init container is a sidecar (upstream's
// restartable init container: restartPolicy Always). Sidecars start in
// init order but are not waited for: once running they count as
// initialized, keep running beside the regular containers, are restarted
// whenever they exit (whatever the pod's restartPolicy) and are stopped
// when the pod finishes.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// sidecarAt says whether the i-th init container of pod is a sidecar.
func sidecarAt(pod *v1.Pod, i int) bool {
	return i < len(pod.Spec.InitContainers) && isSidecar(&pod.Spec.InitContainers[i])
}

// minRegularMemoryRequest is the smallest memory request of the pod's
// regular containers (0 when one has none).
func minRegularMemoryRequest(pod *v1.Pod) int64 {
	var out int64 = -1
	for _, c := range pod.Spec.Containers {
		q := c.Resources.Requests[v1.ResourceMemory]
		if out < 0 || q.Value() < out {
			out = q.Value()
		}
	}
	return max(out, 0)
}
