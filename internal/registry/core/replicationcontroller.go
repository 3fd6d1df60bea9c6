package core

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ReplicationControllers is the strategy of core/v1 replicationcontrollers.
func ReplicationControllers() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("ReplicationController"), Name: "replicationcontrollers", ShortNames: []string{"rc"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &corev1.ReplicationController{} },
		NewList: func() runtime.Object { return &corev1.ReplicationControllerList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.ReplicationController).Status = corev1.ReplicationControllerStatus{}
		},
		Default: func(obj runtime.Object) {
			rc := obj.(*corev1.ReplicationController)
			// A controller without a selector (or labels) takes its
			// template's labels.
			if t := rc.Spec.Template; t != nil && t.Labels != nil {
				if len(rc.Spec.Selector) == 0 {
					rc.Spec.Selector = t.Labels
				}
				if len(rc.Labels) == 0 {
					rc.Labels = t.Labels
				}
			}
			if rc.Spec.Replicas == nil {
				rc.Spec.Replicas = ptr.To(int32(1))
			}
			if rc.Spec.Template != nil {
				DefaultPodSpec(&rc.Spec.Template.Spec)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			rc := obj.(*corev1.ReplicationController)
			return append(validateRCSpec(&rc.Spec, field.NewPath("spec")), validateRCStatus(&rc.Status, field.NewPath("status"))...)
		},
		Scale: &registry.ScaleAccess{
			Replicas: func(obj runtime.Object) (int32, int32, string) {
				rc := obj.(*corev1.ReplicationController)
				return ptr.Deref(rc.Spec.Replicas, 1), rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*corev1.ReplicationController).Spec.Replicas = &n },
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*corev1.ReplicationController).Status.Replicas))}
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Desired", "integer", 0, corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
			registry.Col("Current", "integer", 0, corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
			registry.Col("Ready", "integer", 0, corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			rc := obj.(*corev1.ReplicationController)
			var cs []corev1.Container
			if rc.Spec.Template != nil {
				cs = rc.Spec.Template.Spec.Containers
			}
			names, images := containerCells(cs)
			return []interface{}{rc.Name, int64(ptr.Deref(rc.Spec.Replicas, 0)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				registry.Age(rc.CreationTimestamp), names, images, labels.FormatLabels(rc.Spec.Selector)}
		},
	}
}

func validateRCSpec(spec *corev1.ReplicationControllerSpec, p *field.Path) field.ErrorList {
	errs := apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))
	if labels.SelectorFromSet(spec.Selector).Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ptr.Deref(spec.Replicas, 0)), p.Child("replicas"))...)
	tp := p.Child("template")
	t := spec.Template
	if t == nil {
		return append(errs, field.Required(tp, ""))
	}
	if sel := labels.SelectorFromSet(spec.Selector); !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, tp)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}

func validateRCStatus(s *corev1.ReplicationControllerStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    int64
	}{{"replicas", int64(s.Replicas)}, {"fullyLabeledReplicas", int64(s.FullyLabeledReplicas)}, {"readyReplicas", int64(s.ReadyReplicas)},
		{"availableReplicas", int64(s.AvailableReplicas)}, {"observedGeneration", s.ObservedGeneration}} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(f.v, p.Child(f.name))...)
	}
	const msg = "cannot be greater than status.replicas"
	if s.FullyLabeledReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), s.FullyLabeledReplicas, msg))
	}
	if s.ReadyReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
	}
	if s.AvailableReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}

// containerCells lays out container names and images on one line each, as
// the CONTAINERS and IMAGES columns show them.
func containerCells(cs []corev1.Container) (string, string) {
	names, images := "", ""
	for i, c := range cs {
		if i > 0 {
			names += ","
			images += ","
		}
		names += c.Name
		images += c.Image
	}
	return names, images
}
