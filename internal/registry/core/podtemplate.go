package core

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// PodTemplates is the strategy of core/v1 podtemplates.
func PodTemplates() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("PodTemplate"), Name: "podtemplates", Namespaced: true, Generation: true,
		New:     func() runtime.Object { return &corev1.PodTemplate{} },
		NewList: func() runtime.Object { return &corev1.PodTemplateList{} },
		Default: func(obj runtime.Object) { DefaultPodSpec(&obj.(*corev1.PodTemplate).Template.Spec) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return ValidatePodTemplateSpec(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Containers", "string", 0, "Names of each container in the template."),
			registry.Col("Images", "string", 0, "Images referenced by each container in the template."),
			registry.Col("Pod Labels", "string", 0, "The labels for the pod template."),
		},
		Row: func(obj runtime.Object) []interface{} {
			pt := obj.(*corev1.PodTemplate)
			names, images := containerCells(pt.Template.Spec.Containers)
			return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
		},
	}
}
