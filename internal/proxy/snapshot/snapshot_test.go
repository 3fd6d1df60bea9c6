package snapshot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(name string, mutate ...func(*v1.Service)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: v1.ServiceSpec{
			Type:       v1.ServiceTypeClusterIP,
			ClusterIP:  "10.43.0.1",
			ClusterIPs: []string{"10.43.0.1"},
			Ports:      []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30001}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func slice(name, service string, addrType discoveryv1.AddressType, portName string, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: addrType,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port)}}, // protocol defaults to TCP
		Endpoints:   eps,
	}
}

func ep(ip, node string, conds discoveryv1.EndpointConditions) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: conds}
	if node != "" {
		e.NodeName = ptr.To(node)
	}
	return e
}

var (
	isReady       = discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}
	unknown       = discoveryv1.EndpointConditions{} // nil ready/serving mean ready
	notReady      = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(false)}
	servingTerm   = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
	webHTTP       = PortName{Namespace: "ns", Name: "web", Port: "http", Protocol: v1.ProtocolTCP}
	nodeA, nodeB  = "node-a", "node-b"
	readyEndpoint = func(ip string, port int32, node string) Endpoint {
		return Endpoint{IP: ip, Port: port, Ready: true, Serving: true, NodeName: node, Local: node == nodeA}
	}
)

func TestBuildServices(t *testing.T) {
	tests := []struct {
		name    string
		service *v1.Service
		want    []*ServicePort
	}{{
		name:    "cluster IP service: node port ignored, defaults",
		service: svc("web"),
		want:    []*ServicePort{{Name: webHTTP, Type: v1.ServiceTypeClusterIP, ClusterIP: "10.43.0.1", Port: 80}},
	}, {
		name: "load balancer with ingress IPs, external IPs, Local policies and affinity",
		service: svc("web", func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"192.0.2.1", "2001:db8::1"}
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
			s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{
				{IP: "198.51.100.1"},
				{IP: "198.51.100.2", IPMode: ptr.To(v1.LoadBalancerIPModeProxy)},
				{Hostname: "lb.example"},
			}
		}),
		want: []*ServicePort{{
			Name: webHTTP, Type: v1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.1", Port: 80, NodePort: 30001,
			ExternalIPs: []string{"192.0.2.1"}, LoadBalancerIPs: []string{"198.51.100.1"},
			ClientIPAffinity: true, AffinityTimeoutSeconds: DefaultAffinityTimeoutSeconds,
			ExternalPolicyLocal: true, InternalPolicyLocal: true,
		}},
	}, {
		name: "dual-stack service uses its IPv4 cluster IP; missing protocol means TCP",
		service: svc("web", func(s *v1.Service) {
			s.Spec.ClusterIP = "fd00::1"
			s.Spec.ClusterIPs = []string{"fd00::1", "10.43.0.9"}
			s.Spec.Ports[0].Protocol = ""
		}),
		want: []*ServicePort{{Name: webHTTP, Type: v1.ServiceTypeClusterIP, ClusterIP: "10.43.0.9", Port: 80}},
	}, {
		name:    "headless",
		service: svc("web", func(s *v1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
	}, {
		name: "ExternalName",
		service: svc("web", func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeExternalName
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
		}),
	}, {
		name:    "implemented by another proxy",
		service: svc("web", func(s *v1.Service) { s.Labels = map[string]string{LabelServiceProxyName: "other"} }),
	}, {
		name:    "IPv6 only",
		service: svc("web", func(s *v1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "fd00::1", []string{"fd00::1"} }),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := Build([]*v1.Service{tc.service}, nil, nodeA)
			var got []*ServicePort
			for _, n := range snap.Names() {
				got = append(got, snap.Services[n])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildEndpoints(t *testing.T) {
	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   []Endpoint
	}{{
		name: "sorted by address, conditions and locality kept",
		slices: []*discoveryv1.EndpointSlice{slice("web-1", "web", discoveryv1.AddressTypeIPv4, "http", 8080,
			ep("10.42.1.10", nodeB, isReady), ep("10.42.1.9", nodeA, unknown), ep("10.42.1.11", "", notReady), ep("10.42.1.12", nodeA, servingTerm))},
		want: []Endpoint{
			readyEndpoint("10.42.1.9", 8080, nodeA),
			readyEndpoint("10.42.1.10", 8080, nodeB),
			{IP: "10.42.1.11", Port: 8080},
			{IP: "10.42.1.12", Port: 8080, Serving: true, Terminating: true, NodeName: nodeA, Local: true},
		},
	}, {
		name: "slices of other ports, services, address types are ignored",
		slices: []*discoveryv1.EndpointSlice{
			slice("web-1", "web", discoveryv1.AddressTypeIPv4, "metrics", 9090, ep("10.42.1.1", nodeA, isReady)),
			slice("web-2", "web", discoveryv1.AddressTypeIPv6, "http", 8080, ep("fd00::5", nodeA, isReady)),
			slice("other-1", "other", discoveryv1.AddressTypeIPv4, "http", 8080, ep("10.42.1.2", nodeA, isReady)),
			slice("web-3", "web", discoveryv1.AddressTypeIPv4, "http", 8080, ep("10.42.1.3", nodeA, isReady)),
		},
		want: []Endpoint{readyEndpoint("10.42.1.3", 8080, nodeA)},
	}, {
		name: "an endpoint in two slices appears once, ready if either says so",
		slices: []*discoveryv1.EndpointSlice{
			slice("web-1", "web", discoveryv1.AddressTypeIPv4, "http", 8080, ep("10.42.1.1", nodeA, notReady)),
			slice("web-2", "web", discoveryv1.AddressTypeIPv4, "http", 8080, ep("10.42.1.1", nodeA, isReady)),
		},
		want: []Endpoint{readyEndpoint("10.42.1.1", 8080, nodeA)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := Build([]*v1.Service{svc("web")}, tc.slices, nodeA)
			if diff := cmp.Diff(tc.want, snap.Endpoints[webHTTP]); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCategorize(t *testing.T) {
	localReady := readyEndpoint("10.42.1.1", 80, nodeA)
	remoteReady := readyEndpoint("10.42.2.1", 80, nodeB)
	localTerm := Endpoint{IP: "10.42.1.2", Port: 80, Serving: true, Terminating: true, NodeName: nodeA, Local: true}
	remoteTerm := Endpoint{IP: "10.42.2.2", Port: 80, Serving: true, Terminating: true, NodeName: nodeB}
	gone := Endpoint{IP: "10.42.2.3", Port: 80, Terminating: true, NodeName: nodeB}

	clusterIP := &ServicePort{}
	itpLocal := &ServicePort{InternalPolicyLocal: true}
	etpLocal := &ServicePort{NodePort: 30000, ExternalPolicyLocal: true}

	tests := []struct {
		name string
		sp   *ServicePort
		eps  []Endpoint
		want Categories
	}{
		{"cluster policy: ready endpoints only", clusterIP, []Endpoint{localReady, remoteReady, remoteTerm, gone},
			Categories{Cluster: []Endpoint{localReady, remoteReady}, Reachable: []Endpoint{localReady, remoteReady}, Any: true}},
		{"cluster policy: serving terminating when nothing is ready", clusterIP, []Endpoint{remoteTerm, gone},
			Categories{Cluster: []Endpoint{remoteTerm}, Reachable: []Endpoint{remoteTerm}, Any: true}},
		{"nothing usable", clusterIP, []Endpoint{gone}, Categories{}},
		{"internal Local: local ones only, Any still sees remote", itpLocal, []Endpoint{remoteReady},
			Categories{Any: true}},
		{"internal Local: local terminating fallback", itpLocal, []Endpoint{localTerm, remoteReady},
			Categories{Local: []Endpoint{localTerm}, Reachable: []Endpoint{localTerm}, Any: true}},
		{"external Local: both sets, reachable is the union", etpLocal, []Endpoint{localReady, remoteReady},
			Categories{Cluster: []Endpoint{localReady, remoteReady}, Local: []Endpoint{localReady}, Reachable: []Endpoint{localReady, remoteReady}, Any: true}},
		{"external Local: local terminating is reachable though cluster set is ready", etpLocal, []Endpoint{localTerm, remoteReady},
			Categories{Cluster: []Endpoint{remoteReady}, Local: []Endpoint{localTerm}, Reachable: []Endpoint{remoteReady, localTerm}, Any: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Categorize(tc.sp, tc.eps)); diff != "" {
				t.Errorf("Categorize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	udp := func(name string) *v1.Service {
		return svc(name, func(s *v1.Service) { s.Spec.Ports[0].Protocol = v1.ProtocolUDP })
	}
	udpSlice := func(service string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		s := slice(service+"-1", service, discoveryv1.AddressTypeIPv4, "http", 53, eps...)
		s.Ports[0].Protocol = ptr.To(v1.ProtocolUDP)
		return s
	}
	a, b := ep("10.42.1.1", nodeA, isReady), ep("10.42.1.2", nodeA, isReady)

	type stale struct {
		Endpoints []string // "service ip"
		Services  []string
	}
	tests := []struct {
		name     string
		old, cur *Snapshot
		want     stale
	}{{
		name: "first sync reports nothing",
		cur:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a)}, nodeA),
	}, {
		name: "removed UDP endpoint is stale",
		old:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a, b)}, nodeA),
		cur:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a)}, nodeA),
		want: stale{Endpoints: []string{"ns/dns:http 10.42.1.2"}},
	}, {
		name: "endpoint that stopped being ready is stale",
		old:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a, b)}, nodeA),
		cur:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a, ep("10.42.1.2", nodeA, notReady))}, nodeA),
		want: stale{Endpoints: []string{"ns/dns:http 10.42.1.2"}},
	}, {
		name: "deleted UDP service leaves all its endpoints stale",
		old:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a)}, nodeA),
		cur:  Build(nil, nil, nodeA),
		want: stale{Endpoints: []string{"ns/dns:http 10.42.1.1"}},
	}, {
		name: "UDP service getting its first endpoint",
		old:  Build([]*v1.Service{udp("dns")}, nil, nodeA),
		cur:  Build([]*v1.Service{udp("dns")}, []*discoveryv1.EndpointSlice{udpSlice("dns", a)}, nodeA),
		want: stale{Services: []string{"ns/dns:http"}},
	}, {
		name: "TCP changes need no cleanup",
		old:  Build([]*v1.Service{svc("web")}, nil, nodeA),
		cur:  Build([]*v1.Service{svc("web")}, []*discoveryv1.EndpointSlice{slice("web-1", "web", discoveryv1.AddressTypeIPv4, "http", 80, a)}, nodeA),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Changes(tc.old, tc.cur)
			var got stale
			for _, e := range st.Endpoints {
				got.Endpoints = append(got.Endpoints, e.Service.Name.String()+" "+e.Endpoint.IP)
			}
			for _, s := range st.Services {
				got.Services = append(got.Services, s.Name.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}
}
