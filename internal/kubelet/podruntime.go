package kubelet

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CRI labels and annotations, as upstream's kubelet writes them: they are
// how a restarted kubelet recognises (adopts) its sandboxes and containers.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"

	annotationContainerHash          = "io.kubernetes.container.hash"
	annotationRestartCount           = "io.kubernetes.container.restartCount"
	annotationTerminationMessagePath = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationPolicy      = "io.kubernetes.container.terminationMessagePolicy"
	annotationContainerPorts         = "io.kubernetes.container.ports"
	annotationGracePeriod            = "io.kubernetes.pod.terminationGracePeriod"
)

// podRuntime is what the runtime holds for one pod: its sandboxes and
// containers (all attempts), newest first.
type podRuntime struct {
	Sandboxes []*runtimeapi.PodSandbox
	// Sandbox is the status of Sandboxes[0], nil when there is none.
	Sandbox    *runtimeapi.PodSandboxStatus
	Containers []*runtimeapi.ContainerStatus
	// Messages holds termination messages by container ID.
	Messages map[string]string
}

func (r *podRuntime) sort() {
	sort.SliceStable(r.Sandboxes, func(i, j int) bool { return r.Sandboxes[i].CreatedAt > r.Sandboxes[j].CreatedAt })
	sort.SliceStable(r.Containers, func(i, j int) bool { return r.Containers[i].CreatedAt > r.Containers[j].CreatedAt })
}

// sandboxID of the newest sandbox, "" if none.
func (r *podRuntime) sandboxID() string {
	if len(r.Sandboxes) == 0 {
		return ""
	}
	return r.Sandboxes[0].Id
}

// sandboxReady reports whether the newest sandbox is ready and, for a pod
// network, has an IP.
func (r *podRuntime) sandboxReady(hostNetwork bool) bool {
	if len(r.Sandboxes) == 0 || r.Sandboxes[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return false
	}
	return hostNetwork || r.podIP() != ""
}

func (r *podRuntime) podIP() string {
	if r.Sandbox == nil || r.Sandbox.Network == nil {
		return ""
	}
	return r.Sandbox.Network.Ip
}

func (r *podRuntime) podIPs() []string {
	ip := r.podIP()
	if ip == "" {
		return nil
	}
	ips := []string{ip}
	for _, extra := range r.Sandbox.Network.AdditionalIps {
		ips = append(ips, extra.Ip)
	}
	return ips
}

// byName returns the newest and the previous container named name,
// across all sandboxes.
func (r *podRuntime) byName(name string) (latest, previous *runtimeapi.ContainerStatus) {
	for _, c := range r.Containers {
		if c.Metadata.GetName() != name {
			continue
		}
		if latest == nil {
			latest = c
		} else {
			return latest, c
		}
	}
	return latest, nil
}

// inSandbox returns the newest container named name in sandbox id.
func (r *podRuntime) inSandbox(id, name string) *runtimeapi.ContainerStatus {
	for _, c := range r.Containers {
		if c.Metadata.GetName() == name && c.Labels[sandboxIDKey] == id {
			return c
		}
	}
	return nil
}

// sandboxIDKey is a pseudo-label the runtime snapshot adds to each
// container status: the sandbox it belongs to (ContainerStatus lacks it).
const sandboxIDKey = "kedge.sandbox-id"

func running(c *runtimeapi.ContainerStatus) bool {
	return c != nil && c.State == runtimeapi.ContainerState_CONTAINER_RUNNING
}

func exited(c *runtimeapi.ContainerStatus) bool {
	return c != nil && c.State == runtimeapi.ContainerState_CONTAINER_EXITED
}

func restartCountOf(c *runtimeapi.ContainerStatus) int {
	if c == nil {
		return 0
	}
	n, _ := strconv.Atoi(c.Annotations[annotationRestartCount])
	return n
}

// containerHash identifies a container spec: a running container whose
// hash no longer matches (the image was changed) is restarted.
func containerHash(c *v1.Container) string {
	cp := c.DeepCopy()
	cp.Resources = v1.ResourceRequirements{}
	cp.ResizePolicy = nil
	data, _ := json.Marshal(cp)
	h := fnv.New32a()
	h.Write(data)
	return fmt.Sprintf("%x", h.Sum32())
}
