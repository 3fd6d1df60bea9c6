package core

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Pods is the strategy of core/v1 pods.
func Pods() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Name: "pods", ShortNames: []string{"po"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &corev1.Pod{} },
		NewList: func() runtime.Object { return &corev1.PodList{} },
		PrepareForCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
			admitPod(pod)
			pod.Status.QOSClass = QOSClass(&pod.Spec)
		},
		Default: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			DefaultPodSpec(&pod.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return ValidatePodSpec(&obj.(*corev1.Pod).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		GracePeriod: podGracePeriod,
		Fields: func(obj runtime.Object) fields.Set {
			pod := obj.(*corev1.Pod)
			podIPs := make([]string, 0, len(pod.Status.PodIPs))
			for _, ip := range pod.Status.PodIPs {
				podIPs = append(podIPs, ip.IP)
			}
			return fields.Set{
				"spec.nodeName": pod.Spec.NodeName, "spec.restartPolicy": string(pod.Spec.RestartPolicy),
				"spec.schedulerName": pod.Spec.SchedulerName, "spec.serviceAccountName": pod.Spec.ServiceAccountName,
				"spec.hostNetwork": fmt.Sprint(pod.Spec.HostNetwork), "status.phase": string(pod.Status.Phase),
				"status.podIP": pod.Status.PodIP, "status.podIPs": strings.Join(podIPs, ","),
				"status.nominatedNodeName": pod.Status.NominatedNodeName,
			}
		},
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn,
			registry.Col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
			registry.Col("Status", "string", 0, "The aggregate status of the containers in this pod."),
			registry.Col("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
			registry.AgeColumn,
			registry.Col("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
			registry.Col("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."),
			registry.Col("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
			registry.Col("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
		},
		Row: func(obj runtime.Object) []interface{} { return podRow(obj.(*corev1.Pod)) },
	}
}

// admitPod does what upstream's default admission plugins do to a new pod:
// the default service account, the default priority and the default
// not-ready/unreachable tolerations.
func admitPod(pod *corev1.Pod) {
	// A mirror pod (a kubelet's static pod) gets no service account, as
	// upstream's ServiceAccount admission leaves it.
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; pod.Spec.ServiceAccountName == "" && !mirror {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	if pod.Spec.Priority == nil && pod.Spec.PriorityClassName == "" {
		pod.Spec.Priority = ptr.To(int32(0))
	}
	if pod.Spec.PreemptionPolicy == nil {
		p := corev1.PreemptLowerPriority
		pod.Spec.PreemptionPolicy = &p
	}
	for _, key := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} {
		has := false
		for _, t := range pod.Spec.Tolerations {
			if (t.Key == key || t.Key == "" && t.Operator == corev1.TolerationOpExists) && (t.Effect == "" || t.Effect == corev1.TaintEffectNoExecute) {
				has = true
			}
		}
		if !has {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(300)),
			})
		}
	}
}

// podGracePeriod: a pod on a node is deleted gracefully (its kubelet stops
// it and removes the object); an unscheduled one goes at once.
func podGracePeriod(obj runtime.Object, requested *int64) (int64, bool) {
	pod := obj.(*corev1.Pod)
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if requested != nil {
		grace = *requested
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	if grace < 0 {
		grace = 1
	}
	return grace, true
}

func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	// Only a few spec fields may change on a running pod.
	a := pod.Spec.DeepCopy()
	b := old.Spec.DeepCopy()
	for i := range a.Containers {
		if i < len(b.Containers) {
			a.Containers[i].Image = b.Containers[i].Image
		}
	}
	for i := range a.InitContainers {
		if i < len(b.InitContainers) {
			a.InitContainers[i].Image = b.InitContainers[i].Image
		}
	}
	a.ActiveDeadlineSeconds = b.ActiveDeadlineSeconds
	if len(a.Tolerations) >= len(b.Tolerations) && apiequality.Semantic.DeepEqual(a.Tolerations[:len(b.Tolerations)], b.Tolerations) {
		a.Tolerations = b.Tolerations
	}
	if b.TerminationGracePeriodSeconds != nil && *b.TerminationGracePeriodSeconds < 0 && a.TerminationGracePeriodSeconds != nil && *a.TerminationGracePeriodSeconds == 1 {
		a.TerminationGracePeriodSeconds = b.TerminationGracePeriodSeconds
	}
	if !apiequality.Semantic.DeepEqual(a, b) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")}
	}
	if old.Spec.NodeName != "" && pod.Spec.NodeName != old.Spec.NodeName {
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "nodeName"), "field is immutable")}
	}
	return nil
}

// QOSClass computes a pod's quality of service class from its resources.
func QOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	any := false
	all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory || q.IsZero() {
				continue
			}
			any = true
			if cur, ok := requests[name]; ok {
				q.Add(cur)
			}
			requests[name] = q
		}
		seen := 0
		for name, q := range c.Resources.Limits {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory || q.IsZero() {
				continue
			}
			any = true
			seen++
			if cur, ok := limits[name]; ok {
				q.Add(cur)
			}
			limits[name] = q
		}
		if seen < 2 {
			guaranteed = false
		}
	}
	if !any {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
			}
		}
	}
	if guaranteed && len(limits) == 2 {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func podRow(pod *corev1.Pod) []interface{} {
	restarts, lastRestart := 0, time.Time{}
	total := len(pod.Spec.Containers)
	ready := 0
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	initializing := false
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}
	for i, c := range pod.Status.InitContainerStatuses {
		restarts += int(c.RestartCount)
		if c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.After(lastRestart) {
			lastRestart = c.LastTerminationState.Terminated.FinishedAt.Time
		}
		if sidecars[c.Name] && c.Started != nil && *c.Started {
			if c.Ready {
				ready++
			}
			continue
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case c.State.Terminated != nil:
			if c.State.Terminated.Reason != "" {
				reason = "Init:" + c.State.Terminated.Reason
			} else if c.State.Terminated.Signal != 0 {
				reason = fmt.Sprintf("Init:Signal:%d", c.State.Terminated.Signal)
			} else {
				reason = fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode)
			}
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing || conditionTrue(pod, corev1.PodInitialized) {
		restarts = 0
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			restarts += int(c.RestartCount)
			if c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.After(lastRestart) {
				lastRestart = c.LastTerminationState.Terminated.FinishedAt.Time
			}
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				reason = c.State.Terminated.Reason
			case c.State.Terminated != nil && c.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", c.State.Terminated.Signal)
			case c.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			if conditionTrue(pod, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}
	if pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost" {
		reason = "Unknown"
	} else if pod.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	restartsStr := fmt.Sprint(restarts)
	if !lastRestart.IsZero() {
		restartsStr = fmt.Sprintf("%d (%s ago)", restarts, registry.Age(metav1.NewTime(lastRestart)))
	}
	ip := "<none>"
	if pod.Status.PodIP != "" {
		ip = pod.Status.PodIP
	}
	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		passed := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
					passed++
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", passed, n)
	}
	return []interface{}{pod.Name, fmt.Sprintf("%d/%d", ready, total), reason, restartsStr,
		registry.Age(pod.CreationTimestamp), ip, registry.OrNone(pod.Spec.NodeName),
		registry.OrNone(pod.Status.NominatedNodeName), gates}
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
