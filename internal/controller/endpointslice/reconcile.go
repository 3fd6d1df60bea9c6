package endpointslice

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Labels the controller puts on its slices.
const (
	ServiceNameLabel = discoveryv1.LabelServiceName // kubernetes.io/service-name
	ManagedByLabel   = discoveryv1.LabelManagedBy   // endpointslice.kubernetes.io/managed-by
	ManagedByValue   = "endpointslice-controller.k8s.io"
	headlessLabel    = corev1.IsHeadlessService
	triggerTimeKey   = corev1.EndpointsLastChangeTriggerTime
)

// MaxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
const MaxEndpointsPerSlice = 100

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service")

// Input is what a sync of one Service observes.
type Input struct {
	Service     *corev1.Service
	Pods        []*corev1.Pod // pods selected by the Service
	NodeZones   map[string]string
	Existing    []*discoveryv1.EndpointSlice // slices this controller manages for the Service
	TriggerTime time.Time
	MaxPerSlice int // 0 means MaxEndpointsPerSlice
}

// Changes are the slice writes a sync needs.
type Changes struct {
	Create []*discoveryv1.EndpointSlice
	Update []*discoveryv1.EndpointSlice
	Delete []*discoveryv1.EndpointSlice
}

// Empty reports whether nothing needs writing.
func (c Changes) Empty() bool { return len(c.Create)+len(c.Update)+len(c.Delete) == 0 }

type portSet struct {
	ports     []discoveryv1.EndpointPort
	endpoints []discoveryv1.Endpoint
}

// Endpoint builds a pod's endpoint: its IPv4 address, the
// ready/serving/terminating conditions, node, zone, hostname and a
// reference to the pod.
func Endpoint(svc *corev1.Service, pod *corev1.Pod, zone string) discoveryv1.Endpoint {
	serving := ctrlutil.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{ctrlutil.PodIPv4(pod)},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	if zone != "" {
		ep.Zone = &zone
	}
	if ctrlutil.ShouldSetHostname(pod, svc) {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// desired groups the Service's endpoints by the ports they resolve to.
func desired(in Input) map[string]*portSet {
	svc := in.Service
	sets := map[string]*portSet{}
	for _, pod := range in.Pods {
		if !ctrlutil.ShouldPodBeInEndpoints(pod, true) || ctrlutil.PodIPv4(pod) == "" {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := ctrlutil.FindPort(pod, sp)
			if err != nil {
				continue
			}
			name, proto := sp.Name, sp.Protocol
			ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &n, Protocol: &proto, AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(ports) == 0 {
			continue
		}
		sortPorts(ports)
		key := portsKey(ports)
		s := sets[key]
		if s == nil {
			s = &portSet{ports: ports}
			sets[key] = s
		}
		s.endpoints = append(s.endpoints, Endpoint(svc, pod, in.NodeZones[pod.Spec.NodeName]))
	}
	for _, s := range sets {
		sortEndpoints(s.endpoints)
	}
	return sets
}

// Reconcile decides which slices to create, update and delete so the
// Service's endpoints are published in slices of at most MaxPerSlice,
// one group of slices per distinct port set. Endpoints stay in the slice
// that already holds them; new ones fill free room before new slices are
// made. A Service with no endpoints keeps one empty placeholder slice.
func Reconcile(in Input) Changes {
	maxPer := in.MaxPerSlice
	if maxPer <= 0 {
		maxPer = MaxEndpointsPerSlice
	}
	want := desired(in)
	var ch Changes

	existingBySet := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range sortedSlices(in.Existing) {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			ch.Delete = append(ch.Delete, s)
			continue
		}
		ports := append([]discoveryv1.EndpointPort(nil), s.Ports...)
		sortPorts(ports)
		key := portsKey(ports)
		if _, ok := want[key]; !ok {
			ch.Delete = append(ch.Delete, s)
			continue
		}
		existingBySet[key] = append(existingBySet[key], s)
	}

	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		set := want[key]
		remaining := map[string]discoveryv1.Endpoint{}
		var order []string
		for _, ep := range set.endpoints {
			id := endpointID(ep)
			if _, dup := remaining[id]; !dup {
				order = append(order, id)
			}
			remaining[id] = ep
		}
		type slot struct {
			slice *discoveryv1.EndpointSlice // nil: to be created
			eps   []discoveryv1.Endpoint
		}
		var slots []*slot
		for _, s := range existingBySet[key] {
			sl := &slot{slice: s}
			for _, ep := range s.Endpoints {
				if d, ok := remaining[endpointID(ep)]; ok {
					sl.eps = append(sl.eps, d)
					delete(remaining, endpointID(ep))
				}
			}
			slots = append(slots, sl)
		}
		var leftovers []discoveryv1.Endpoint
		for _, id := range order {
			if ep, ok := remaining[id]; ok {
				leftovers = append(leftovers, ep)
			}
		}
		for _, sl := range slots {
			for len(sl.eps) < maxPer && len(leftovers) > 0 {
				sl.eps = append(sl.eps, leftovers[0])
				leftovers = leftovers[1:]
			}
		}
		for len(leftovers) > 0 {
			n := min(maxPer, len(leftovers))
			slots = append(slots, &slot{eps: leftovers[:n]})
			leftovers = leftovers[n:]
		}
		for _, sl := range slots {
			switch {
			case sl.slice == nil:
				ch.Create = append(ch.Create, newSlice(in, set.ports, sl.eps))
			case len(sl.eps) == 0:
				ch.Delete = append(ch.Delete, sl.slice)
			default:
				if s, changed := updated(in, sl.slice, set.ports, sl.eps); changed {
					ch.Update = append(ch.Update, s)
				}
			}
		}
	}

	if len(want) == 0 {
		return placeholder(in, ch)
	}
	return recycle(in, ch)
}

// recycle turns a create plus a delete into an update of the slice that
// would be deleted: one write instead of two, and no window without a slice.
func recycle(in Input, ch Changes) Changes {
	var keepDeleting []*discoveryv1.EndpointSlice
	for _, old := range ch.Delete {
		if len(ch.Create) == 0 || old.AddressType != discoveryv1.AddressTypeIPv4 {
			keepDeleting = append(keepDeleting, old)
			continue
		}
		fresh := ch.Create[0]
		ch.Create = ch.Create[1:]
		s, _ := updated(in, old, fresh.Ports, fresh.Endpoints)
		ch.Update = append(ch.Update, s)
	}
	ch.Delete = keepDeleting
	return ch
}

// placeholder keeps exactly one empty slice for a Service without
// endpoints, reusing an existing slice when there is one.
func placeholder(in Input, ch Changes) Changes {
	if len(ch.Delete) == 0 {
		return Changes{Create: []*discoveryv1.EndpointSlice{newSlice(in, nil, nil)}}
	}
	keep := ch.Delete[0]
	for _, s := range ch.Delete {
		if len(s.Endpoints) == 0 && len(s.Ports) == 0 && s.AddressType == discoveryv1.AddressTypeIPv4 {
			keep = s
			break
		}
	}
	var out Changes
	for _, s := range ch.Delete {
		if s != keep {
			out.Delete = append(out.Delete, s)
		}
	}
	if keep.AddressType != discoveryv1.AddressTypeIPv4 {
		out.Delete = append(out.Delete, keep)
		out.Create = []*discoveryv1.EndpointSlice{newSlice(in, nil, nil)}
		return out
	}
	if s, changed := updated(in, keep, nil, nil); changed {
		out.Update = append(out.Update, s)
	}
	return out
}

func endpointID(ep discoveryv1.Endpoint) string {
	if ep.TargetRef != nil && ep.TargetRef.UID != "" {
		return string(ep.TargetRef.UID)
	}
	return strings.Join(ep.Addresses, ",")
}

// Labels are the Service's labels plus the slice's own.
func Labels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		if k == ServiceNameLabel || k == ManagedByLabel || k == headlessLabel {
			continue
		}
		l[k] = v
	}
	l[ServiceNameLabel] = svc.Name
	l[ManagedByLabel] = ManagedByValue
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		l[headlessLabel] = ""
	}
	return l
}

func newSlice(in Input, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	svc := in.Service
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          Labels(svc),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, serviceKind)},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       ports,
	}
	stampTriggerTime(s, in.TriggerTime)
	return s
}

func stampTriggerTime(s *discoveryv1.EndpointSlice, t time.Time) {
	if t.IsZero() {
		return
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[triggerTimeKey] = t.UTC().Format(time.RFC3339Nano)
}

// updated returns cur with the wanted content, and whether that differs.
func updated(in Input, cur *discoveryv1.EndpointSlice, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) (*discoveryv1.EndpointSlice, bool) {
	labels := Labels(in.Service)
	ref := *metav1.NewControllerRef(in.Service, serviceKind)
	curPorts := append([]discoveryv1.EndpointPort(nil), cur.Ports...)
	sortPorts(curPorts)
	owned := false
	for _, r := range cur.OwnerReferences {
		if r.UID == ref.UID && r.Controller != nil && *r.Controller {
			owned = true
		}
	}
	if owned && equalEndpoints(cur.Endpoints, eps) &&
		equality.Semantic.DeepEqual(curPorts, ports) &&
		equality.Semantic.DeepEqual(cur.Labels, labels) {
		return cur, false
	}
	s := cur.DeepCopy()
	s.Endpoints, s.Ports, s.Labels = eps, ports, labels
	if !owned {
		s.OwnerReferences = ctrlutil.WithControllerRef(s.OwnerReferences, ref)
	}
	stampTriggerTime(s, in.TriggerTime)
	return s, true
}

func equalEndpoints(a, b []discoveryv1.Endpoint) bool {
	strip := func(eps []discoveryv1.Endpoint) []discoveryv1.Endpoint {
		out := make([]discoveryv1.Endpoint, len(eps))
		for i, ep := range eps {
			ep = *ep.DeepCopy()
			if ep.TargetRef != nil {
				ep.TargetRef.ResourceVersion = ""
			}
			out[i] = ep
		}
		return out
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

func sortPorts(ports []discoveryv1.EndpointPort) {
	sort.Slice(ports, func(i, j int) bool { return portKey(ports[i]) < portKey(ports[j]) })
}

func portKey(p discoveryv1.EndpointPort) string {
	var name, proto string
	var port int32
	if p.Name != nil {
		name = *p.Name
	}
	if p.Protocol != nil {
		proto = string(*p.Protocol)
	}
	if p.Port != nil {
		port = *p.Port
	}
	return name + "/" + strconv.Itoa(int(port)) + "/" + proto
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(portKey(p) + ";")
	}
	return b.String()
}

func sortEndpoints(eps []discoveryv1.Endpoint) {
	sort.SliceStable(eps, func(i, j int) bool {
		a, errA := netip.ParseAddr(eps[i].Addresses[0])
		b, errB := netip.ParseAddr(eps[j].Addresses[0])
		if errA == nil && errB == nil && a != b {
			return a.Less(b)
		}
		return endpointID(eps[i]) < endpointID(eps[j])
	})
}

func sortedSlices(in []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	out := append([]*discoveryv1.EndpointSlice(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
