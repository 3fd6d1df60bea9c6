// Package discovery holds the strategy of discovery.k8s.io endpointslices.
package discovery

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// EndpointSlices is the strategy of discovery.k8s.io/v1 endpointslices.
func EndpointSlices() *registry.Resource {
	return &registry.Resource{
		GVK: discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), Name: "endpointslices", Namespaced: true,
		New:     func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default: func(obj runtime.Object) {
			s := obj.(*discoveryv1.EndpointSlice)
			for i := range s.Ports {
				if s.Ports[i].Protocol == nil {
					p := corev1.ProtocolTCP
					s.Ports[i].Protocol = &p
				}
				if s.Ports[i].Name == nil {
					n := ""
					s.Ports[i].Name = &n
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			s := obj.(*discoveryv1.EndpointSlice)
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
				return nil
			}
			return field.ErrorList{field.NotSupported(field.NewPath("addressType"), s.AddressType, []string{"FQDN", "IPv4", "IPv6"})}
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			if obj.(*discoveryv1.EndpointSlice).AddressType != old.(*discoveryv1.EndpointSlice).AddressType {
				return field.ErrorList{field.Invalid(field.NewPath("addressType"), obj.(*discoveryv1.EndpointSlice).AddressType, "field is immutable")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice."),
			registry.Col("Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."),
			registry.Col("Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."),
			registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*discoveryv1.EndpointSlice)
			var ports []string
			for _, p := range s.Ports {
				if p.Port != nil {
					ports = append(ports, fmt.Sprint(*p.Port))
				}
			}
			portStr := "<unset>"
			if len(ports) > 0 {
				portStr = strings.Join(ports, ",")
			}
			var addrs []string
			total := 0
			for _, e := range s.Endpoints {
				for _, a := range e.Addresses {
					if len(addrs) < 3 {
						addrs = append(addrs, a)
					}
					total++
				}
			}
			eps := "<unset>"
			if total > 0 {
				eps = strings.Join(addrs, ",")
				if total > 3 {
					eps += fmt.Sprintf(" + %d more...", total-3)
				}
			}
			return []interface{}{s.Name, string(s.AddressType), portStr, eps, registry.Age(s.CreationTimestamp)}
		},
	}
}
