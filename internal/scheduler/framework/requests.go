package framework

import (
	v1 "k8s.io/api/core/v1"
)

// PodRequests is what a pod needs from its node:
//
//   - regular containers run together, so their requests add up;
//   - init containers run one at a time before them, so only the largest
//     counts ("max rule"), except restartable init containers (sidecars),
//     which keep running and add to everything started after them;
//   - pod-level resources (spec.resources), when set, replace the
//     container sum for the resources they name;
//   - spec.overhead (RuntimeClass) is added on top.
//
// With nonZero, containers that request no cpu or memory count as
// DefaultMilliCPURequest / DefaultMemoryRequest (for scoring only).
func PodRequests(pod *v1.Pod, nonZero bool) Resource {
	var reqs Resource
	for i := range pod.Spec.Containers {
		reqs.Add(containerRequests(&pod.Spec.Containers[i], nonZero))
	}

	var sidecars, initMax Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			reqs.Add(r)
			sidecars.Add(r)
			initMax.Max(sidecars)
			continue
		}
		r.Add(sidecars)
		initMax.Max(r)
	}
	reqs.Max(initMax)

	if pod.Spec.Resources != nil && !nonZero {
		pl := pod.Spec.Resources.Requests
		if q, ok := pl[v1.ResourceCPU]; ok {
			reqs.MilliCPU = q.MilliValue()
		}
		if q, ok := pl[v1.ResourceMemory]; ok {
			reqs.Memory = q.Value()
		}
	}
	if pod.Spec.Overhead != nil {
		reqs.AddList(pod.Spec.Overhead)
	}
	return reqs
}

func containerRequests(c *v1.Container, nonZero bool) Resource {
	r := ResourceFromList(c.Resources.Requests)
	r.AllowedPodNumber = 0
	if nonZero {
		if _, ok := c.Resources.Requests[v1.ResourceCPU]; !ok {
			r.MilliCPU = DefaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[v1.ResourceMemory]; !ok {
			r.Memory = DefaultMemoryRequest
		}
	}
	return r
}

// PodHostPorts lists the host ports a pod's containers (and sidecars) bind.
func PodHostPorts(pod *v1.Pod) []HostPort {
	var ports []HostPort
	add := func(c *v1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			ports = append(ports, HostPort{IP: p.HostIP, Protocol: proto, Port: p.HostPort})
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	return ports
}
