// Package snapshot turns Services and EndpointSlices into the table every
// proxy mode programs: service port → endpoints.
//
// In: the Services and EndpointSlices an informer cache holds, and the
// name of this node. Out: a Snapshot (ServicePort and Endpoint values keyed
// by PortName); Categorize, which picks the endpoints each kind of traffic
// may reach (traffic policies, readiness, terminating fallback); and
// Changes, which says what UDP conntrack state a sync from one snapshot to
// the next made stale.
//
// Words: a "service port" is one entry of spec.ports of one Service, named
// "namespace/name:port" ("namespace/name" when the port has no name). An
// endpoint is "local" when it runs on this node. Everything here is pure:
// no clients, no kernel, so every proxy mode (iptables, ipvs, nftables,
// userspace) shares it and it is tested without a cluster.
//
// Only IPv4 is handled for now: IPv6 cluster IPs and slices are ignored.
package snapshot

import (
	"net"
	"net/netip"
	"slices"
	"strconv"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const (
	// LabelServiceName ties an EndpointSlice to its Service.
	LabelServiceName = discoveryv1.LabelServiceName
	// LabelServiceProxyName marks Services a different proxy implements;
	// kube-proxy (and so kedge) leaves them alone.
	LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"

	// DefaultAffinityTimeoutSeconds is the ClientIP affinity timeout when a
	// Service sets none (3 hours, as upstream).
	DefaultAffinityTimeoutSeconds = 10800
)

// PortName identifies one port of one Service.
type PortName struct {
	Namespace string
	Name      string
	// Port is the name of the port in spec.ports ("" when unnamed).
	Port     string
	Protocol v1.Protocol
}

// String is "namespace/name:port", or "namespace/name" for an unnamed port;
// it is the text kube-proxy puts in its rule comments.
func (n PortName) String() string {
	if n.Port == "" {
		return n.Namespace + "/" + n.Name
	}
	return n.Namespace + "/" + n.Name + ":" + n.Port
}

// ServicePort is what a proxy needs to know about one port of a Service.
type ServicePort struct {
	Name PortName
	Type v1.ServiceType
	// ClusterIP is the IPv4 cluster IP.
	ClusterIP string
	Port      int32
	// NodePort is 0 unless the Service is NodePort or LoadBalancer (with
	// node ports allocated).
	NodePort        int32
	ExternalIPs     []string
	LoadBalancerIPs []string
	// ClientIPAffinity is spec.sessionAffinity: ClientIP.
	ClientIPAffinity       bool
	AffinityTimeoutSeconds int32
	// ExternalPolicyLocal is externalTrafficPolicy: Local on an externally
	// accessible Service.
	ExternalPolicyLocal bool
	// InternalPolicyLocal is internalTrafficPolicy: Local.
	InternalPolicyLocal bool
}

// ExternallyAccessible reports whether traffic can reach the port by other
// addresses than its cluster IP.
func (sp *ServicePort) ExternallyAccessible() bool {
	return sp.NodePort > 0 || len(sp.ExternalIPs) > 0 || len(sp.LoadBalancerIPs) > 0
}

// UsesClusterEndpoints reports whether some traffic to the port goes to
// endpoints anywhere in the cluster. External traffic with a Local policy
// still needs them: traffic from this node itself is short-circuited to
// the cluster-wide set.
func (sp *ServicePort) UsesClusterEndpoints() bool {
	return !sp.InternalPolicyLocal || sp.ExternallyAccessible()
}

// UsesLocalEndpoints reports whether some traffic to the port goes only to
// endpoints on this node.
func (sp *ServicePort) UsesLocalEndpoints() bool {
	return sp.InternalPolicyLocal || (sp.ExternalPolicyLocal && sp.ExternallyAccessible())
}

// Endpoint is one backend of a service port.
type Endpoint struct {
	IP          string
	Port        int32
	Ready       bool
	Serving     bool
	Terminating bool
	NodeName    string
	// Local is true when the endpoint runs on this node.
	Local bool
}

// String is "ip:port".
func (e Endpoint) String() string {
	return net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port)))
}

// Snapshot is the whole state a proxy mode programs at one sync.
type Snapshot struct {
	Services map[PortName]*ServicePort
	// Endpoints holds every endpoint of every service port (ready or not),
	// sorted by address; Categorize picks the ones traffic may use.
	Endpoints map[PortName][]Endpoint
}

// Names returns the service port names in a stable order.
func (s *Snapshot) Names() []PortName {
	names := make([]PortName, 0, len(s.Services))
	for n := range s.Services {
		names = append(names, n)
	}
	slices.SortFunc(names, comparePortNames)
	return names
}

func comparePortNames(a, b PortName) int {
	for _, c := range [][2]string{{a.Namespace, b.Namespace}, {a.Name, b.Name}, {a.Port, b.Port}, {string(a.Protocol), string(b.Protocol)}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Build makes the snapshot from what the informers hold. nodeName decides
// which endpoints are local.
func Build(services []*v1.Service, endpointSlices []*discoveryv1.EndpointSlice, nodeName string) *Snapshot {
	snap := &Snapshot{
		Services:  map[PortName]*ServicePort{},
		Endpoints: map[PortName][]Endpoint{},
	}
	for _, svc := range services {
		for _, sp := range servicePorts(svc) {
			snap.Services[sp.Name] = sp
		}
	}

	// Slices in name order, so duplicates resolve the same way every time.
	sorted := slices.Clone(endpointSlices)
	slices.SortFunc(sorted, func(a, b *discoveryv1.EndpointSlice) int {
		return comparePortNames(PortName{Namespace: a.Namespace, Name: a.Name}, PortName{Namespace: b.Namespace, Name: b.Name})
	})
	seen := map[PortName]map[string]int{} // port → "ip:port" → index in snap.Endpoints
	for _, slice := range sorted {
		svcName := slice.Labels[LabelServiceName]
		if svcName == "" || slice.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, port := range slice.Ports {
			if port.Port == nil {
				continue
			}
			name := PortName{Namespace: slice.Namespace, Name: svcName, Protocol: v1.ProtocolTCP}
			if port.Name != nil {
				name.Port = *port.Name
			}
			if port.Protocol != nil {
				name.Protocol = *port.Protocol
			}
			if _, ok := snap.Services[name]; !ok {
				continue
			}
			if seen[name] == nil {
				seen[name] = map[string]int{}
			}
			for _, ep := range slice.Endpoints {
				e, ok := endpoint(ep, *port.Port, nodeName)
				if !ok {
					continue
				}
				if i, dup := seen[name][e.String()]; dup {
					// The same backend in two slices (a pod moving between
					// slices): trust the copy that says it is ready.
					if e.Ready && !snap.Endpoints[name][i].Ready {
						snap.Endpoints[name][i] = e
					}
					continue
				}
				seen[name][e.String()] = len(snap.Endpoints[name])
				snap.Endpoints[name] = append(snap.Endpoints[name], e)
			}
		}
	}
	for name, eps := range snap.Endpoints {
		slices.SortFunc(eps, compareEndpoints)
		snap.Endpoints[name] = eps
	}
	return snap
}

func compareEndpoints(a, b Endpoint) int {
	if c := netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)); c != 0 {
		return c
	}
	return int(a.Port) - int(b.Port)
}

// servicePorts returns the proxied ports of a Service: none for headless,
// ExternalName, IPv6-only or other-proxy Services.
func servicePorts(svc *v1.Service) []*ServicePort {
	if svc.Spec.Type == v1.ServiceTypeExternalName || svc.Labels[LabelServiceProxyName] != "" {
		return nil
	}
	clusterIP := firstIPv4(append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...))
	if clusterIP == "" {
		return nil
	}
	externalIPs := ipv4s(svc.Spec.ExternalIPs)
	var lbIPs []string
	if svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			// ipMode Proxy: the load balancer rewrites the destination
			// itself, so the node must not capture the address.
			if ing.IPMode != nil && *ing.IPMode == v1.LoadBalancerIPModeProxy {
				continue
			}
			if ip := firstIPv4([]string{ing.IP}); ip != "" {
				lbIPs = append(lbIPs, ip)
			}
		}
	}
	var timeout int32 = DefaultAffinityTimeoutSeconds
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		timeout = *c.ClientIP.TimeoutSeconds
	}
	nodePorts := svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer

	var out []*ServicePort
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		sp := &ServicePort{
			Name:                PortName{Namespace: svc.Namespace, Name: svc.Name, Port: p.Name, Protocol: proto},
			Type:                svc.Spec.Type,
			ClusterIP:           clusterIP,
			Port:                p.Port,
			ExternalIPs:         externalIPs,
			LoadBalancerIPs:     lbIPs,
			ClientIPAffinity:    svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP,
			InternalPolicyLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == v1.ServiceInternalTrafficPolicyLocal,
		}
		if sp.ClientIPAffinity {
			sp.AffinityTimeoutSeconds = timeout
		}
		if nodePorts {
			sp.NodePort = p.NodePort
		}
		sp.ExternalPolicyLocal = sp.ExternallyAccessible() && svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal
		out = append(out, sp)
	}
	return out
}

// endpoint converts one slice endpoint. Consumers use only the first
// address; unknown (nil) ready and serving conditions mean ready.
func endpoint(ep discoveryv1.Endpoint, port int32, nodeName string) (Endpoint, bool) {
	if len(ep.Addresses) == 0 {
		return Endpoint{}, false
	}
	ip := firstIPv4(ep.Addresses[:1])
	if ip == "" {
		return Endpoint{}, false
	}
	e := Endpoint{
		IP:          ip,
		Port:        port,
		Ready:       ep.Conditions.Ready == nil || *ep.Conditions.Ready,
		Serving:     ep.Conditions.Serving == nil || *ep.Conditions.Serving,
		Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating,
	}
	if ep.NodeName != nil {
		e.NodeName = *ep.NodeName
	}
	e.Local = e.NodeName != "" && e.NodeName == nodeName
	return e, true
}

func firstIPv4(candidates []string) string {
	for _, s := range candidates {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a.String()
		}
	}
	return ""
}

func ipv4s(in []string) []string {
	var out []string
	for _, s := range in {
		if ip := firstIPv4([]string{s}); ip != "" {
			out = append(out, ip)
		}
	}
	return out
}
