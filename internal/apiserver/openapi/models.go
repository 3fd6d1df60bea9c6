package openapi

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Models returns the definitions of the kinds of in.Resources and of their
// subresources' kinds (autoscaling/v1 Scale, ...), keyed by definition name,
// with the extensions server-side apply reads (x-kubernetes-group-version-kind,
// list and map types and keys, patch strategies): the input of
// k8s.io/apimachinery/pkg/util/managedfields.NewTypeConverter. They are the
// OpenAPI v3 definitions, as upstream builds its converter from: their
// defaults fill in the keys of list items that leave a key out (a
// container port's protocol is "TCP").
// Custom resources (unstructured objects) are described as in the
// documents, by in.CustomSchema or as objects that keep unknown fields.
func Models(in Input) map[string]*spec.Schema {
	s := newSchemas(true, gvksByType(in))
	s.custom = in.CustomSchema
	for _, res := range in.Resources {
		if _, ok := res.New().(runtime.Unstructured); ok {
			s.customRef(res.GVK, false)
			s.define(reflect.TypeOf(metav1.ObjectMeta{})) // what its schema refers to
			continue
		}
		s.define(reflect.TypeOf(res.New()).Elem())
		if in.Subresources == nil || in.Scheme == nil {
			continue
		}
		for _, sub := range in.Subresources(res) {
			if sub.Kind == "" {
				continue
			}
			gvk := res.GVK.GroupVersion().WithKind(sub.Kind)
			if sub.Version != "" {
				gvk.Group, gvk.Version = sub.Group, sub.Version
			}
			if obj, err := in.Scheme.New(gvk); err == nil {
				if _, ok := obj.(runtime.Unstructured); !ok {
					s.define(reflect.TypeOf(obj).Elem())
				}
			}
		}
	}
	return s.defs
}
