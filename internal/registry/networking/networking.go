// Package networking holds the strategies of networking.k8s.io/v1:
// ingresses, ingressclasses and networkpolicies.
package networking

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ingressClassAnnotation is the pre-ingressClassName way to name a class.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

// Ingresses is the strategy of networking.k8s.io/v1 ingresses.
func Ingresses() *registry.Resource {
	return &registry.Resource{
		GVK: networkingv1.SchemeGroupVersion.WithKind("Ingress"), Name: "ingresses", ShortNames: []string{"ing"},
		Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &networkingv1.Ingress{} },
		NewList: func() runtime.Object { return &networkingv1.IngressList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*networkingv1.Ingress).Status = networkingv1.IngressStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ing := obj.(*networkingv1.Ingress)
			errs := validateIngressSpec(&ing.Spec, field.NewPath("spec"))
			return append(errs, validateIngressStatus(&ing.Status.LoadBalancer, field.NewPath("status", "loadBalancer"))...)
		},
		// The class annotation is checked against ingressClassName only on
		// create, as upstream does.
		BeforeCreate: func(_ context.Context, obj runtime.Object) (map[string]string, error) {
			ing := obj.(*networkingv1.Ingress)
			if errs := validateIngressCreate(ing); len(errs) > 0 {
				return nil, apierrors.NewInvalid(networkingv1.SchemeGroupVersion.WithKind("Ingress").GroupKind(), ing.Name, errs)
			}
			return nil, nil
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Class", "string", 0, "The name of the IngressClass resource that should be used for additional configuration"),
			registry.Col("Hosts", "string", 0, "Hosts that incoming requests are matched against before the ingress rule"),
			registry.Col("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
			registry.Col("Ports", "string", 0, "Ports of TLS configurations that open"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			ing := obj.(*networkingv1.Ingress)
			ports := "80"
			if len(ing.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []interface{}{ing.Name, ptr.Deref(ing.Spec.IngressClassName, "<none>"), ingressHosts(ing.Spec.Rules),
				ingressAddress(ing.Status.LoadBalancer), ports, registry.Age(ing.CreationTimestamp)}
		},
	}
}

// validateIngressCreate adds what upstream checks only when an Ingress is
// created: the class annotation must agree with ingressClassName.
func validateIngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	if a, ok := ing.Annotations[ingressClassAnnotation]; ok && ing.Spec.IngressClassName != nil && a != *ing.Spec.IngressClassName {
		return field.ErrorList{field.Invalid(field.NewPath("annotations").Child(ingressClassAnnotation), a, "must match `ingressClassName` when both are specified")}
	}
	return nil
}

// ingressHosts prints up to three rule hosts, "*" when no rule names one.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var list []string
	more := false
	for _, r := range rules {
		if len(list) == 3 {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	out := strings.Join(list, ",")
	if more {
		out += fmt.Sprintf(" + %d more...", len(rules)-3)
	}
	return out
}

func ingressAddress(s networkingv1.IngressLoadBalancerStatus) string {
	seen := map[string]bool{}
	var out []string
	for _, in := range s.Ingress {
		v := in.IP
		if v == "" {
			v = in.Hostname
		}
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func validateIngressSpec(spec *networkingv1.IngressSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, r := range spec.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			if isIP(r.Host) {
				errs = append(errs, field.Invalid(rp.Child("host"), r.Host, "must be a DNS name, not an IP address"))
			}
			check := validation.IsDNS1123Subdomain
			if strings.Contains(r.Host, "*") {
				check = validation.IsWildcardDNS1123Subdomain
			}
			for _, msg := range check(r.Host) {
				errs = append(errs, field.Invalid(rp.Child("host"), r.Host, msg))
			}
		}
		if r.HTTP == nil {
			continue
		}
		hp := rp.Child("http")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(hp.Child("paths"), ""))
		}
		for j := range r.HTTP.Paths {
			errs = append(errs, validatePath(&r.HTTP.Paths[j], hp.Child("paths").Index(j))...)
		}
	}
	for i, t := range spec.TLS {
		tp := p.Child("tls").Index(i)
		for j, h := range t.Hosts {
			check := validation.IsDNS1123Subdomain
			if strings.Contains(h, "*") {
				check = validation.IsWildcardDNS1123Subdomain
			}
			for _, msg := range check(h) {
				errs = append(errs, field.Invalid(tp.Child("hosts").Index(j), h, msg))
			}
		}
		if t.SecretName != "" {
			for _, msg := range apivalidation.NameIsDNSSubdomain(t.SecretName, false) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), t.SecretName, msg))
			}
		}
	}
	if c := spec.IngressClassName; c != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*c, false) {
			errs = append(errs, field.Invalid(p.Child("ingressClassName"), *c, msg))
		}
	}
	return errs
}

var pathTypes = []string{"Exact", "ImplementationSpecific", "Prefix"}

func validatePath(hp *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if hp.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *hp.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
		}
		if hp.Path != "" {
			for _, seq := range []string{"//", "/./", "/../", "%2f", "%2F"} {
				if strings.Contains(hp.Path, seq) {
					errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suf := range []string{"/..", "/."} {
				if strings.HasSuffix(hp.Path, suf) {
					errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("cannot end with '%s'", suf)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *hp.PathType, pathTypes))
	}
	return append(errs, validateBackend(&hp.Backend, p.Child("backend"))...)
}

func validateBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		errs = append(errs, validateTypedRef(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"))...)
	case b.Service != nil:
		if b.Service.Name == "" {
			errs = append(errs, field.Required(p.Child("service", "name"), ""))
		} else {
			for _, msg := range apivalidation.NameIsDNSLabel(b.Service.Name, false) {
				errs = append(errs, field.Invalid(p.Child("service", "name"), b.Service.Name, msg))
			}
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(p.Child("service", "port", "name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range validation.IsValidPortNum(int(port.Number)) {
				errs = append(errs, field.Invalid(p.Child("service", "port", "number"), port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
	default:
		errs = append(errs, field.Invalid(p, "", "resource or service backend is required"))
	}
	return errs
}

func validateTypedRef(group *string, kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if group != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*group) {
			errs = append(errs, field.Invalid(p.Child("apiGroup"), *group, msg))
		}
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(kind) {
			errs = append(errs, field.Invalid(p.Child("kind"), kind, msg))
		}
	}
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(name) {
			errs = append(errs, field.Invalid(p.Child("name"), name, msg))
		}
	}
	return errs
}

func validateIngressStatus(s *networkingv1.IngressLoadBalancerStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, in := range s.Ingress {
		ip := p.Child("ingress").Index(i)
		if in.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), in.IP, false, nil)...)
		}
		if in.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(in.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), in.Hostname, msg))
			}
			if isIP(in.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), in.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

// IngressClasses is the strategy of networking.k8s.io/v1 ingressclasses.
func IngressClasses() *registry.Resource {
	return &registry.Resource{
		GVK: networkingv1.SchemeGroupVersion.WithKind("IngressClass"), Name: "ingressclasses", Generation: true,
		New:     func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList: func() runtime.Object { return &networkingv1.IngressClassList{} },
		Default: func(obj runtime.Object) {
			if pr := obj.(*networkingv1.IngressClass).Spec.Parameters; pr != nil && pr.Scope == nil {
				pr.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateIngressClassSpec(&obj.(*networkingv1.IngressClass).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return apivalidation.ValidateImmutableField(obj.(*networkingv1.IngressClass).Spec.Controller,
				old.(*networkingv1.IngressClass).Spec.Controller, field.NewPath("spec", "controller"))
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Controller", "string", 0, "Controller that is responsible for handling this class"),
			registry.Col("Parameters", "string", 0, "A reference to a resource with additional parameters"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			ic := obj.(*networkingv1.IngressClass)
			params := "<none>"
			if pr := ic.Spec.Parameters; pr != nil {
				params = pr.Kind
				if pr.APIGroup != nil {
					params += "." + *pr.APIGroup
				}
				params += "/" + pr.Name
			}
			return []interface{}{ic.Name, ic.Spec.Controller, params, registry.Age(ic.CreationTimestamp)}
		},
	}
}

func validateIngressClassSpec(spec *networkingv1.IngressClassSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := p.Child("controller")
	if spec.Controller == "" {
		errs = append(errs, field.Required(cp, ""))
	} else {
		if len(spec.Controller) > 250 {
			errs = append(errs, field.TooLong(cp, "", 250))
		}
		errs = append(errs, validation.IsDomainPrefixedPath(cp, spec.Controller)...)
	}
	pr := spec.Parameters
	if pr == nil {
		return errs
	}
	pp := p.Child("parameters")
	errs = append(errs, validateTypedRef(pr.APIGroup, pr.Kind, pr.Name, pp)...)
	if pr.Scope == nil {
		return append(errs, field.Required(pp.Child("scope"), ""))
	}
	switch *pr.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if pr.Namespace == nil {
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			for _, msg := range apivalidation.ValidateNamespaceName(*pr.Namespace, false) {
				errs = append(errs, field.Invalid(pp.Child("namespace"), *pr.Namespace, msg))
			}
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if pr.Namespace != nil {
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(pp.Child("scope"), *pr.Scope, []string{"Cluster", "Namespace"}))
	}
	return errs
}

// NetworkPolicies is the strategy of networking.k8s.io/v1 networkpolicies.
func NetworkPolicies() *registry.Resource {
	return &registry.Resource{
		GVK: networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"), Name: "networkpolicies", ShortNames: []string{"netpol"},
		Namespaced: true, Generation: true,
		New:     func() runtime.Object { return &networkingv1.NetworkPolicy{} },
		NewList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		Default: func(obj runtime.Object) {
			spec := &obj.(*networkingv1.NetworkPolicy).Spec
			defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
				for i := range ports {
					if ports[i].Protocol == nil {
						ports[i].Protocol = ptr.To(corev1.ProtocolTCP)
					}
				}
			}
			for i := range spec.Ingress {
				defaultPorts(spec.Ingress[i].Ports)
			}
			for i := range spec.Egress {
				defaultPorts(spec.Egress[i].Ports)
			}
			if len(spec.PolicyTypes) == 0 {
				spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
				if len(spec.Egress) > 0 {
					spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateNetworkPolicySpec(&obj.(*networkingv1.NetworkPolicy).Spec, field.NewPath("spec"))
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Pod-Selector", "string", 0, extensionsv1beta1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			np := obj.(*networkingv1.NetworkPolicy)
			return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), registry.Age(np.CreationTimestamp)}
		},
	}
}

func validateNetworkPolicySpec(spec *networkingv1.NetworkPolicySpec, p *field.Path) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&spec.PodSelector, opts, p.Child("podSelector"))
	rules := func(child, peers string, n int, ports func(int) []networkingv1.NetworkPolicyPort, peer func(int) []networkingv1.NetworkPolicyPeer) {
		for i := 0; i < n; i++ {
			rp := p.Child(child).Index(i)
			for j := range ports(i) {
				errs = append(errs, validatePort(&ports(i)[j], rp.Child("ports").Index(j))...)
			}
			for j := range peer(i) {
				errs = append(errs, validatePeer(&peer(i)[j], rp.Child(peers).Index(j))...)
			}
		}
	}
	rules("ingress", "from", len(spec.Ingress),
		func(i int) []networkingv1.NetworkPolicyPort { return spec.Ingress[i].Ports },
		func(i int) []networkingv1.NetworkPolicyPeer { return spec.Ingress[i].From })
	rules("egress", "to", len(spec.Egress),
		func(i int) []networkingv1.NetworkPolicyPort { return spec.Egress[i].Ports },
		func(i int) []networkingv1.NetworkPolicyPeer { return spec.Egress[i].To })
	if len(spec.PolicyTypes) > 2 {
		return append(errs, field.Invalid(p.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p.Child("policyTypes").Index(i), t, []string{"Ingress", "Egress"}))
		}
	}
	return errs
}

func validatePort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if pr := port.Protocol; pr != nil && *pr != corev1.ProtocolTCP && *pr != corev1.ProtocolUDP && *pr != corev1.ProtocolSCTP {
		errs = append(errs, field.NotSupported(p.Child("protocol"), *pr, []string{"TCP", "UDP", "SCTP"}))
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
			}
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port.StrVal, msg))
		}
	}
	return errs
}

func validatePeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if b := peer.IPBlock; b != nil {
		n++
		errs = append(errs, validateIPBlock(b, p.Child("ipBlock"))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a peer"))
	} else if n > 1 && peer.IPBlock != nil {
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDRForLegacyField(p.Child("cidr"), b.CIDR, false, nil)
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return errs
	}
	for i, ex := range b.Except {
		ep := p.Child("except").Index(i)
		errs = append(errs, validation.IsValidCIDRForLegacyField(ep, ex, false, nil)...)
		exc, err := netip.ParsePrefix(ex)
		if err != nil {
			continue
		}
		if !cidr.Contains(exc.Addr()) || cidr.Bits() >= exc.Bits() {
			errs = append(errs, field.Invalid(ep, ex, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
