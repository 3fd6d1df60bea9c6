package apiextensions

import (
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kedge-dev/kedge/internal/registry"
)

// The API server's codec reads and writes typed objects through client-go's
// scheme, which does not know apiextensions.k8s.io; it is registered once,
// as client-go's own scheme packages register theirs.
func init() {
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme.Scheme))
}

// CleanupFinalizer holds a deleted CRD until its custom resources are gone.
const CleanupFinalizer = apiextensionsv1.CustomResourceCleanupFinalizer

// CustomResourceDefinitions is the strategy of
// apiextensions.k8s.io/v1 customresourcedefinitions.
func CustomResourceDefinitions() *registry.Resource {
	return &registry.Resource{
		GVK:  apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"),
		Name: "customresourcedefinitions", ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"},
		Status: true, Generation: true,
		New:     func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} },
		NewList: func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} },
		PrepareForCreate: func(obj runtime.Object) {
			crd := obj.(*apiextensionsv1.CustomResourceDefinition)
			crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		},
		Default: func(obj runtime.Object) { Defaults(obj.(*apiextensionsv1.CustomResourceDefinition)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCRD(obj.(*apiextensionsv1.CustomResourceDefinition))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateCRDUpdate(obj.(*apiextensionsv1.CustomResourceDefinition), old.(*apiextensionsv1.CustomResourceDefinition))
		},
		// The first delete marks the CRD Terminating and holds it with the
		// cleanup finalizer until its custom resources are deleted.
		PrepareForDelete: func(obj runtime.Object) {
			crd := obj.(*apiextensionsv1.CustomResourceDefinition)
			if !hasFinalizer(crd.Finalizers, CleanupFinalizer) {
				crd.Finalizers = append(crd.Finalizers, CleanupFinalizer)
			}
			SetCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{
				Type: apiextensionsv1.Terminating, Status: apiextensionsv1.ConditionTrue, Reason: "InstanceDeletionPending",
				Message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
			})
		},
		Finalizing: func(obj runtime.Object) bool {
			return obj.(*apiextensionsv1.CustomResourceDefinition).DeletionTimestamp == nil
		},
	}
}

// Defaults sets upstream's defaults of a CRD: singular and listKind names
// from the kind, conversion strategy None, and the storage version recorded
// in status.storedVersions.
func Defaults(crd *apiextensionsv1.CustomResourceDefinition) {
	n := &crd.Spec.Names
	if n.Singular == "" {
		n.Singular = strings.ToLower(n.Kind)
	}
	if n.ListKind == "" && n.Kind != "" {
		n.ListKind = n.Kind + "List"
	}
	if crd.Spec.Conversion == nil {
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	}
	if w := crd.Spec.Conversion.Webhook; w != nil && w.ClientConfig != nil && w.ClientConfig.Service != nil && w.ClientConfig.Service.Port == nil {
		port := int32(443)
		w.ClientConfig.Service.Port = &port
	}
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			if !hasFinalizer(crd.Status.StoredVersions, v.Name) {
				crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
			}
			break
		}
	}
}

func hasFinalizer(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Condition returns the condition of a type, or nil.
func Condition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) *apiextensionsv1.CustomResourceDefinitionCondition {
	for i := range crd.Status.Conditions {
		if crd.Status.Conditions[i].Type == t {
			return &crd.Status.Conditions[i]
		}
	}
	return nil
}

func isConditionTrue(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	c := Condition(crd, t)
	return c != nil && c.Status == apiextensionsv1.ConditionTrue
}

// IsConditionTrue says whether a condition of a CRD is True.
func IsConditionTrue(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	return isConditionTrue(crd, t)
}

// SetCondition sets a condition; its lastTransitionTime moves only when its
// status changes.
func SetCondition(crd *apiextensionsv1.CustomResourceDefinition, c apiextensionsv1.CustomResourceDefinitionCondition) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	c.LastTransitionTime = now
	old := Condition(crd, c.Type)
	if old == nil {
		crd.Status.Conditions = append(crd.Status.Conditions, c)
		return
	}
	if old.Status == c.Status && !old.LastTransitionTime.IsZero() {
		c.LastTransitionTime = old.LastTransitionTime
	}
	*old = c
}
