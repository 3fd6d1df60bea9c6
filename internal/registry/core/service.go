package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ServiceConfig is what service IP and port allocation needs.
type ServiceConfig struct {
	ServiceCIDR netip.Prefix
	NodePortMin int // default 30000
	NodePortMax int // default 32767
	// Taken says whether a claim key is held already.
	Taken func(ctx context.Context, key string) (bool, error)
}

const (
	ipClaimPrefix   = "/registry/claims/serviceips/"
	portClaimPrefix = "/registry/claims/nodeports/"
)

// Services is the strategy of core/v1 services: ClusterIPs and NodePorts
// are allocated on create and held as claims until the service goes.
func Services(cfg ServiceConfig) *registry.Resource {
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	a := &allocator{cfg: cfg}
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("Service"), Name: "services", ShortNames: []string{"svc"},
		Categories: []string{"all"}, Namespaced: true, Status: true,
		NameValidation: apivalidation.NameIsDNS1035Label,
		New:            func() runtime.Object { return &corev1.Service{} },
		NewList:        func() runtime.Object { return &corev1.ServiceList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.Service).Status = corev1.ServiceStatus{}
		},
		Default:  func(obj runtime.Object) { defaultService(obj.(*corev1.Service)) },
		Validate: func(obj runtime.Object) field.ErrorList { return validateService(obj.(*corev1.Service)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*corev1.Service), old.(*corev1.Service)
			var errs field.ErrorList
			if o.Spec.ClusterIP != "" && n.Spec.ClusterIP != o.Spec.ClusterIP && n.Spec.Type != corev1.ServiceTypeExternalName {
				errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), n.Spec.ClusterIPs, "may not change once set"))
			}
			return errs
		},
		BeforeCreate: func(ctx context.Context, obj runtime.Object) (map[string]string, error) {
			return a.allocate(ctx, obj.(*corev1.Service), nil)
		},
		BeforeUpdate: func(ctx context.Context, obj, old runtime.Object) (map[string]string, []string, error) {
			n, o := obj.(*corev1.Service), old.(*corev1.Service)
			// Keep what was allocated when the client did not repeat it.
			if n.Spec.ClusterIP == "" && o.Spec.ClusterIP != "" && n.Spec.Type != corev1.ServiceTypeExternalName {
				n.Spec.ClusterIP, n.Spec.ClusterIPs = o.Spec.ClusterIP, o.Spec.ClusterIPs
			}
			claims, err := a.allocate(ctx, n, o)
			if err != nil {
				return nil, nil, err
			}
			held := map[string]bool{}
			for _, k := range serviceClaims(n) {
				held[k] = true
			}
			var release []string
			for _, k := range serviceClaims(o) {
				if !held[k] {
					release = append(release, k)
				}
			}
			return claims, release, nil
		},
		Claims: func(obj runtime.Object) []string { return serviceClaims(obj.(*corev1.Service)) },
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Type", "string", 0, "type determines how the Service is exposed."),
			registry.Col("Cluster-IP", "string", 0, "clusterIP is the IP address of the service and is usually assigned randomly."),
			registry.Col("External-IP", "string", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
			registry.Col("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
			registry.AgeColumn,
			registry.Col("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
		},
		Row: func(obj runtime.Object) []interface{} { return serviceRow(obj.(*corev1.Service)) },
	}
}

func defaultService(s *corev1.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	if s.Spec.SessionAffinity == "" {
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP && s.Spec.SessionAffinityConfig == nil {
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(10800))}}
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if s.Spec.InternalTrafficPolicy == nil {
		p := corev1.ServiceInternalTrafficPolicyCluster
		s.Spec.InternalTrafficPolicy = &p
	}
	if (s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer) && s.Spec.ExternalTrafficPolicy == "" {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.AllocateLoadBalancerNodePorts == nil {
		s.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
	}
	if len(s.Spec.IPFamilies) == 0 {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if s.Spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		s.Spec.IPFamilyPolicy = &p
	}
	if s.Spec.ClusterIP != "" && len(s.Spec.ClusterIPs) == 0 {
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
	}
}

func validateService(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, []string{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}))
	}
	if s.Spec.Type != corev1.ServiceTypeExternalName && len(s.Spec.Ports) == 0 && s.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName && s.Spec.ExternalName == "" {
		errs = append(errs, field.Required(spec.Child("externalName"), ""))
	}
	names := map[string]bool{}
	type key struct {
		port  int32
		proto corev1.Protocol
	}
	seen := map[key]bool{}
	for i, p := range s.Spec.Ports {
		pp := spec.Child("ports").Index(i)
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		} else if p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
			}
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
		}
		errs = append(errs, validateProtocol(p.Protocol, pp.Child("protocol"))...)
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.TargetPort.IntVal)) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort, msg))
			}
		} else if p.TargetPort.Type == intstr.String {
			for _, msg := range validation.IsValidPortName(p.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort, msg))
			}
		}
		if p.NodePort != 0 && s.Spec.Type == corev1.ServiceTypeClusterIP {
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		k := key{p.Port, p.Protocol}
		if seen[k] {
			// Upstream prints the duplicate key (protocol and port of an
			// otherwise empty port) with its Go field names.
			errs = append(errs, field.Duplicate(pp, struct {
				Name        string
				Protocol    corev1.Protocol
				AppProtocol *string
				Port        int32
				TargetPort  int32
				NodePort    int32
			}{Protocol: p.Protocol, Port: p.Port}))
		}
		seen[k] = true
	}
	switch s.Spec.SessionAffinity {
	case corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
	default:
		errs = append(errs, field.NotSupported(spec.Child("sessionAffinity"), s.Spec.SessionAffinity, []string{"ClientIP", "None"}))
	}
	return errs
}

// allocator hands out ClusterIPs and NodePorts. Uniqueness is enforced by
// claim keys written in the same etcd transaction as the service.
type allocator struct {
	cfg ServiceConfig
}

func serviceClaims(s *corev1.Service) []string {
	var keys []string
	if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		keys = append(keys, ipClaimPrefix+ip)
	}
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			keys = append(keys, fmt.Sprintf("%s%s/%d", portClaimPrefix, strings.ToLower(string(p.Protocol)), p.NodePort))
		}
	}
	return keys
}

func (a *allocator) allocate(ctx context.Context, s *corev1.Service, old *corev1.Service) (map[string]string, error) {
	claims := map[string]string{}
	owner := s.Namespace + "/" + s.Name
	held := map[string]bool{}
	if old != nil {
		for _, k := range serviceClaims(old) {
			held[k] = true
		}
	}
	if s.Spec.Type != corev1.ServiceTypeExternalName {
		switch ip := s.Spec.ClusterIP; {
		case ip == corev1.ClusterIPNone:
			s.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		case ip == "":
			got, err := a.freeIP(ctx)
			if err != nil {
				return nil, err
			}
			s.Spec.ClusterIP, s.Spec.ClusterIPs = got, []string{got}
			claims[ipClaimPrefix+got] = owner
		case !held[ipClaimPrefix+ip]:
			addr, err := netip.ParseAddr(ip)
			path := field.NewPath("spec", "clusterIPs").Index(0)
			if err != nil {
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), s.Name, field.ErrorList{field.Invalid(path, ip, "must be a valid IP address")})
			}
			if !a.cfg.ServiceCIDR.Contains(addr) {
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), s.Name, field.ErrorList{field.Invalid(path, []string{ip},
					fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, a.cfg.ServiceCIDR))})
			}
			if taken, err := a.cfg.Taken(ctx, ipClaimPrefix+ip); err != nil {
				return nil, err
			} else if taken {
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), s.Name, field.ErrorList{field.Invalid(path, []string{ip},
					fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))})
			}
			claims[ipClaimPrefix+ip] = owner
		}
	}
	if s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer && ptr.Deref(s.Spec.AllocateLoadBalancerNodePorts, true) {
		for i := range s.Spec.Ports {
			p := &s.Spec.Ports[i]
			if p.NodePort == 0 && old != nil {
				for _, op := range old.Spec.Ports {
					if op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
						p.NodePort = op.NodePort
					}
				}
			}
			proto := strings.ToLower(string(p.Protocol))
			if p.NodePort == 0 {
				port, err := a.freePort(ctx, proto, claims)
				if err != nil {
					return nil, err
				}
				p.NodePort = port
				claims[fmt.Sprintf("%s%s/%d", portClaimPrefix, proto, port)] = owner
				continue
			}
			k := fmt.Sprintf("%s%s/%d", portClaimPrefix, proto, p.NodePort)
			if held[k] {
				continue
			}
			path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
			if int(p.NodePort) < a.cfg.NodePortMin || int(p.NodePort) > a.cfg.NodePortMax {
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), s.Name, field.ErrorList{field.Invalid(path, p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.cfg.NodePortMin, a.cfg.NodePortMax))})
			}
			if taken, err := a.cfg.Taken(ctx, k); err != nil {
				return nil, err
			} else if taken || claims[k] != "" {
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), s.Name, field.ErrorList{field.Invalid(path, p.NodePort, "provided port is already allocated")})
			}
			claims[k] = owner
		}
	}
	return claims, nil
}

// freeIP picks a random free address of the service CIDR (never the
// network address, the first address, reserved for "kubernetes", or the
// broadcast address).
func (a *allocator) freeIP(ctx context.Context) (string, error) {
	p := a.cfg.ServiceCIDR.Masked()
	size := uint64(1) << (32 - p.Bits())
	if size < 8 {
		return "", apierrors.NewInternalError(fmt.Errorf("service CIDR %s is too small", p))
	}
	base := p.Addr().As4()
	start := uint64(base[0])<<24 | uint64(base[1])<<16 | uint64(base[2])<<8 | uint64(base[3])
	for i := 0; i < 64; i++ {
		n := start + 2 + rand.Uint64N(size-3)
		addr := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
		taken, err := a.cfg.Taken(ctx, ipClaimPrefix+addr)
		if err != nil {
			return "", err
		}
		if !taken {
			return addr, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (a *allocator) freePort(ctx context.Context, proto string, pending map[string]string) (int32, error) {
	span := a.cfg.NodePortMax - a.cfg.NodePortMin + 1
	for i := 0; i < 64; i++ {
		port := int32(a.cfg.NodePortMin + rand.IntN(span))
		k := fmt.Sprintf("%s%s/%d", portClaimPrefix, proto, port)
		if pending[k] != "" {
			continue
		}
		taken, err := a.cfg.Taken(ctx, k)
		if err != nil {
			return 0, err
		}
		if !taken {
			return port, nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

func serviceRow(s *corev1.Service) []interface{} {
	clusterIP := s.Spec.ClusterIP
	if clusterIP == "" {
		clusterIP = "<none>"
	}
	external := "<none>"
	switch s.Spec.Type {
	case corev1.ServiceTypeExternalName:
		external = s.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, s.Spec.ExternalIPs...)
		if len(ips) > 0 {
			external = strings.Join(ips, ",")
		} else {
			external = "<pending>"
		}
	default:
		if len(s.Spec.ExternalIPs) > 0 {
			external = strings.Join(s.Spec.ExternalIPs, ",")
		}
	}
	var ports []string
	for _, p := range s.Spec.Ports {
		str := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort != 0 {
			str = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
		ports = append(ports, str)
	}
	portStr := "<none>"
	if len(ports) > 0 {
		portStr = strings.Join(ports, ",")
	}
	return []interface{}{s.Name, string(s.Spec.Type), clusterIP, external, portStr, registry.Age(s.CreationTimestamp),
		registry.OrNone(registry.LabelsString(s.Spec.Selector))}
}
