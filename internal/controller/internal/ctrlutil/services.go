package ctrlutil

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ServicePodHandler returns pod event handlers that call enqueue with the
// key of every Service selecting the pod, before or after the change.
func ServicePodHandler(lister corelisters.ServiceLister, enqueue func(key string)) cache.ResourceEventHandler {
	each := func(keys []string) {
		for _, k := range keys {
			enqueue(k)
		}
	}
	addOrDelete := func(obj any) {
		if pod, ok := FromTombstone[*corev1.Pod](obj); ok {
			each(ServiceKeysForPod(lister, pod))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: addOrDelete,
		UpdateFunc: func(old, cur any) {
			each(ServiceKeysForPodChange(lister, old.(*corev1.Pod), cur.(*corev1.Pod)))
		},
		DeleteFunc: addOrDelete,
	}
}

// ServiceKeysForPod returns the keys of the Services in the pod's
// namespace whose selector matches the pod's labels.
func ServiceKeysForPod(lister corelisters.ServiceLister, pod *corev1.Pod) []string {
	svcs, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, s := range svcs {
		if s.Spec.Selector == nil {
			continue
		}
		if labels.Set(s.Spec.Selector).AsSelectorPreValidated().Matches(labels.Set(pod.Labels)) {
			keys = append(keys, s.Namespace+"/"+s.Name)
		}
	}
	return keys
}

// ServiceKeysForPodChange returns the Services to resync after a pod
// update: none when nothing endpoints care about changed, else those
// selecting the pod before or after.
func ServiceKeysForPodChange(lister corelisters.ServiceLister, old, cur *corev1.Pod) []string {
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if !labelsChanged && !endpointRelevantChange(old, cur) {
		return nil
	}
	keys := ServiceKeysForPod(lister, cur)
	if labelsChanged {
		seen := map[string]bool{}
		for _, k := range keys {
			seen[k] = true
		}
		for _, k := range ServiceKeysForPod(lister, old) {
			if !seen[k] {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func endpointRelevantChange(old, cur *corev1.Pod) bool {
	return old.Status.PodIP != cur.Status.PodIP ||
		!equality.Semantic.DeepEqual(old.Status.PodIPs, cur.Status.PodIPs) ||
		IsPodReady(old) != IsPodReady(cur) ||
		readyTime(old) != readyTime(cur) ||
		old.Status.Phase != cur.Status.Phase ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		old.Spec.Hostname != cur.Spec.Hostname ||
		old.Spec.Subdomain != cur.Spec.Subdomain ||
		!equality.Semantic.DeepEqual(containerPorts(old), containerPorts(cur))
}

func readyTime(p *corev1.Pod) int64 {
	if c := PodCondition(&p.Status, corev1.PodReady); c != nil {
		return c.LastTransitionTime.UnixNano()
	}
	return 0
}

func containerPorts(p *corev1.Pod) [][]corev1.ContainerPort {
	out := make([][]corev1.ContainerPort, 0, len(p.Spec.Containers))
	for _, c := range p.Spec.Containers {
		out = append(out, c.Ports)
	}
	return out
}
