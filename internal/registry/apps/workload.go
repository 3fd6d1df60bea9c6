package apps

import (
	"strconv"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Helpers shared by the apps/v1 workloads and by other groups that validate
// int-or-percent fields the way apps does (policy/v1 PodDisruptionBudgets).

// ValidatePositiveIntOrPercent checks that v is a non-negative integer or a
// valid percent string.
func ValidatePositiveIntOrPercent(v intstr.IntOrString, path *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(path, v, msg))
		}
		return errs
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntValue()), path)
	}
	return field.ErrorList{field.Invalid(path, v, "must be an integer or percentage (e.g '5%%')")}
}

// IsNotMoreThan100Percent rejects a percentage above 100%.
func IsNotMoreThan100Percent(v intstr.IntOrString, path *field.Path) field.ErrorList {
	if p, ok := percentValue(v); ok && p > 100 {
		return field.ErrorList{field.Invalid(path, v, "must not be greater than 100%")}
	}
	return nil
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

// intOrPercentValue is the number in v, whether a count or a percentage.
func intOrPercentValue(v intstr.IntOrString) int {
	if p, ok := percentValue(v); ok {
		return p
	}
	return v.IntValue()
}

// validateSelectorFor checks a workload selector that is required and may
// not be empty; kind names the workload in the message ("statefulset").
func validateSelectorFor(sel *metav1.LabelSelector, kind string, path *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(path, "")}
	}
	errs := validateLabelSelector(sel, path)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(path, sel, "empty selector is invalid for "+kind))
	}
	return errs
}

func validateLabelSelector(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, path)
}
