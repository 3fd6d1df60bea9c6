package kubelet

import (
	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podActions is what one sync of a live pod must do, decided from the pod
// spec and what the runtime holds. It is executed in this order: Kill,
// KillPod, CreateSandbox, NextInit, Start.
type podActions struct {
	// KillPod stops every container and the sandbox: the sandbox is gone
	// or broken and a new one is needed, or the pod is finished.
	KillPod bool
	// CreateSandbox asks for a new sandbox with metadata attempt Attempt.
	CreateSandbox bool
	Attempt       uint32
	// NextInit is the index of the init container to start, -1 for none.
	NextInit int
	// Start lists the indexes of regular containers to (re)start.
	Start []int
	// StartSidecars lists the indexes of sidecar init containers to
	// restart beside the regular containers (the pod is initialized).
	StartSidecars []int
	// Kill lists running containers to stop: not in the spec any more, or
	// their spec changed (those are in Start/NextInit too).
	Kill []*runtimeapi.ContainerStatus
}

func shouldRestart(policy v1.RestartPolicy, c *runtimeapi.ContainerStatus) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return c.ExitCode != 0
	default:
		return true
	}
}

func succeeded(c *runtimeapi.ContainerStatus) bool { return exited(c) && c.ExitCode == 0 }

// computePodActions decides what to do for a pod that is not being
// deleted and whose phase is not terminal.
func computePodActions(pod *v1.Pod, rt *podRuntime) podActions {
	a := podActions{NextInit: -1}
	policy := pod.Spec.RestartPolicy

	if !rt.sandboxReady(pod.Spec.HostNetwork) {
		for _, c := range rt.Containers {
			if running(c) {
				a.KillPod = true
			}
		}
		if len(rt.Sandboxes) > 0 && rt.Sandboxes[0].State == runtimeapi.PodSandboxState_SANDBOX_READY {
			a.KillPod = true
		}
		// A pod that never restarts and already ran gets no new sandbox.
		if policy == v1.RestartPolicyNever && len(rt.Sandboxes) > 0 && len(rt.Containers) > 0 {
			return a
		}
		var start []int
		for i := range pod.Spec.Containers {
			latest, _ := rt.byName(pod.Spec.Containers[i].Name)
			if policy == v1.RestartPolicyOnFailure && succeeded(latest) {
				continue
			}
			start = append(start, i)
		}
		if len(start) == 0 && len(rt.Containers) > 0 {
			return a // everything completed
		}
		a.CreateSandbox = true
		if len(rt.Sandboxes) > 0 {
			a.Attempt = rt.Sandboxes[0].Metadata.GetAttempt() + 1
		}
		if len(pod.Spec.InitContainers) > 0 {
			a.NextInit = 0
		} else {
			a.Start = start
		}
		return a
	}

	sandbox := rt.sandboxID()
	specs := map[string]*v1.Container{}
	for i := range pod.Spec.InitContainers {
		specs[pod.Spec.InitContainers[i].Name] = &pod.Spec.InitContainers[i]
	}
	for i := range pod.Spec.Containers {
		specs[pod.Spec.Containers[i].Name] = &pod.Spec.Containers[i]
	}
	changed := map[string]bool{}
	for _, c := range rt.Containers {
		if !running(c) {
			continue
		}
		spec, ok := specs[c.Metadata.GetName()]
		if !ok || c.Labels[sandboxIDKey] != sandbox {
			a.Kill = append(a.Kill, c)
			continue
		}
		if h := c.Annotations[annotationContainerHash]; h != "" && h != containerHash(spec) {
			a.Kill = append(a.Kill, c)
			changed[spec.Name] = true
		}
	}

	initialized := false
	for i := range pod.Spec.Containers {
		if rt.inSandbox(sandbox, pod.Spec.Containers[i].Name) != nil {
			initialized = true
		}
	}
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c := rt.inSandbox(sandbox, ic.Name)
		if isSidecar(ic) && !changed[ic.Name] {
			switch {
			case running(c):
			case initialized:
				a.StartSidecars = append(a.StartSidecars, i)
			default:
				a.NextInit = i
				return a
			}
			continue
		}
		switch {
		case changed[ic.Name]:
			a.NextInit = i
			return a
		case succeeded(c):
			continue
		case running(c):
			return a // wait for it
		case exited(c):
			// Init containers restart unless the pod never restarts.
			if policy != v1.RestartPolicyNever {
				a.NextInit = i
			}
			return a
		default: // not created yet, or created but never started
			a.NextInit = i
			return a
		}
	}

	for i := range pod.Spec.Containers {
		name := pod.Spec.Containers[i].Name
		c := rt.inSandbox(sandbox, name)
		switch {
		case changed[name]:
			a.Start = append(a.Start, i)
		case running(c):
		case exited(c):
			if shouldRestart(policy, c) {
				a.Start = append(a.Start, i)
			}
		default:
			a.Start = append(a.Start, i)
		}
	}
	return a
}
