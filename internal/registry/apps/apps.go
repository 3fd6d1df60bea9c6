// Package apps holds the strategies of the apps/v1 workloads.
package apps

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/core"
)

// Deployments is the strategy of apps/v1 deployments.
func Deployments() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Name: "deployments", ShortNames: []string{"deploy"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &appsv1.Deployment{} },
		NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.Deployment).Status = appsv1.DeploymentStatus{}
		},
		Default: func(obj runtime.Object) {
			d := obj.(*appsv1.Deployment)
			if d.Spec.Replicas == nil {
				d.Spec.Replicas = ptr.To(int32(1))
			}
			if d.Spec.Strategy.Type == "" {
				d.Spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
			}
			if d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
				if d.Spec.Strategy.RollingUpdate == nil {
					d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
				}
				ru := d.Spec.Strategy.RollingUpdate
				if ru.MaxUnavailable == nil {
					ru.MaxUnavailable = ptr.To(intstr.FromString("25%"))
				}
				if ru.MaxSurge == nil {
					ru.MaxSurge = ptr.To(intstr.FromString("25%"))
				}
			}
			if d.Spec.RevisionHistoryLimit == nil {
				d.Spec.RevisionHistoryLimit = ptr.To(int32(10))
			}
			if d.Spec.ProgressDeadlineSeconds == nil {
				d.Spec.ProgressDeadlineSeconds = ptr.To(int32(600))
			}
			core.DefaultPodSpec(&d.Spec.Template.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			d := obj.(*appsv1.Deployment)
			spec := field.NewPath("spec")
			errs := validateReplicas(d.Spec.Replicas, spec)
			errs = append(errs, validateSelectorAndTemplate(d.Spec.Selector, &d.Spec.Template, spec)...)
			if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
				errs = append(errs, field.NotSupported(spec.Child("template", "spec", "restartPolicy"), d.Spec.Template.Spec.RestartPolicy, []string{"Always"}))
			}
			switch d.Spec.Strategy.Type {
			case appsv1.RecreateDeploymentStrategyType:
				if d.Spec.Strategy.RollingUpdate != nil {
					errs = append(errs, field.Forbidden(spec.Child("strategy", "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
				}
			case appsv1.RollingUpdateDeploymentStrategyType:
				errs = append(errs, validateRollingUpdate(d.Spec.Strategy.RollingUpdate, spec.Child("strategy", "rollingUpdate"))...)
			default:
				errs = append(errs, field.NotSupported(spec.Child("strategy", "type"), d.Spec.Strategy.Type, []string{"Recreate", "RollingUpdate"}))
			}
			if d.Spec.MinReadySeconds < 0 {
				errs = append(errs, field.Invalid(spec.Child("minReadySeconds"), d.Spec.MinReadySeconds, "must be greater than or equal to 0"))
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutableSelector(obj.(*appsv1.Deployment).Spec.Selector, old.(*appsv1.Deployment).Spec.Selector)
		},
		Scale: &registry.ScaleAccess{
			Replicas: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return ptr.Deref(d.Spec.Replicas, 1), d.Status.Replicas, selectorString(d.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Ready", "string", 0, "Number of the pod with ready state"),
			registry.Col("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
			registry.Col("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*appsv1.Deployment)
			names, images := containers(&d.Spec.Template)
			return []interface{}{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 0)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), registry.Age(d.CreationTimestamp),
				names, images, selectorString(d.Spec.Selector)}
		},
	}
}

// ReplicaSets is the strategy of apps/v1 replicasets.
func ReplicaSets() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), Name: "replicasets", ShortNames: []string{"rs"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.ReplicaSet).Status = appsv1.ReplicaSetStatus{}
		},
		Default: func(obj runtime.Object) {
			rs := obj.(*appsv1.ReplicaSet)
			if rs.Spec.Replicas == nil {
				rs.Spec.Replicas = ptr.To(int32(1))
			}
			core.DefaultPodSpec(&rs.Spec.Template.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			rs := obj.(*appsv1.ReplicaSet)
			spec := field.NewPath("spec")
			errs := validateReplicas(rs.Spec.Replicas, spec)
			return append(errs, validateSelectorAndTemplate(rs.Spec.Selector, &rs.Spec.Template, spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutableSelector(obj.(*appsv1.ReplicaSet).Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector)
		},
		Scale: &registry.ScaleAccess{
			Replicas: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return ptr.Deref(rs.Spec.Replicas, 1), rs.Status.Replicas, selectorString(rs.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Desired", "integer", 0, "Replicas is the number of desired pods."),
			registry.Col("Current", "integer", 0, "Replicas is the most recently observed number of replicas."),
			registry.Col("Ready", "integer", 0, "The number of ready replicas for this replica set."),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, "Selector is a label query over pods that should match the replica count."),
		},
		Row: func(obj runtime.Object) []interface{} {
			rs := obj.(*appsv1.ReplicaSet)
			names, images := containers(&rs.Spec.Template)
			return []interface{}{rs.Name, int64(ptr.Deref(rs.Spec.Replicas, 0)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				registry.Age(rs.CreationTimestamp), names, images, selectorString(rs.Spec.Selector)}
		},
	}
}

func validateReplicas(r *int32, spec *field.Path) field.ErrorList {
	if r != nil && *r < 0 {
		return field.ErrorList{field.Invalid(spec.Child("replicas"), int64(*r), "must be greater than or equal to 0")}
	}
	return nil
}

// validateSelectorAndTemplate: a workload's selector is required, non-empty
// and must select its own template.
func validateSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(spec.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(spec.Child("selector"), sel, "empty selector is invalid for deployment"))
		}
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && !s.Empty() && !s.Matches(labels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
	}
	return append(errs, core.ValidatePodTemplateSpec(t, spec.Child("template"))...)
}

func immutableSelector(sel, old *metav1.LabelSelector) field.ErrorList {
	if !apiequality.Semantic.DeepEqual(sel, old) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), sel, "field is immutable")}
	}
	return nil
}

func validateRollingUpdate(ru *appsv1.RollingUpdateDeployment, path *field.Path) field.ErrorList {
	if ru == nil {
		return nil
	}
	var errs field.ErrorList
	check := func(v *intstr.IntOrString, name string) bool {
		if v == nil {
			return true
		}
		if v.Type == intstr.String {
			if !strings.HasSuffix(v.StrVal, "%") {
				errs = append(errs, field.Invalid(path.Child(name), v.StrVal, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"))
				return false
			}
			return !(v.StrVal == "0%")
		}
		if v.IntVal < 0 {
			errs = append(errs, field.Invalid(path.Child(name), int64(v.IntVal), "must be greater than or equal to 0"))
		}
		return v.IntVal != 0
	}
	nonZeroUnavailable := check(ru.MaxUnavailable, "maxUnavailable")
	nonZeroSurge := check(ru.MaxSurge, "maxSurge")
	if !nonZeroUnavailable && !nonZeroSurge && len(errs) == 0 {
		errs = append(errs, field.Invalid(path.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return "<none>"
	}
	return s.String()
}

func containers(t *corev1.PodTemplateSpec) (string, string) {
	var names, images []string
	for _, c := range t.Spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}
