package server

import (
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// containerSpecExists tells whether the pod declares a container (of any
// kind) with that name.
func containerSpecExists(pod *v1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func containerStatus(pod *v1.Pod, name string) (*v1.ContainerStatus, bool) {
	for _, list := range [][]v1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], true
			}
		}
	}
	return nil, false
}

// logContainerID picks the runtime container whose log a request reads,
// from the pod's status as the kubelet reported it: the running or last
// terminated instance, or with previous the one before. The errors are
// upstream's kubelet's, word for word (users see them through kubectl).
func logContainerID(pod *v1.Pod, name string, previous bool) (string, error) {
	st, ok := containerStatus(pod, name)
	if !ok {
		return "", fmt.Errorf("container %q in pod %q is not available", name, pod.Name)
	}
	last := st.LastTerminationState.Terminated
	var id string
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		id = last.ContainerID
	case st.State.Running != nil:
		id = st.ContainerID
	case st.State.Terminated != nil:
		id = st.State.Terminated.ContainerID
		if id == "" {
			if last == nil || last.ContainerID == "" {
				return "", fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
			}
			id = last.ContainerID
		}
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
		}
		id = last.ContainerID
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case "ErrImagePull":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", name, pod.Name)
		case "ImagePullBackOff":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", name, pod.Name)
		default:
			return "", fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason)
		}
	default:
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", name, pod.Name)
	}
	if id == "" {
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", name, pod.Name)
	}
	return runtimeID(id), nil
}

// runtimeID strips the runtime scheme of a status container ID
// ("containerd://<id>").
func runtimeID(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

// podDesc names a pod in runtime errors as upstream does: name_ns(uid).
func podDesc(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
