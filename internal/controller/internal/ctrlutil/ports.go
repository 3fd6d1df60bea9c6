package ctrlutil

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// FindPort resolves a Service port's targetPort against a pod: a number is
// used as is (0 means "same as port"), a name is looked up among the pod's
// container ports with the same protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	target := sp.TargetPort
	switch target.Type {
	case intstr.String:
		name := target.StrVal
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == name && protocolOf(p.Protocol) == protocolOf(sp.Protocol) {
					return p.ContainerPort, nil
				}
			}
		}
		// Restartable init containers (sidecars) may serve named ports too.
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				continue
			}
			for _, p := range c.Ports {
				if p.Name == name && protocolOf(p.Protocol) == protocolOf(sp.Protocol) {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("no container port named %q (%s) in pod %s/%s", name, protocolOf(sp.Protocol), pod.Namespace, pod.Name)
	default:
		if target.IntVal != 0 {
			return target.IntVal, nil
		}
		return sp.Port, nil
	}
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// ShouldPodBeInEndpoints reports whether a pod is published at all for a
// Service: it needs an IP, must not be finished for good, and is left out
// while terminating unless includeTerminating.
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return !IsPodTerminal(pod)
	case corev1.RestartPolicyOnFailure:
		return pod.Status.Phase != corev1.PodSucceeded
	}
	return true
}

// ShouldSetHostname reports whether a pod's hostname is published for the
// Service (the pod's subdomain names the Service).
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// PodIPv4 returns the pod's first IPv4 address, or "".
func PodIPv4(pod *corev1.Pod) string {
	ips := make([]string, 0, len(pod.Status.PodIPs)+1)
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}
	for _, ip := range ips {
		if isIPv4(ip) {
			return ip
		}
	}
	return ""
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}
