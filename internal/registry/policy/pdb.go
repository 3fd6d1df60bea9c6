// Package policy holds the strategy of policy/v1 PodDisruptionBudgets:
// validation with upstream's messages and table columns.
//
//	in:  decoded policy/v1 objects from the API server's generic path
//	out: field.ErrorList, table rows
package policy

import (
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/apps"
)

// PodDisruptionBudgets is the strategy of policy/v1 poddisruptionbudgets.
func PodDisruptionBudgets() *registry.Resource {
	return &registry.Resource{
		GVK: policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), Name: "poddisruptionbudgets",
		ShortNames: []string{"pdb"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*policyv1.PodDisruptionBudget).Status = policyv1.PodDisruptionBudgetStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			pdb := obj.(*policyv1.PodDisruptionBudget)
			return append(validateSpec(&pdb.Spec, field.NewPath("spec")), validateStatus(&pdb.Status, field.NewPath("status"))...)
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Min Available", "string", 0, "The minimum number of pods that must be available."),
			registry.Col("Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable."),
			registry.Col("Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			pdb := obj.(*policyv1.PodDisruptionBudget)
			return []interface{}{pdb.Name, orNA(pdb.Spec.MinAvailable), orNA(pdb.Spec.MaxUnavailable),
				int64(pdb.Status.DisruptionsAllowed), registry.Age(pdb.CreationTimestamp)}
		},
	}
}

func orNA(v *intstr.IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}

// specValue prints a spec in a message as upstream does: its internal type
// has no JSON tags, so the keys are Go field names.
type specValue struct {
	MinAvailable               *intstr.IntOrString
	Selector                   *metav1.LabelSelector
	MaxUnavailable             *intstr.IntOrString
	UnhealthyPodEvictionPolicy *policyv1.UnhealthyPodEvictionPolicyType
}

func validateSpec(s *policyv1.PodDisruptionBudgetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(path, specValue{s.MinAvailable, s.Selector, s.MaxUnavailable, s.UnhealthyPodEvictionPolicy},
			"minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		v    *intstr.IntOrString
		name string
	}{{s.MinAvailable, "minAvailable"}, {s.MaxUnavailable, "maxUnavailable"}} {
		if f.v != nil {
			errs = append(errs, apps.ValidatePositiveIntOrPercent(*f.v, path.Child(f.name))...)
			errs = append(errs, apps.IsNotMoreThan100Percent(*f.v, path.Child(f.name))...)
		}
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, path.Child("selector"))...)
	if p := s.UnhealthyPodEvictionPolicy; p != nil && *p != policyv1.IfHealthyBudget && *p != policyv1.AlwaysAllow {
		errs = append(errs, field.NotSupported(path.Child("unhealthyPodEvictionPolicy"), *p, []string{"AlwaysAllow", "IfHealthyBudget"}))
	}
	return errs
}

func validateStatus(s *policyv1.PodDisruptionBudgetStatus, path *field.Path) field.ErrorList {
	errs := apivalidation.ValidateNonnegativeField(int64(s.DisruptionsAllowed), path.Child("disruptionsAllowed"))
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.CurrentHealthy), path.Child("currentHealthy"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.DesiredHealthy), path.Child("desiredHealthy"))...)
	return append(errs, apivalidation.ValidateNonnegativeField(int64(s.ExpectedPods), path.Child("expectedPods"))...)
}
