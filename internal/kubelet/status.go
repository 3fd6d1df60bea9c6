package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Container waiting reasons, as upstream reports them.
const (
	reasonContainerCreating          = "ContainerCreating"
	reasonPodInitializing            = "PodInitializing"
	reasonCrashLoopBackOff           = "CrashLoopBackOff"
	reasonErrImagePull               = "ErrImagePull"
	reasonImagePullBackOff           = "ImagePullBackOff"
	reasonErrImageNeverPull          = "ErrImageNeverPull"
	reasonCreateContainerConfigError = "CreateContainerConfigError"
	reasonCreateContainerError       = "CreateContainerError"
	reasonRunContainerError          = "RunContainerError"
)

// waitState is why a container is not running, set by the last sync that
// tried to start it.
type waitState struct {
	Reason, Message string
}

// statusInput is everything computePodStatus looks at besides the pod.
type statusInput struct {
	Runtime *podRuntime
	// Waits holds waiting reasons by container name.
	Waits map[string]waitState
	// HostIPs are the node's addresses (InternalIP first).
	HostIPs []string
	// Terminal forces a terminal phase: the pod is being deleted and all
	// its containers have been stopped.
	Terminal bool
	Now      time.Time
	// Probes says whether a running container has started and is ready
	// (package prober); nil means it has no probes: started and ready.
	Probes func(c *v1.Container, containerID string) (started, ready bool)
}

// computePodStatus derives the pod status the kubelet reports from the
// runtime's state. Fields the kubelet does not own (PodScheduled, reason
// and message set by others) are carried over from the old status.
func computePodStatus(pod *v1.Pod, in statusInput) v1.PodStatus {
	old := pod.Status
	rt := in.Runtime
	if rt == nil {
		rt = &podRuntime{}
	}
	now := apiTime(in.Now)
	s := v1.PodStatus{
		Reason:             old.Reason,
		Message:            old.Message,
		NominatedNodeName:  old.NominatedNodeName,
		QOSClass:           qosClass(pod),
		StartTime:          old.StartTime,
		ObservedGeneration: pod.Generation,
	}
	if s.StartTime == nil {
		s.StartTime = &now
	}
	if len(in.HostIPs) > 0 {
		s.HostIP = in.HostIPs[0]
		for _, ip := range in.HostIPs {
			s.HostIPs = append(s.HostIPs, v1.HostIP{IP: ip})
		}
	}
	var ips []string
	if pod.Spec.HostNetwork {
		ips = in.HostIPs
	} else if rt.sandboxReady(false) {
		ips = rt.podIPs()
	}
	if len(ips) > 0 {
		s.PodIP = ips[0]
		for _, ip := range ips {
			s.PodIPs = append(s.PodIPs, v1.PodIP{IP: ip})
		}
	} else {
		s.PodIP, s.PodIPs = old.PodIP, old.PodIPs
	}

	defaultReason := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		defaultReason = reasonPodInitializing
	}
	for i := range pod.Spec.InitContainers {
		s.InitContainerStatuses = append(s.InitContainerStatuses,
			containerStatus(&pod.Spec.InitContainers[i], rt, in.Waits, defaultReason, old.InitContainerStatuses, in.Probes))
	}
	for i := range pod.Spec.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses,
			containerStatus(&pod.Spec.Containers[i], rt, in.Waits, defaultReason, old.ContainerStatuses, in.Probes))
	}

	s.Phase = podPhase(pod, s.InitContainerStatuses, s.ContainerStatuses, in.Terminal)
	if s.Phase == v1.PodSucceeded || s.Phase == v1.PodFailed || in.Terminal {
		for i := range s.ContainerStatuses {
			s.ContainerStatuses[i].Ready = false
		}
	}

	s.Conditions = podConditions(pod, &s, rt, old.Conditions, now)
	return s
}

func containerStatus(c *v1.Container, rt *podRuntime, waits map[string]waitState, defaultReason string, old []v1.ContainerStatus,
	probes func(*v1.Container, string) (bool, bool)) v1.ContainerStatus {
	st := v1.ContainerStatus{Name: c.Name, Image: c.Image}
	latest, previous := rt.byName(c.Name)
	wait, hasWait := waits[c.Name]
	if latest == nil {
		if !hasWait {
			wait = waitState{Reason: defaultReason}
		}
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: wait.Reason, Message: wait.Message}
		st.Started = ptr(false)
		// Keep what the API knows (the runtime may have lost the
		// containers, e.g. after a reboot).
		for _, o := range old {
			if o.Name == c.Name {
				st.RestartCount = o.RestartCount
				st.LastTerminationState = o.LastTerminationState
			}
		}
		return st
	}
	st.ContainerID = "containerd://" + latest.Id
	st.ImageID = latest.ImageRef
	st.RestartCount = int32(restartCountOf(latest))
	switch latest.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: apiTime(time.Unix(0, latest.StartedAt))}
		started, ready := true, true
		if probes != nil {
			started, ready = probes(c, latest.Id)
		}
		st.Ready, st.Started = ready, ptr(started)
		if exited(previous) {
			st.LastTerminationState.Terminated = terminated(previous, rt)
		}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		st.Started = ptr(false)
		if hasWait {
			st.State.Waiting = &v1.ContainerStateWaiting{Reason: wait.Reason, Message: wait.Message}
			st.LastTerminationState.Terminated = terminated(latest, rt)
		} else {
			st.State.Terminated = terminated(latest, rt)
			if exited(previous) {
				st.LastTerminationState.Terminated = terminated(previous, rt)
			}
		}
	default: // created but not started, or unknown
		st.Started = ptr(false)
		if !hasWait {
			wait = waitState{Reason: reasonContainerCreating}
		}
		st.State.Waiting = &v1.ContainerStateWaiting{Reason: wait.Reason, Message: wait.Message}
		if exited(previous) {
			st.LastTerminationState.Terminated = terminated(previous, rt)
		}
	}
	return st
}

func terminated(c *runtimeapi.ContainerStatus, rt *podRuntime) *v1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = "Error"
		if c.ExitCode == 0 {
			reason = "Completed"
		}
	}
	msg := c.Message
	if m := rt.Messages[c.Id]; m != "" {
		msg = m
	}
	return &v1.ContainerStateTerminated{
		ExitCode:    c.ExitCode,
		Reason:      reason,
		Message:     msg,
		StartedAt:   apiTime(time.Unix(0, c.StartedAt)),
		FinishedAt:  apiTime(time.Unix(0, c.FinishedAt)),
		ContainerID: "containerd://" + c.Id,
	}
}

// podPhase follows upstream's rules: Pending until init containers are
// done and every container has started once; Running while any runs or
// will be restarted; Succeeded or Failed once all have terminated for good.
func podPhase(pod *v1.Pod, initStatuses, statuses []v1.ContainerStatus, terminal bool) v1.PodPhase {
	policy := pod.Spec.RestartPolicy
	for i, s := range initStatuses {
		if t := s.State.Terminated; t != nil && t.ExitCode == 0 && !sidecarAt(pod, i) {
			continue
		}
		if sidecarAt(pod, i) && s.State.Running != nil && s.Started != nil && *s.Started {
			continue // a started sidecar does not hold up initialization
		}
		anyStarted := false
		for _, c := range statuses {
			if c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil {
				anyStarted = true
			}
		}
		if anyStarted {
			break // initialized before (e.g. the sandbox was recreated)
		}
		if t := s.State.Terminated; t != nil && policy == v1.RestartPolicyNever && !sidecarAt(pod, i) {
			return v1.PodFailed
		}
		if terminal {
			return v1.PodFailed
		}
		return v1.PodPending
	}

	var runningN, waiting, stopped, failed, succeededN int
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			runningN++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeededN++
			} else {
				failed++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
				if s.LastTerminationState.Terminated.ExitCode == 0 {
					succeededN++
				} else {
					failed++
				}
			} else {
				waiting++
			}
		}
	}
	if terminal {
		if runningN == 0 && waiting == 0 && failed == 0 && stopped > 0 {
			return v1.PodSucceeded
		}
		return v1.PodFailed
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case runningN > 0:
		return v1.PodRunning
	case stopped > 0:
		if policy == v1.RestartPolicyAlways {
			return v1.PodRunning
		}
		if stopped == succeededN {
			return v1.PodSucceeded
		}
		if policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		return v1.PodRunning
	}
	return v1.PodPending
}

func podConditions(pod *v1.Pod, s *v1.PodStatus, rt *podRuntime, old []v1.PodCondition, now metav1.Time) []v1.PodCondition {
	gen := pod.Generation
	var conds []v1.PodCondition

	sandboxReady := rt.sandboxReady(pod.Spec.HostNetwork) && s.Phase != v1.PodSucceeded && s.Phase != v1.PodFailed
	conds = append(conds, v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: boolStatus(sandboxReady)})

	// Initialized
	init := v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionTrue}
	var incomplete []string
	for i, st := range s.InitContainerStatuses {
		if sidecarAt(pod, i) {
			if st.Started == nil || !*st.Started {
				incomplete = append(incomplete, st.Name)
			}
			continue
		}
		if t := st.State.Terminated; t == nil || t.ExitCode != 0 {
			incomplete = append(incomplete, st.Name)
		}
	}
	switch {
	case s.Phase == v1.PodSucceeded:
		init.Reason = "PodCompleted"
	case len(incomplete) > 0 && !anyRegularStarted(s.ContainerStatuses):
		init.Status = v1.ConditionFalse
		init.Reason = "ContainersNotInitialized"
		init.Message = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))
	}
	conds = append(conds, init)

	// ContainersReady and Ready
	ready := v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionTrue}
	var unready []string
	for i, st := range s.InitContainerStatuses {
		if sidecarAt(pod, i) && !st.Ready {
			unready = append(unready, st.Name)
		}
	}
	for _, st := range s.ContainerStatuses {
		if !st.Ready {
			unready = append(unready, st.Name)
		}
	}
	switch {
	case s.Phase == v1.PodSucceeded:
		ready.Status, ready.Reason = v1.ConditionFalse, "PodCompleted"
	case len(unready) > 0:
		ready.Status, ready.Reason = v1.ConditionFalse, "ContainersNotReady"
		ready.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	podReady := ready
	podReady.Type = v1.PodReady
	if ready.Status == v1.ConditionTrue {
		if msgs := readinessGateMessages(pod, old); len(msgs) > 0 {
			podReady = v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse,
				Reason: "ReadinessGatesNotReady", Message: strings.Join(msgs, ", ")}
		}
	}
	conds = append(conds, podReady, ready)

	// Keep conditions owned by others (PodScheduled, DisruptionTarget, ...).
	ours := map[v1.PodConditionType]bool{}
	for _, c := range conds {
		ours[c.Type] = true
	}
	for _, c := range old {
		if !ours[c.Type] {
			conds = append(conds, c)
		}
	}
	for i := range conds {
		c := &conds[i]
		if !ours[c.Type] {
			continue
		}
		c.ObservedGeneration = gen
		c.LastTransitionTime = now
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
	}
	order := map[v1.PodConditionType]int{
		v1.PodReadyToStartContainers: 0, v1.PodInitialized: 1, v1.PodReady: 2, v1.ContainersReady: 3, v1.PodScheduled: 4,
	}
	sort.SliceStable(conds, func(i, j int) bool {
		oi, ok := order[conds[i].Type]
		if !ok {
			oi = 5
		}
		oj, ok := order[conds[j].Type]
		if !ok {
			oj = 5
		}
		return oi < oj
	})
	return conds
}

// readinessGateMessages says which of the pod's readiness gates (conditions
// others set) are not True, in upstream's words.
func readinessGateMessages(pod *v1.Pod, conds []v1.PodCondition) []string {
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var c *v1.PodCondition
		for i := range conds {
			if conds[i].Type == g.ConditionType {
				c = &conds[i]
			}
		}
		switch {
		case c == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		case c.Status != v1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
		}
	}
	return msgs
}

func anyRegularStarted(statuses []v1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

func boolStatus(b bool) v1.ConditionStatus {
	if b {
		return v1.ConditionTrue
	}
	return v1.ConditionFalse
}

// apiTime drops what the API cannot store (sub-second precision), so a
// status read back compares equal to the one computed.
func apiTime(t time.Time) metav1.Time {
	return metav1.NewTime(time.Unix(t.Unix(), 0))
}

func ptr[T any](v T) *T { return &v }

// qosClass follows upstream: Guaranteed when every container has equal
// cpu and memory requests and limits, BestEffort when none has any.
func qosClass(pod *v1.Pod) v1.PodQOSClass {
	requests := v1.ResourceList{}
	limits := v1.ResourceList{}
	zero := resource.Quantity{}
	guaranteed := true
	all := append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if name != v1.ResourceCPU && name != v1.ResourceMemory || q.Cmp(zero) == 0 {
				continue
			}
			add(requests, name, q)
		}
		seen := map[v1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if name != v1.ResourceCPU && name != v1.ResourceMemory || q.Cmp(zero) == 0 {
				continue
			}
			seen[name] = true
			add(limits, name, q)
		}
		if !seen[v1.ResourceCPU] || !seen[v1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return v1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
			}
		}
	}
	if guaranteed && len(limits) == 2 {
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

func add(l v1.ResourceList, name v1.ResourceName, q resource.Quantity) {
	if cur, ok := l[name]; ok {
		cur.Add(q)
		l[name] = cur
	} else {
		l[name] = q.DeepCopy()
	}
}
