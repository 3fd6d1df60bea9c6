package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kedge-dev/kedge/internal/kubelet/prober"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Probes and lifecycle hooks: package prober runs them; this file ties
// them to the pod sync (which containers run, status, kills, hooks).

// reasonPostStartHookError is the waiting reason of a container whose
// postStart hook failed (it was killed and will be restarted).
const reasonPostStartHookError = "PostStartHookError"

// minStopGracePeriod is the least time a container gets between SIGTERM
// and SIGKILL after its preStop hook used up the grace period.
const minStopGracePeriod = 2

func (k *Kubelet) newProber() *prober.Manager {
	return prober.New(prober.Config{
		Exec:          k.execSync,
		ExpandCommand: expandStatic,
		Event:         k.probeEvent,
		Changed:       func(uid types.UID) { k.queue.Add(uid) },
	})
}

// execSync runs cmd in a container through CRI ExecSync.
func (k *Kubelet) execSync(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, int32, error) {
	if timeout > 0 {
		// The runtime enforces the timeout; this one only guards
		// against a runtime that does not answer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+30*time.Second)
		defer cancel()
	}
	secs := int64(timeout / time.Second)
	if timeout > 0 && secs == 0 {
		secs = 1
	}
	resp, err := k.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: secs})
	if err != nil {
		return nil, nil, 0, err
	}
	return resp.Stdout, resp.Stderr, resp.ExitCode, nil
}

// expandStatic expands $(VAR) in an exec probe's command from the
// container's env values as written (no valueFrom), as upstream does.
func expandStatic(c *v1.Container, cmd []string) []string {
	values := map[string]string{}
	for _, e := range c.Env {
		values[e.Name] = e.Value
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	out := make([]string, len(cmd))
	for i, s := range cmd {
		out[i] = expand(s, lookup)
	}
	return out
}

// probeEvent records a prober event on the container (or on the pod when
// no container is named).
func (k *Kubelet) probeEvent(pod *v1.Pod, container, eventType, reason, message string) {
	if k.recorder == nil {
		return
	}
	if container == "" {
		k.recorder.Event(pod, eventType, reason, message)
		return
	}
	k.containerEvent(pod, containerKind(pod, container), container, eventType, reason, "%s", message)
}

func containerKind(pod *v1.Pod, name string) string {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return "initContainers"
		}
	}
	return "containers"
}

func containerSpec(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// probePodIP is where probes and hooks of the pod go by default.
func (k *Kubelet) probePodIP(pod *v1.Pod, rt *podRuntime) string {
	if pod.Spec.HostNetwork && len(k.hostIPs) > 0 {
		return k.hostIPs[0]
	}
	if rt != nil {
		if ips := rt.podIPs(); len(ips) > 0 {
			return ips[0]
		}
	}
	return pod.Status.PodIP
}

// probed lists the pod's containers that can have probes: sidecars
// (init containers with restartPolicy Always) and regular containers.
func probed(pod *v1.Pod) []*v1.Container {
	var out []*v1.Container
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// syncProbes tells the prober which of the pod's containers run now.
func (k *Kubelet) syncProbes(pod *v1.Pod, rt *podRuntime) {
	sandbox := rt.sandboxID()
	var cs []prober.Container
	for _, spec := range probed(pod) {
		c := rt.inSandbox(sandbox, spec.Name)
		if c == nil {
			continue
		}
		cs = append(cs, prober.Container{
			Name: c.Metadata.GetName(), ID: c.Id, Running: running(c), StartedAt: time.Unix(0, c.StartedAt),
		})
	}
	k.probes.Update(pod, k.probePodIP(pod, rt), cs)
}

// probeStatus is the started and ready flags of running containers.
func (k *Kubelet) probeStatus(uid types.UID) func(c *v1.Container, containerID string) (bool, bool) {
	return func(c *v1.Container, containerID string) (bool, bool) {
		return k.probes.Status(uid, c, containerID)
	}
}

// killUnhealthy stops the running containers that failed their liveness
// or startup probe ("Container c failed liveness probe, will be
// restarted"), with the probe's terminationGracePeriodSeconds when it has
// one. Unless the pod never restarts, regular containers are added to
// a.Start: they start again in this sync, unless restartNow says they are
// in back-off (then a later sync restarts them, as for a crash). Sidecars
// always restart, in a later sync.
func (k *Kubelet) killUnhealthy(ctx context.Context, pod *v1.Pod, rt *podRuntime, a *podActions) {
	if a.KillPod || a.CreateSandbox {
		return
	}
	sandbox := rt.sandboxID()
	regular := map[string]int{}
	for i := range pod.Spec.Containers {
		regular[pod.Spec.Containers[i].Name] = i
	}
	for _, spec := range probed(pod) {
		c := rt.inSandbox(sandbox, spec.Name)
		if !running(c) || slices.Contains(a.Kill, c) {
			continue
		}
		kind, probe, failed := k.probes.Failed(pod.UID, c.Id)
		if !failed {
			continue
		}
		msg := fmt.Sprintf("Container %s failed %s probe", spec.Name, strings.ToLower(kind.String()))
		i, isRegular := regular[spec.Name]
		restart := pod.Spec.RestartPolicy != v1.RestartPolicyNever || !isRegular
		if restart {
			msg += ", will be restarted"
		}
		grace := gracePeriod(pod)
		if probe != nil && probe.TerminationGracePeriodSeconds != nil {
			grace = *probe.TerminationGracePeriodSeconds
		}
		k.stopContainer(ctx, pod, c, grace, msg)
		if restart && isRegular && !slices.Contains(a.Start, i) && k.restartNow(pod, spec.Name, rt) {
			a.Start = append(a.Start, i)
		}
	}
}

// restartNow applies upstream's restart back-off to a container killed
// while running: its restart is immediate unless its previous run ended
// within the back-off delay in force (a container that keeps failing its
// liveness probe soon after start ends up in CrashLoopBackOff).
func (k *Kubelet) restartNow(pod *v1.Pod, name string, rt *podRuntime) bool {
	_, previous := rt.byName(name)
	if !exited(previous) {
		return true
	}
	key := string(pod.UID) + "/" + name
	now := time.Now()
	if k.restartBackoff.wait(key, time.Unix(0, previous.FinishedAt), now) > 0 {
		return false
	}
	k.restartBackoff.next(key, now)
	return true
}

// postStart runs the container's postStart hook: the container is not
// reported running until it returns. On failure the container is killed
// (event FailedPostStartHook) and the hook's message returned for its
// waiting state. A pod deleted meanwhile interrupts the hook.
func (k *Kubelet) postStart(ctx context.Context, pod *v1.Pod, c *v1.Container, kind, containerID string, podIPs []string) (string, error) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return "", nil
	}
	hookCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-hookCtx.Done():
				return
			case <-t.C:
				if p := k.podByUID(pod.UID); p == nil || p.DeletionTimestamp != nil {
					cancel()
					return
				}
			}
		}
	}()
	podIP := ""
	if len(podIPs) > 0 {
		podIP = podIPs[0]
	}
	target := prober.Target{Pod: pod, Container: c, ContainerID: containerID, PodIP: podIP}
	msg, err := k.probes.RunHook(hookCtx, target, c.Lifecycle.PostStart)
	if err == nil || ctx.Err() != nil {
		return "", nil
	}
	slog.Info("postStart hook failed", "pod", podFormat(pod), "container", c.Name, "err", err)
	k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed")
	running := &runtimeapi.ContainerStatus{
		Id: containerID, Metadata: &runtimeapi.ContainerMetadata{Name: c.Name}, State: runtimeapi.ContainerState_CONTAINER_RUNNING,
	}
	k.stopContainer(ctx, pod, running, gracePeriod(pod), "FailedPostStartHook")
	return msg, err
}

// preStop runs the container's preStop hook, if it has one, within the
// grace period and returns the grace left for SIGTERM to SIGKILL (at
// least minStopGracePeriod once a hook ran).
func (k *Kubelet) preStop(ctx context.Context, pod *v1.Pod, kind, name, containerID string, grace int64) int64 {
	spec := containerSpec(pod, name)
	if spec == nil || spec.Lifecycle == nil || spec.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	start := time.Now()
	hookCtx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
	defer cancel()
	target := prober.Target{Pod: pod, Container: spec, ContainerID: containerID, PodIP: k.probePodIP(pod, nil)}
	if _, err := k.probes.RunHook(hookCtx, target, spec.Lifecycle.PreStop); err != nil && hookCtx.Err() == nil {
		slog.Info("preStop hook failed", "pod", podFormat(pod), "container", name, "err", err)
		k.containerEvent(pod, kind, name, v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
	}
	return max(grace-int64(time.Since(start).Seconds()), minStopGracePeriod)
}
