package endpoints

import (
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// MaxCapacity is the most addresses an Endpoints object carries; beyond it
// the object is truncated and annotated, as upstream does (EndpointSlices
// carry the full set).
const MaxCapacity = 1000

// Labels and annotations the controller maintains.
const (
	HeadlessLabel            = corev1.IsHeadlessService              // service.kubernetes.io/headless
	TriggerTimeAnnotation    = corev1.EndpointsLastChangeTriggerTime // endpoints.kubernetes.io/last-change-trigger-time
	OverCapacityAnnotation   = corev1.EndpointsOverCapacity          // endpoints.kubernetes.io/over-capacity
	overCapacityTruncated    = "truncated"
	leaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader"
)

// Subsets computes the Endpoints subsets of a Service: one address per
// published pod (ready ones in addresses, the others in
// notReadyAddresses), ports resolved per pod from each Service port's
// targetPort, and addresses that resolve to the same ports grouped into
// one subset. A headless Service without ports lists bare addresses.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, pod := range pods {
		if !ctrlutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ip := ctrlutil.PodIPv4(pod)
		if ip == "" {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:        ip,
			NodeName:  nodeName(pod),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if ctrlutil.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		var ports []corev1.EndpointPort
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				continue
			}
		} else {
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				n, err := ctrlutil.FindPort(pod, sp)
				if err != nil {
					continue
				}
				ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
			}
			if len(ports) == 0 {
				continue
			}
		}
		sortPorts(ports)
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		if svc.Spec.PublishNotReadyAddresses || ctrlutil.IsPodReady(pod) {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	subsets := []corev1.EndpointSubset{}
	for _, k := range keys {
		g := groups[k]
		sortAddresses(g.ready)
		sortAddresses(g.notReady)
		subsets = append(subsets, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return subsets
}

func nodeName(pod *corev1.Pod) *string {
	if pod.Spec.NodeName == "" {
		return nil
	}
	n := pod.Spec.NodeName
	return &n
}

func sortPorts(ports []corev1.EndpointPort) {
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Name != ports[j].Name {
			return ports[i].Name < ports[j].Name
		}
		if ports[i].Port != ports[j].Port {
			return ports[i].Port < ports[j].Port
		}
		return ports[i].Protocol < ports[j].Protocol
	})
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.Name + "/" + strconv.Itoa(int(p.Port)) + "/" + string(p.Protocol) + ";")
	}
	return b.String()
}

func sortAddresses(addrs []corev1.EndpointAddress) {
	sort.Slice(addrs, func(i, j int) bool {
		a, errA := netip.ParseAddr(addrs[i].IP)
		b, errB := netip.ParseAddr(addrs[j].IP)
		if errA == nil && errB == nil && a != b {
			return a.Less(b)
		}
		if addrs[i].IP != addrs[j].IP {
			return addrs[i].IP < addrs[j].IP
		}
		return refName(addrs[i]) < refName(addrs[j])
	})
}

func refName(a corev1.EndpointAddress) string {
	if a.TargetRef == nil {
		return ""
	}
	return a.TargetRef.Name
}

// Build returns the Endpoints object to write for svc, starting from the
// current one (nil if none), and whether a write is needed at all.
// triggerTime, when not zero, becomes the last-change-trigger-time
// annotation.
func Build(svc *corev1.Service, subsets []corev1.EndpointSubset, current *corev1.Endpoints, triggerTime time.Time) (*corev1.Endpoints, bool) {
	if current != nil {
		labels := current.Labels
		if _, ok := labels[HeadlessLabel]; ok {
			labels = without(labels, HeadlessLabel)
		}
		if equalSubsets(current.Subsets, subsets) &&
			equality.Semantic.DeepEqual(labels, svc.Labels) &&
			capacityAnnotationCorrect(current) {
			return current, false
		}
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	if current != nil {
		ep = current.DeepCopy()
	}
	ep.Subsets = subsets
	ep.Labels = map[string]string{}
	for k, v := range svc.Labels {
		ep.Labels[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		ep.Labels[HeadlessLabel] = ""
	}
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if !triggerTime.IsZero() {
		ep.Annotations[TriggerTimeAnnotation] = triggerTime.UTC().Format(time.RFC3339Nano)
	} else {
		delete(ep.Annotations, TriggerTimeAnnotation)
	}
	if truncate(ep) {
		ep.Annotations[OverCapacityAnnotation] = overCapacityTruncated
	} else {
		delete(ep.Annotations, OverCapacityAnnotation)
	}
	return ep, true
}

func without(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// equalSubsets compares subsets ignoring the pods' resourceVersions.
func equalSubsets(a, b []corev1.EndpointSubset) bool {
	strip := func(ss []corev1.EndpointSubset) []corev1.EndpointSubset {
		out := make([]corev1.EndpointSubset, len(ss))
		for i, s := range ss {
			s = *s.DeepCopy()
			for _, list := range [][]corev1.EndpointAddress{s.Addresses, s.NotReadyAddresses} {
				for j := range list {
					if list[j].TargetRef != nil {
						list[j].TargetRef.ResourceVersion = ""
					}
				}
			}
			out[i] = s
		}
		return out
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

func count(ss []corev1.EndpointSubset) (ready, notReady int) {
	for _, s := range ss {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	return ready, notReady
}

func capacityAnnotationCorrect(ep *corev1.Endpoints) bool {
	r, n := count(ep.Subsets)
	if r+n > MaxCapacity {
		return false
	}
	_, ok := ep.Annotations[OverCapacityAnnotation]
	return !ok
}

// truncate trims ep to MaxCapacity addresses, keeping ready addresses
// first and spreading the cut over subsets in proportion to their size.
func truncate(ep *corev1.Endpoints) bool {
	ready, notReady := count(ep.Subsets)
	if ready+notReady <= MaxCapacity {
		return false
	}
	truncReady := ready > MaxCapacity
	budget, total := MaxCapacity-ready, notReady
	if truncReady {
		budget, total = MaxCapacity, ready
	}
	left := budget
	for i := range ep.Subsets {
		s := &ep.Subsets[i]
		list := &s.NotReadyAddresses
		if truncReady {
			list = &s.Addresses
			s.NotReadyAddresses = nil
		}
		share := int(math.Ceil(float64(len(*list)) / float64(total) * float64(budget)))
		share = min(share, left, len(*list))
		*list = (*list)[:share]
		left -= share
	}
	return true
}
