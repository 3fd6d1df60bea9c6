package registry

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateMeta checks an object's metadata as upstream does for every kind.
func ValidateMeta(res *Resource, m metav1.Object) field.ErrorList {
	nameFn := res.NameValidation
	if nameFn == nil {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	return apivalidation.ValidateObjectMetaAccessor(m, res.Namespaced, nameFn, field.NewPath("metadata"))
}

// ValidateMetaUpdate checks what may not change in metadata.
func ValidateMetaUpdate(m, old metav1.Object) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessorUpdate(m, old, field.NewPath("metadata"))
}
