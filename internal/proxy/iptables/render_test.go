package iptables

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/proxy/snapshot"
)

func service(ns, name, clusterIP string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.ServiceSpec{
			Type:       v1.ServiceTypeClusterIP,
			ClusterIP:  clusterIP,
			ClusterIPs: []string{clusterIP},
			Ports:      ports,
		},
	}
}

func port(name string, proto v1.Protocol, port, nodePort int32) v1.ServicePort {
	return v1.ServicePort{Name: name, Protocol: proto, Port: port, NodePort: nodePort}
}

func endpointSlice(ns, svc, portName string, proto v1.Protocol, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: svc + "-abcde",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(proto), Port: ptr.To(port)}},
		Endpoints:   eps,
	}
}

func ready(ip, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		NodeName:   ptr.To(node),
	}
}

func withConditions(ep discoveryv1.Endpoint, isReady, serving, terminating bool) discoveryv1.Endpoint {
	ep.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(isReady), Serving: ptr.To(serving), Terminating: ptr.To(terminating)}
	return ep
}

// The complete restore text for the most common case: a ClusterIP Service
// with three ready endpoints (and one that is not ready).
func TestRenderClusterIPThreeEndpoints(t *testing.T) {
	snap := snapshot.Build(
		[]*v1.Service{service("default", "web", "10.43.0.10", port("http", v1.ProtocolTCP, 80, 0))},
		[]*discoveryv1.EndpointSlice{endpointSlice("default", "web", "http", v1.ProtocolTCP, 8080,
			ready("10.42.2.12", "node-b"),
			ready("10.42.1.10", "node-a"),
			withConditions(ready("10.42.3.13", "node-c"), false, false, false),
			ready("10.42.1.11", "node-a"),
		)},
		"node-a")
	got := string(render(snap, options{clusterCIDR: "10.42.0.0/16", randomFully: true}, nil))
	want := `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-EJC7345R2FPKOQZV - [0:0]
:KUBE-SEP-75Q76AQZB2YN2TM3 - [0:0]
:KUBE-SEP-RRFNXZUF3C25OJHE - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.43.0.10 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.43.0.10 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.1.10:8080" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-EJC7345R2FPKOQZV
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.1.11:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-75Q76AQZB2YN2TM3
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.42.2.12:8080" -j KUBE-SEP-RRFNXZUF3C25OJHE
-A KUBE-SEP-EJC7345R2FPKOQZV -m comment --comment default/web:http -s 10.42.1.10 -j KUBE-MARK-MASQ
-A KUBE-SEP-EJC7345R2FPKOQZV -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.10:8080
-A KUBE-SEP-75Q76AQZB2YN2TM3 -m comment --comment default/web:http -s 10.42.1.11 -j KUBE-MARK-MASQ
-A KUBE-SEP-75Q76AQZB2YN2TM3 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.11:8080
-A KUBE-SEP-RRFNXZUF3C25OJHE -m comment --comment default/web:http -s 10.42.2.12 -j KUBE-MARK-MASQ
-A KUBE-SEP-RRFNXZUF3C25OJHE -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.42.2.12:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("render (-want +got):\n%s", diff)
	}
}

// frame wraps the service-specific parts of a restore text in the chains
// and rules every sync writes.
func frame(filterRules, natChains, natRules, natDeleted string, randomFully bool) string {
	masq := "-j MASQUERADE"
	if randomFully {
		masq += " --random-fully"
	}
	return `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
` + filterRules + `COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
` + natChains + `-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" ` + masq + `
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
` + natRules + `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
` + natDeleted + `COMMIT
`
}

func TestRender(t *testing.T) {
	lb := service("default", "lb", "10.43.0.30", port("http", v1.ProtocolTCP, 80, 30300))
	lb.Spec.Type = v1.ServiceTypeLoadBalancer
	lb.Spec.ExternalIPs = []string{"192.0.2.10"}
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "198.51.100.7"}}

	dns := service("kube-system", "dns", "10.43.0.10", port("dns", v1.ProtocolUDP, 53, 0))
	dns.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	dns.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}}

	empty := service("default", "empty", "10.43.0.20", port("", v1.ProtocolTCP, 80, 30080))
	empty.Spec.Type = v1.ServiceTypeNodePort

	local := service("default", "local", "10.43.0.50", port("", v1.ProtocolTCP, 80, 30500))
	local.Spec.Type = v1.ServiceTypeNodePort
	local.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal

	itp := service("default", "itp", "10.43.0.60", port("", v1.ProtocolTCP, 80, 0))
	itp.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)

	headless := service("default", "headless", "None", port("", v1.ProtocolTCP, 80, 0))

	tests := []struct {
		name     string
		services []*v1.Service
		slices   []*discoveryv1.EndpointSlice
		opts     options
		existing []string
		want     string
	}{{
		name:     "no endpoints rejects cluster IP and node port in filter",
		services: []*v1.Service{empty},
		opts:     options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame(`-A KUBE-SERVICES -m comment --comment "default/empty has no endpoints" -m tcp -p tcp -d 10.43.0.20 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/empty has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT
`, "", "", "", true),
	}, {
		name:     "load balancer: external IP, LB IP and node port go through KUBE-EXT and are masqueraded",
		services: []*v1.Service{lb},
		slices:   []*discoveryv1.EndpointSlice{endpointSlice("default", "lb", "http", v1.ProtocolTCP, 8080, ready("10.42.1.20", "node-b"))},
		opts:     options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame("", `:KUBE-SVC-JSLCNGWSGB5JPS5Q - [0:0]
:KUBE-EXT-JSLCNGWSGB5JPS5Q - [0:0]
:KUBE-SEP-73WHSP6IAJAC333Y - [0:0]
`, `-A KUBE-SVC-JSLCNGWSGB5JPS5Q -m comment --comment "default/lb:http cluster IP" -m tcp -p tcp -d 10.43.0.30 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "default/lb:http cluster IP" -m tcp -p tcp -d 10.43.0.30 --dport 80 -j KUBE-SVC-JSLCNGWSGB5JPS5Q
-A KUBE-SERVICES -m comment --comment "default/lb:http external IP" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j KUBE-EXT-JSLCNGWSGB5JPS5Q
-A KUBE-SERVICES -m comment --comment "default/lb:http loadbalancer IP" -m tcp -p tcp -d 198.51.100.7 --dport 80 -j KUBE-EXT-JSLCNGWSGB5JPS5Q
-A KUBE-NODEPORTS -m comment --comment default/lb:http -m tcp -p tcp --dport 30300 -j KUBE-EXT-JSLCNGWSGB5JPS5Q
-A KUBE-EXT-JSLCNGWSGB5JPS5Q -m comment --comment "masquerade traffic for default/lb:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-JSLCNGWSGB5JPS5Q -j KUBE-SVC-JSLCNGWSGB5JPS5Q
-A KUBE-SVC-JSLCNGWSGB5JPS5Q -m comment --comment "default/lb:http -> 10.42.1.20:8080" -j KUBE-SEP-73WHSP6IAJAC333Y
-A KUBE-SEP-73WHSP6IAJAC333Y -m comment --comment default/lb:http -s 10.42.1.20 -j KUBE-MARK-MASQ
-A KUBE-SEP-73WHSP6IAJAC333Y -m comment --comment default/lb:http -m tcp -p tcp -j DNAT --to-destination 10.42.1.20:8080
`, "", true),
	}, {
		name:     "UDP with ClientIP affinity checks recent clients before spreading",
		services: []*v1.Service{dns},
		slices: []*discoveryv1.EndpointSlice{endpointSlice("kube-system", "dns", "dns", v1.ProtocolUDP, 53,
			ready("10.42.2.31", "node-b"), ready("10.42.1.30", "node-a"))},
		opts: options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame("", `:KUBE-SVC-2KKYJRIGYGQNRODB - [0:0]
:KUBE-SEP-45GKMDMBRDE7J5WY - [0:0]
:KUBE-SEP-TME2O32XBMSHGS6C - [0:0]
`, `-A KUBE-SVC-2KKYJRIGYGQNRODB -m comment --comment "kube-system/dns:dns cluster IP" -m udp -p udp -d 10.43.0.10 --dport 53 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "kube-system/dns:dns cluster IP" -m udp -p udp -d 10.43.0.10 --dport 53 -j KUBE-SVC-2KKYJRIGYGQNRODB
-A KUBE-SVC-2KKYJRIGYGQNRODB -m comment --comment "kube-system/dns:dns -> 10.42.1.30:53" -m recent --name KUBE-SEP-45GKMDMBRDE7J5WY --rcheck --seconds 600 --reap -j KUBE-SEP-45GKMDMBRDE7J5WY
-A KUBE-SVC-2KKYJRIGYGQNRODB -m comment --comment "kube-system/dns:dns -> 10.42.2.31:53" -m recent --name KUBE-SEP-TME2O32XBMSHGS6C --rcheck --seconds 600 --reap -j KUBE-SEP-TME2O32XBMSHGS6C
-A KUBE-SVC-2KKYJRIGYGQNRODB -m comment --comment "kube-system/dns:dns -> 10.42.1.30:53" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-45GKMDMBRDE7J5WY
-A KUBE-SVC-2KKYJRIGYGQNRODB -m comment --comment "kube-system/dns:dns -> 10.42.2.31:53" -j KUBE-SEP-TME2O32XBMSHGS6C
-A KUBE-SEP-45GKMDMBRDE7J5WY -m comment --comment kube-system/dns:dns -s 10.42.1.30 -j KUBE-MARK-MASQ
-A KUBE-SEP-45GKMDMBRDE7J5WY -m comment --comment kube-system/dns:dns -m recent --name KUBE-SEP-45GKMDMBRDE7J5WY --set -m udp -p udp -j DNAT --to-destination 10.42.1.30:53
-A KUBE-SEP-TME2O32XBMSHGS6C -m comment --comment kube-system/dns:dns -s 10.42.2.31 -j KUBE-MARK-MASQ
-A KUBE-SEP-TME2O32XBMSHGS6C -m comment --comment kube-system/dns:dns -m recent --name KUBE-SEP-TME2O32XBMSHGS6C --set -m udp -p udp -j DNAT --to-destination 10.42.2.31:53
`, "", true),
	}, {
		name:     "externalTrafficPolicy Local keeps external clients on local endpoints and short-circuits node traffic",
		services: []*v1.Service{local},
		slices: []*discoveryv1.EndpointSlice{endpointSlice("default", "local", "", v1.ProtocolTCP, 8080,
			ready("10.42.1.40", "node-a"), ready("10.42.2.41", "node-b"))},
		opts: options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame("", `:KUBE-SVC-NEXWZWH5PGMW4KIO - [0:0]
:KUBE-EXT-NEXWZWH5PGMW4KIO - [0:0]
:KUBE-SVL-NEXWZWH5PGMW4KIO - [0:0]
:KUBE-SEP-ZUOU6SDRFIIXWKFP - [0:0]
:KUBE-SEP-LJ2NJMHJ7FHJEO6M - [0:0]
`, `-A KUBE-SVC-NEXWZWH5PGMW4KIO -m comment --comment "default/local cluster IP" -m tcp -p tcp -d 10.43.0.50 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "default/local cluster IP" -m tcp -p tcp -d 10.43.0.50 --dport 80 -j KUBE-SVC-NEXWZWH5PGMW4KIO
-A KUBE-NODEPORTS -m comment --comment default/local -m tcp -p tcp --dport 30500 -j KUBE-EXT-NEXWZWH5PGMW4KIO
-A KUBE-EXT-NEXWZWH5PGMW4KIO -m comment --comment "pod traffic for default/local external destinations" -s 10.42.0.0/16 -j KUBE-SVC-NEXWZWH5PGMW4KIO
-A KUBE-EXT-NEXWZWH5PGMW4KIO -m comment --comment "masquerade LOCAL traffic for default/local external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-NEXWZWH5PGMW4KIO -m comment --comment "route LOCAL traffic for default/local external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-NEXWZWH5PGMW4KIO
-A KUBE-EXT-NEXWZWH5PGMW4KIO -j KUBE-SVL-NEXWZWH5PGMW4KIO
-A KUBE-SVC-NEXWZWH5PGMW4KIO -m comment --comment "default/local -> 10.42.1.40:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-ZUOU6SDRFIIXWKFP
-A KUBE-SVC-NEXWZWH5PGMW4KIO -m comment --comment "default/local -> 10.42.2.41:8080" -j KUBE-SEP-LJ2NJMHJ7FHJEO6M
-A KUBE-SVL-NEXWZWH5PGMW4KIO -m comment --comment "default/local -> 10.42.1.40:8080" -j KUBE-SEP-ZUOU6SDRFIIXWKFP
-A KUBE-SEP-ZUOU6SDRFIIXWKFP -m comment --comment default/local -s 10.42.1.40 -j KUBE-MARK-MASQ
-A KUBE-SEP-ZUOU6SDRFIIXWKFP -m comment --comment default/local -m tcp -p tcp -j DNAT --to-destination 10.42.1.40:8080
-A KUBE-SEP-LJ2NJMHJ7FHJEO6M -m comment --comment default/local -s 10.42.2.41 -j KUBE-MARK-MASQ
-A KUBE-SEP-LJ2NJMHJ7FHJEO6M -m comment --comment default/local -m tcp -p tcp -j DNAT --to-destination 10.42.2.41:8080
`, "", true),
	}, {
		name:     "internalTrafficPolicy Local with only remote endpoints drops instead of rejecting",
		services: []*v1.Service{itp},
		slices:   []*discoveryv1.EndpointSlice{endpointSlice("default", "itp", "", v1.ProtocolTCP, 8080, ready("10.42.2.70", "node-b"))},
		opts:     options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame(`-A KUBE-SERVICES -m comment --comment "default/itp has no local endpoints" -m tcp -p tcp -d 10.43.0.60 --dport 80 -j DROP
`, "", "", "", true),
	}, {
		name:     "serving terminating endpoint is used when none is ready; not serving ones never",
		services: []*v1.Service{service("default", "term", "10.43.0.70", port("", v1.ProtocolTCP, 80, 0))},
		slices: []*discoveryv1.EndpointSlice{endpointSlice("default", "term", "", v1.ProtocolTCP, 8080,
			withConditions(ready("10.42.1.50", "node-a"), false, true, true),
			withConditions(ready("10.42.1.51", "node-a"), false, false, true))},
		opts: options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame("", `:KUBE-SVC-Y2ELQZTLJW773NML - [0:0]
:KUBE-SEP-2DHQ5SP7SIMEPBGZ - [0:0]
`, `-A KUBE-SVC-Y2ELQZTLJW773NML -m comment --comment "default/term cluster IP" -m tcp -p tcp -d 10.43.0.70 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "default/term cluster IP" -m tcp -p tcp -d 10.43.0.70 --dport 80 -j KUBE-SVC-Y2ELQZTLJW773NML
-A KUBE-SVC-Y2ELQZTLJW773NML -m comment --comment "default/term -> 10.42.1.50:8080" -j KUBE-SEP-2DHQ5SP7SIMEPBGZ
-A KUBE-SEP-2DHQ5SP7SIMEPBGZ -m comment --comment default/term -s 10.42.1.50 -j KUBE-MARK-MASQ
-A KUBE-SEP-2DHQ5SP7SIMEPBGZ -m comment --comment default/term -m tcp -p tcp -j DNAT --to-destination 10.42.1.50:8080
`, "", true),
	}, {
		name:     "SCTP without a cluster CIDR: no off-cluster masquerade rule, plain MASQUERADE",
		services: []*v1.Service{service("default", "sctp", "10.43.0.80", port("s", v1.ProtocolSCTP, 9999, 0))},
		slices:   []*discoveryv1.EndpointSlice{endpointSlice("default", "sctp", "s", v1.ProtocolSCTP, 9999, ready("10.42.1.60", "node-a"))},
		opts:     options{},
		want: frame("", `:KUBE-SVC-YPSVDYCM26PJVJRL - [0:0]
:KUBE-SEP-PBZUIECOWT4L75Q3 - [0:0]
`, `-A KUBE-SERVICES -m comment --comment "default/sctp:s cluster IP" -m sctp -p sctp -d 10.43.0.80 --dport 9999 -j KUBE-SVC-YPSVDYCM26PJVJRL
-A KUBE-SVC-YPSVDYCM26PJVJRL -m comment --comment "default/sctp:s -> 10.42.1.60:9999" -j KUBE-SEP-PBZUIECOWT4L75Q3
-A KUBE-SEP-PBZUIECOWT4L75Q3 -m comment --comment default/sctp:s -s 10.42.1.60 -j KUBE-MARK-MASQ
-A KUBE-SEP-PBZUIECOWT4L75Q3 -m comment --comment default/sctp:s -m sctp -p sctp -j DNAT --to-destination 10.42.1.60:9999
`, "", false),
	}, {
		name:     "headless services and slices of unknown services get no rules",
		services: []*v1.Service{headless},
		slices: []*discoveryv1.EndpointSlice{
			endpointSlice("default", "headless", "", v1.ProtocolTCP, 80, ready("10.42.1.80", "node-a")),
			endpointSlice("default", "ghost", "", v1.ProtocolTCP, 80, ready("10.42.1.81", "node-a")),
		},
		opts: options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		want: frame("", "", "", "", true),
	}, {
		name:     "stale service chains are flushed and deleted, other chains untouched",
		opts:     options{clusterCIDR: "10.42.0.0/16", randomFully: true},
		existing: []string{"PREROUTING", "KUBE-SERVICES", "KUBE-SVC-OLDOLDOLDOLDOLD1", "KUBE-SEP-OLDOLDOLDOLDOLD2", "KUBE-EXT-OLDOLDOLDOLDOLD1", "DOCKER", "KUBE-MARK-MASQ"},
		want: frame("", `:KUBE-SVC-OLDOLDOLDOLDOLD1 - [0:0]
:KUBE-SEP-OLDOLDOLDOLDOLD2 - [0:0]
:KUBE-EXT-OLDOLDOLDOLDOLD1 - [0:0]
`, "", `-X KUBE-SVC-OLDOLDOLDOLDOLD1
-X KUBE-SEP-OLDOLDOLDOLDOLD2
-X KUBE-EXT-OLDOLDOLDOLDOLD1
`, true),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshot.Build(tc.services, tc.slices, "node-a")
			got := string(render(snap, tc.opts, tc.existing))
			if diff := cmp.Diff(strings.Split(tc.want, "\n"), strings.Split(got, "\n")); diff != "" {
				t.Errorf("render (-want +got):\n%s", diff)
			}
		})
	}
}

// The chain-name scheme must match kube-proxy's, so node operators and
// tools recognise chains across implementations.
func TestChainNamesMatchKubeProxy(t *testing.T) {
	for _, tc := range []struct {
		name snapshot.PortName
		want string
	}{
		{snapshot.PortName{Namespace: "default", Name: "kubernetes", Port: "https", Protocol: v1.ProtocolTCP}, "KUBE-SVC-NPX46M4PTMTKRN6Y"},
		{snapshot.PortName{Namespace: "kube-system", Name: "kube-dns", Port: "dns", Protocol: v1.ProtocolUDP}, "KUBE-SVC-TCOU7JCQXEZGVUNU"},
		{snapshot.PortName{Namespace: "kube-system", Name: "kube-dns", Port: "dns-tcp", Protocol: v1.ProtocolTCP}, "KUBE-SVC-ERIFXISQEP7F7OF4"},
	} {
		if got := portChain("KUBE-SVC-", tc.name); got != tc.want {
			t.Errorf("portChain(%s) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Spreading must give each of n endpoints 1/n of new connections: the
// product of "not taken before" and "taken here" for every rule.
func TestBalancerProbabilitiesAreUniform(t *testing.T) {
	for n := 1; n <= 7; n++ {
		var eps []discoveryv1.Endpoint
		for i := range n {
			eps = append(eps, ready("10.42.1."+string(rune('1'+i)), "node-a"))
		}
		snap := snapshot.Build(
			[]*v1.Service{service("default", "web", "10.43.0.10", port("", v1.ProtocolTCP, 80, 0))},
			[]*discoveryv1.EndpointSlice{endpointSlice("default", "web", "", v1.ProtocolTCP, 80, eps...)}, "node-a")
		rest := 1.0
		var shares []float64
		for _, line := range strings.Split(string(render(snap, options{}, nil)), "\n") {
			if !strings.HasPrefix(line, "-A KUBE-SVC-") || !strings.Contains(line, "-j KUBE-SEP-") {
				continue
			}
			p := 1.0
			if _, after, ok := strings.Cut(line, "--probability "); ok {
				var err error
				if p, err = strconv.ParseFloat(strings.Fields(after)[0], 64); err != nil {
					t.Fatal(err)
				}
			}
			shares = append(shares, rest*p)
			rest *= 1 - p
		}
		if len(shares) != n {
			t.Fatalf("n=%d: %d balancing rules", n, len(shares))
		}
		for i, s := range shares {
			if d := s - 1/float64(n); d > 1e-9 || d < -1e-9 {
				t.Errorf("n=%d: endpoint %d gets %.12f of traffic, want %.12f", n, i, s, 1/float64(n))
			}
		}
	}
}
