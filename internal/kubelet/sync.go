package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kedge-dev/kedge/internal/network"
)

// orphanGracePeriod is how long containers of a pod whose API object is
// gone get to stop.
const orphanGracePeriod = 2

// syncPod makes the runtime match one pod and reports its status. It
// returns how soon the pod wants another sync (0: when something changes).
func (k *Kubelet) syncPod(ctx context.Context, uid types.UID) (time.Duration, error) {
	tm := newSyncTimer()
	pod := k.podByUID(uid)
	if pod != nil && pod.Spec.NodeName != k.cfg.NodeName {
		pod = nil // not ours, whatever the API sent
	}
	rt, err := k.podRuntime(ctx, uid)
	if err != nil {
		return 0, err
	}
	tm.mark("runtime")
	if pod == nil {
		return 0, k.teardown(ctx, uid, rt, orphanGracePeriod)
	}
	if pod.DeletionTimestamp != nil {
		return 0, k.terminate(ctx, pod, rt)
	}
	if terminal(pod.Status.Phase) {
		return 0, k.stopFinished(ctx, pod, rt)
	}

	// A pod whose containers are all done for good stops here.
	if st := computePodStatus(pod, k.statusInput(pod, rt, false)); terminal(st.Phase) {
		return 0, k.stopFinished(ctx, pod, rt)
	}

	// Containers start once every volume is set up; a running pod's
	// volumes are refreshed (ConfigMaps, Secrets, labels, tokens).
	ready, volumeRequeue := k.setUpVolumes(ctx, pod)
	tm.mark("volumes")
	if !ready {
		if err := k.writeStatus(ctx, pod, computePodStatus(pod, k.statusInput(pod, rt, false))); err != nil {
			return 0, err
		}
		return volumeRequeue, nil
	}

	actions := computePodActions(pod, rt)
	k.killUnhealthy(ctx, pod, rt, &actions)
	// A new sandbox takes a while: the API hears of the pod (Pending,
	// ContainerCreating, its hostIP and start time) meanwhile, as from
	// upstream's status manager, without delaying the start.
	var early chan *v1.Pod
	if actions.CreateSandbox {
		early = make(chan *v1.Pod, 1)
		st := computePodStatus(pod, k.statusInput(pod, rt, false))
		go func() { early <- k.writeStatusEarly(ctx, pod, st) }()
	}
	requeue, syncErr := k.execute(ctx, pod, rt, actions)
	tm.mark("execute")
	requeue = earliest(requeue, volumeRequeue)
	if rt, err = k.podRuntime(ctx, uid); err != nil {
		return 0, err
	}
	k.syncProbes(pod, rt)
	tm.mark("relist")
	if early != nil {
		// The final status goes after it, on the object it left.
		if updated := <-early; updated != nil {
			pod = updated
		}
	}
	if err := k.writeStatus(ctx, pod, computePodStatus(pod, k.statusInput(pod, rt, false))); err != nil {
		return 0, err
	}
	tm.mark("status")
	if actions.CreateSandbox || len(actions.Start) > 0 {
		slog.Debug("pod synced", "pod", podFormat(pod), "age", time.Since(pod.CreationTimestamp.Time), "took", tm.String())
	}
	return requeue, syncErr
}

func (k *Kubelet) statusInput(pod *v1.Pod, rt *podRuntime, terminal bool) statusInput {
	k.mu.Lock()
	waits := map[string]waitState{}
	for n, w := range k.waits[pod.UID] {
		waits[n] = w
	}
	k.mu.Unlock()
	return statusInput{Runtime: rt, Waits: waits, HostIPs: k.hostIPs, Terminal: terminal, Now: time.Now(),
		Probes: k.probeStatus(pod.UID)}
}

func (k *Kubelet) setWait(uid types.UID, name string, w *waitState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w == nil {
		delete(k.waits[uid], name)
		return
	}
	if k.waits[uid] == nil {
		k.waits[uid] = map[string]waitState{}
	}
	k.waits[uid][name] = *w
}

// execute carries out the actions of one sync.
func (k *Kubelet) execute(ctx context.Context, pod *v1.Pod, rt *podRuntime, a podActions) (time.Duration, error) {
	grace := gracePeriod(pod)
	for _, c := range a.Kill {
		k.stopContainer(ctx, pod, c, grace, "")
	}
	if a.KillPod {
		if a.CreateSandbox && len(rt.Sandboxes) > 0 {
			k.recorder.Event(pod, v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		}
		if err := k.killPod(ctx, pod, rt, grace); err != nil {
			return 0, err
		}
	}
	sandboxID := rt.sandboxID()
	attempt := uint32(0)
	if len(rt.Sandboxes) > 0 {
		attempt = rt.Sandboxes[0].Metadata.GetAttempt()
	}
	if a.CreateSandbox {
		if !pod.Spec.HostNetwork && !k.cniConfigured.Load() {
			k.recorder.Event(pod, v1.EventTypeWarning, "NetworkNotReady",
				"network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no pod CIDR assigned to this node yet")
			return 2 * time.Second, nil
		}
		id, err := k.createSandbox(ctx, pod, a.Attempt)
		if err != nil {
			return 0, err
		}
		sandboxID, attempt = id, a.Attempt
		if rt, err = k.podRuntime(ctx, pod.UID); err != nil {
			return 0, err
		}
	}
	if sandboxID == "" {
		return 0, nil
	}
	podIPs := rt.podIPs()
	if pod.Spec.HostNetwork {
		podIPs = k.hostIPs
	}
	sbConfig := k.sandboxConfig(pod, attempt)

	var requeue time.Duration
	var errs []error
	note := func(wait time.Duration, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		if wait > 0 && (requeue == 0 || wait < requeue) {
			requeue = wait
		}
	}
	if a.NextInit >= 0 {
		note(k.startContainer(ctx, pod, &pod.Spec.InitContainers[a.NextInit], "initContainers", sandboxID, sbConfig, rt, podIPs))
		return requeue, errors.Join(errs...)
	}
	// Start containers in parallel: they are independent.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, i := range a.Start {
		wg.Add(1)
		go func(c *v1.Container) {
			defer wg.Done()
			wait, err := k.startContainer(ctx, pod, c, "containers", sandboxID, sbConfig, rt, podIPs)
			mu.Lock()
			note(wait, err)
			mu.Unlock()
		}(&pod.Spec.Containers[i])
	}
	for _, i := range a.StartSidecars {
		wg.Add(1)
		go func(c *v1.Container) {
			defer wg.Done()
			wait, err := k.startContainer(ctx, pod, c, "initContainers", sandboxID, sbConfig, rt, podIPs)
			mu.Lock()
			note(wait, err)
			mu.Unlock()
		}(&pod.Spec.InitContainers[i])
	}
	wg.Wait()
	return requeue, errors.Join(errs...)
}

func gracePeriod(pod *v1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.cfg.DataDir, "pods", string(uid))
}

func (k *Kubelet) sandboxConfig(pod *v1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	return sandboxConfig(pod, attempt, sandboxParams{
		LogRoot:       k.cfg.PodLogsDir,
		CgroupParent:  k.cgroups.podCgroup(pod),
		ClusterDNS:    k.cfg.ClusterDNS,
		ClusterDomain: k.cfg.ClusterDomain,
	})
}

func (k *Kubelet) createSandbox(ctx context.Context, pod *v1.Pod, attempt uint32) (string, error) {
	if err := k.cgroups.ensure(pod); err != nil {
		return "", err
	}
	cfg := k.sandboxConfig(pod, attempt)
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return "", fmt.Errorf("create pod log dir: %w", err)
	}
	resp, err := k.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		k.recorder.Eventf(pod, v1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", grpcMessage(err))
		return "", fmt.Errorf("run sandbox of pod %s: %w", podFormat(pod), err)
	}
	slog.Debug("sandbox created", "pod", podFormat(pod), "sandbox", resp.PodSandboxId)
	k.forgetStaleNeighbour(ctx, resp.PodSandboxId)
	return resp.PodSandboxId, nil
}

// fieldPath is the event sub-object path of a container.
func fieldPath(kind, name string) string { return fmt.Sprintf("spec.%s{%s}", kind, name) }

func (k *Kubelet) containerEvent(pod *v1.Pod, kind, name, eventType, reason, format string, args ...any) {
	ref := &v1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: fieldPath(kind, name),
	}
	k.recorder.Eventf(ref, eventType, reason, format, args...)
}

// startContainer (re)starts one container unless it is in back-off. It
// returns how long until a retry is due.
func (k *Kubelet) startContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, kind, sandboxID string,
	sbConfig *runtimeapi.PodSandboxConfig, rt *podRuntime, podIPs []string) (time.Duration, error) {
	latest, _ := rt.byName(c.Name)
	now := time.Now()
	key := string(pod.UID) + "/" + c.Name
	if exited(latest) && latest.Labels[sandboxIDKey] == sandboxID && latest.Annotations[annotationContainerHash] == containerHash(c) {
		finished := time.Unix(0, latest.FinishedAt)
		if wait := k.restartBackoff.wait(key, finished, now); wait > 0 {
			delay := k.restartBackoff.current(key)
			k.setWait(pod.UID, c.Name, &waitState{Reason: reasonCrashLoopBackOff,
				Message: fmt.Sprintf("back-off %v restarting failed container=%s pod=%s", delay, c.Name, podFormat(pod))})
			k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "BackOff",
				"Back-off restarting failed container %s in pod %s", c.Name, podFormat(pod))
			return wait, nil
		}
		k.restartBackoff.next(key, now)
	}

	imageRef, wait, err := k.ensureImage(ctx, pod, c, kind, sbConfig)
	if err != nil {
		return wait, nil // reported as a waiting reason; retried after wait
	}

	restartCount := 0
	if latest != nil {
		restartCount = restartCountOf(latest) + 1
	} else {
		restartCount = restartCountFromLogs(filepath.Join(sbConfig.LogDirectory, c.Name))
	}
	cfg, err := k.containerConfig(ctx, pod, c, restartCount, imageRef, podIPs)
	if err != nil {
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonCreateContainerConfigError, Message: err.Error()})
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return 10 * time.Second, nil
	}
	created, err := k.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: sandboxID, Config: cfg, SandboxConfig: sbConfig,
	})
	if err != nil {
		msg := grpcMessage(err)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonCreateContainerError, Message: msg})
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", msg)
		return 0, fmt.Errorf("create container %s of pod %s: %w", c.Name, podFormat(pod), err)
	}
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Created", "Container created")
	if _, err := k.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		msg := grpcMessage(err)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonRunContainerError, Message: msg})
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", msg)
		return 0, fmt.Errorf("start container %s of pod %s: %w", c.Name, podFormat(pod), err)
	}
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Started", "Container started")
	if msg, err := k.postStart(ctx, pod, c, kind, created.ContainerId, podIPs); err != nil && pod.Spec.RestartPolicy != v1.RestartPolicyNever {
		// Killed; restarted (with back-off) once the runtime reports it exited.
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonPostStartHookError, Message: msg})
		return 0, nil
	}
	k.setWait(pod.UID, c.Name, nil)
	return 0, nil
}

// stopContainer stops one running container with a grace period.
func (k *Kubelet) stopContainer(ctx context.Context, pod *v1.Pod, c *runtimeapi.ContainerStatus, grace int64, message string) {
	name := c.Metadata.GetName()
	if pod != nil {
		kind := "containers"
		for _, ic := range pod.Spec.InitContainers {
			if ic.Name == name {
				kind = "initContainers"
			}
		}
		if message == "" {
			message = fmt.Sprintf("Stopping container %s", name)
		}
		k.containerEvent(pod, kind, name, v1.EventTypeNormal, "Killing", "%s", message)
		if running(c) {
			grace = k.preStop(ctx, pod, kind, name, c.Id, grace)
		}
	}
	_, err := k.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: grace})
	if err != nil {
		slog.Error("stop container", "container", c.Id, "name", name, "err", err)
	}
}

// killPod stops every running container (in parallel, with the grace
// period) and then every ready sandbox of the pod.
func (k *Kubelet) killPod(ctx context.Context, pod *v1.Pod, rt *podRuntime, grace int64) error {
	k.killContainers(ctx, pod, rt, grace)
	var errs []error
	for _, s := range rt.Sandboxes {
		if s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		if _, err := k.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop sandbox %s: %w", s.Id, err))
		}
	}
	return errors.Join(errs...)
}

// killContainers stops every running container of the pod, in parallel,
// with the grace period.
func (k *Kubelet) killContainers(ctx context.Context, pod *v1.Pod, rt *podRuntime, grace int64) {
	var wg sync.WaitGroup
	for _, c := range rt.Containers {
		if !running(c) && c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.stopContainer(ctx, pod, c, grace, "")
		}()
	}
	wg.Wait()
}

// stopFinished stops the sandbox of a pod whose phase is terminal and
// writes its final status; its containers stay for logs until deletion.
func (k *Kubelet) stopFinished(ctx context.Context, pod *v1.Pod, rt *podRuntime) error {
	k.probes.RemovePod(pod.UID)
	grace := gracePeriod(pod)
	if pod.Status.Reason == reasonEvicted {
		grace = 0 // hard eviction thresholds allow no grace, as upstream's
	}
	if err := k.killPod(ctx, pod, rt, grace); err != nil {
		return err
	}
	// A finished pod's volumes go (an evicted pod's emptyDir is what
	// relieves disk pressure); its logs stay until the pod is deleted.
	k.tearDownVolumes(pod.UID)
	rt, err := k.podRuntime(ctx, pod.UID)
	if err != nil {
		return err
	}
	st := computePodStatus(pod, k.statusInput(pod, rt, false))
	if terminal(pod.Status.Phase) {
		st.Phase = pod.Status.Phase // a terminal phase never changes
	}
	return k.writeStatus(ctx, pod, st)
}

// terminate runs a pod's graceful deletion: stop containers with the
// grace period, report the final status, remove sandbox and cgroup, then
// delete the API object for good. The sandbox is not stopped first:
// removing it stops it, and containerd would run the CNI teardown (four
// plugins, runc) once for each.
func (k *Kubelet) terminate(ctx context.Context, pod *v1.Pod, rt *podRuntime) error {
	k.probes.RemovePod(pod.UID)
	k.killContainers(ctx, pod, rt, gracePeriod(pod))
	rt, err := k.podRuntime(ctx, pod.UID)
	if err != nil {
		return err
	}
	if len(rt.Sandboxes) > 0 || pod.Status.Phase != v1.PodSucceeded && pod.Status.Phase != v1.PodFailed {
		st := computePodStatus(pod, k.statusInput(pod, rt, true))
		if terminal(pod.Status.Phase) {
			st.Phase = pod.Status.Phase
		}
		if err := k.writeStatus(ctx, pod, st); err != nil && !apierrors.IsNotFound(err) {
			slog.Warn("final pod status", "pod", podFormat(pod), "err", err)
		}
	}
	if err := k.removePod(ctx, pod.UID, rt); err != nil {
		return err
	}
	if isStaticPod(pod) {
		return k.finishStatic(ctx, pod)
	}
	err = k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", podFormat(pod), err)
	}
	return nil
}

// teardown removes what the runtime holds for a pod the API forgot.
func (k *Kubelet) teardown(ctx context.Context, uid types.UID, rt *podRuntime, grace int64) error {
	if len(rt.Sandboxes) == 0 && len(rt.Containers) == 0 {
		k.forget(uid)
		return nil
	}
	slog.Info("tearing down pod that is gone from the API", "uid", uid)
	k.killContainers(ctx, nil, rt, grace)
	return k.removePod(ctx, uid, rt)
}

// removePod removes the pod's sandboxes (and with them its containers),
// its cgroup, its volumes and its directory.
func (k *Kubelet) removePod(ctx context.Context, uid types.UID, rt *podRuntime) error {
	var errs []error
	for _, s := range rt.Sandboxes {
		if _, err := k.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", s.Id, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := k.cgroups.remove(uid); err != nil {
		slog.Warn("remove pod cgroup (housekeeping retries)", "uid", uid, "err", err)
	}
	k.forget(uid)
	return nil
}

// forget drops what the kubelet holds for a pod that is gone: its
// volumes and directory, waiting reasons and back-offs.
func (k *Kubelet) forget(uid types.UID) {
	k.tearDownVolumes(uid)
	k.probes.RemovePod(uid)
	k.mu.Lock()
	delete(k.waits, uid)
	k.mu.Unlock()
	k.restartBackoff.forgetPrefix(string(uid) + "/")
	k.pullBackoff.forgetPrefix(string(uid) + "/")
	k.pullErrors.ForgetPrefix(string(uid) + "/")
}

// writeStatus posts the pod status when it differs from the API's.
func (k *Kubelet) writeStatus(ctx context.Context, pod *v1.Pod, st v1.PodStatus) error {
	if isStaticPod(pod) {
		return k.writeStaticStatus(ctx, pod, st) // to its mirror pod
	}
	_, err := k.updateStatus(ctx, pod, st)
	return err
}

// writeStatusEarly writes a status while the pod is being started and
// returns the object the API server stored (nil when nothing was written:
// a later write starts from the cache).
func (k *Kubelet) writeStatusEarly(ctx context.Context, pod *v1.Pod, st v1.PodStatus) *v1.Pod {
	if isStaticPod(pod) {
		return nil // its mirror pod hears the final status
	}
	updated, err := k.updateStatus(ctx, pod, st)
	if err != nil {
		slog.Debug("early pod status", "pod", podFormat(pod), "err", err)
	}
	return updated
}

// updateStatus writes st as pod's status unless the API has it already,
// and returns the stored object (nil when nothing was written).
func (k *Kubelet) updateStatus(ctx context.Context, pod *v1.Pod, st v1.PodStatus) (*v1.Pod, error) {
	if apiequality.Semantic.DeepEqual(pod.Status, st) {
		return nil, nil
	}
	updated := pod.DeepCopy()
	updated.Status = st
	stored, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Our cache is behind: retry on the current object (the status
		// is ours to write, whatever else changed).
		cur, gerr := k.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if cur.UID != pod.UID {
			return nil, nil
		}
		if terminal(cur.Status.Phase) && !terminal(st.Phase) {
			return nil, nil // a terminal phase never changes (an eviction won)
		}
		cur.Status = st
		stored, err = k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("update status of pod %s: %w", podFormat(pod), err)
	}
	return stored, nil
}

// grpcMessage is the message of a gRPC error without the "rpc error:
// code = ... desc =" wrapping, as upstream shows it.
func grpcMessage(err error) string {
	return grpcstatus.Convert(err).Message()
}

// forgetStaleNeighbour drops the host's ARP entry for a new sandbox's IP,
// which an earlier pod with the same IP may have left (see
// network.ForgetNeighbour).
func (k *Kubelet) forgetStaleNeighbour(ctx context.Context, sandboxID string) {
	st, err := k.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID})
	if err != nil || st.GetStatus().GetNetwork().GetIp() == "" {
		return
	}
	ip := net.ParseIP(st.GetStatus().GetNetwork().GetIp())
	if ip == nil {
		return
	}
	if err := network.ForgetNeighbour(network.BridgeName, ip); err != nil {
		slog.Debug("forget neighbour entry", "ip", ip, "err", err)
	}
}

// syncTimer records how long the steps of one sync took (debug logs).
type syncTimer struct {
	last  time.Time
	steps []string
}

func newSyncTimer() *syncTimer { return &syncTimer{last: time.Now()} }

func (t *syncTimer) mark(step string) {
	now := time.Now()
	t.steps = append(t.steps, fmt.Sprintf("%s=%v", step, now.Sub(t.last).Round(time.Millisecond)))
	t.last = now
}

func (t *syncTimer) String() string { return strings.Join(t.steps, " ") }

func terminal(phase v1.PodPhase) bool {
	return phase == v1.PodSucceeded || phase == v1.PodFailed
}
