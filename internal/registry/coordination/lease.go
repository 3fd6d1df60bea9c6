// Package coordination holds the strategy of coordination.k8s.io leases.
package coordination

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Leases is the strategy of coordination.k8s.io/v1 leases.
func Leases() *registry.Resource {
	return &registry.Resource{
		GVK: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Name: "leases", Namespaced: true,
		New:     func() runtime.Object { return &coordinationv1.Lease{} },
		NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Holder", "string", 0, "holderIdentity contains the identity of the holder of a current lease."),
			registry.AgeColumn},
		Row: func(obj runtime.Object) []interface{} {
			l := obj.(*coordinationv1.Lease)
			holder := "<none>"
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, registry.Age(l.CreationTimestamp)}
		},
	}
}
