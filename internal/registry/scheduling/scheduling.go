// Package scheduling holds the strategy of scheduling.k8s.io/v1
// priorityclasses and the two system PriorityClasses every cluster has.
package scheduling

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

const (
	// HighestUserDefinablePriority is the highest value a PriorityClass not
	// reserved for the system may have.
	HighestUserDefinablePriority = int32(1000000000)
	// SystemCriticalPriority is the base of the system classes' values.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority
	// SystemPriorityClassPrefix starts the names reserved for the system.
	SystemPriorityClassPrefix = "system-"
)

// SystemPriorityClasses returns the PriorityClasses the API server creates
// at start (fresh copies each call), as upstream does.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{
			ObjectMeta:  metav1.ObjectMeta{Name: "system-node-critical"},
			Value:       SystemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node.",
		},
		{
			ObjectMeta:  metav1.ObjectMeta{Name: "system-cluster-critical"},
			Value:       SystemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
		},
	}
}

// knownSystemClass says whether a system- class matches one of the system
// classes exactly, and why not.
func knownSystemClass(name string, value int32, globalDefault bool) error {
	for _, s := range SystemPriorityClasses() {
		if s.Name != name {
			continue
		}
		if s.Value != value {
			return fmt.Errorf("value of %v PriorityClass must be %v", s.Name, s.Value)
		}
		if s.GlobalDefault != globalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", s.Name, s.GlobalDefault)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", name)
}

// PriorityClasses is the strategy of scheduling.k8s.io/v1 priorityclasses.
func PriorityClasses() *registry.Resource {
	return &registry.Resource{
		GVK: schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), Name: "priorityclasses", ShortNames: []string{"pc"},
		New:     func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Default: func(obj runtime.Object) {
			pc := obj.(*schedulingv1.PriorityClass)
			if pc.PreemptionPolicy == nil {
				pc.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			pc := obj.(*schedulingv1.PriorityClass)
			var errs field.ErrorList
			if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
				if err := knownSystemClass(pc.Name, pc.Value, pc.GlobalDefault); err != nil {
					errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
						"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
				}
			} else if pc.Value > HighestUserDefinablePriority {
				errs = append(errs, field.Forbidden(field.NewPath("value"),
					fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
			}
			if p := pc.PreemptionPolicy; p != nil {
				switch *p {
				case corev1.PreemptLowerPriority, corev1.PreemptNever:
				case "":
					errs = append(errs, field.Required(field.NewPath("preemptionPolicy"), ""))
				default:
					errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), p, []string{"PreemptLowerPriority", "Never"}))
				}
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pc, o := obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass)
			var errs field.ErrorList
			if pc.Value != o.Value {
				errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
			}
			return append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, o.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
		},
		// PreemptionPolicy has priority 0 upstream: plain `get` shows it.
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Value", "integer", 0, schedulingv1.PriorityClass{}.SwaggerDoc()["value"]),
			registry.Col("Global-Default", "boolean", 0, schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]),
			registry.AgeColumn,
			registry.Col("PreemptionPolicy", "string", 0, schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			pc := obj.(*schedulingv1.PriorityClass)
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, registry.Age(pc.CreationTimestamp), policy}
		},
	}
}
