package apps

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/core"
)

// DaemonSets is the strategy of apps/v1 daemonsets.
func DaemonSets() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("DaemonSet"), Name: "daemonsets", ShortNames: []string{"ds"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList: func() runtime.Object { return &appsv1.DaemonSetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			ds := obj.(*appsv1.DaemonSet)
			ds.Status = appsv1.DaemonSetStatus{}
			if templateGeneration(ds) < 1 {
				setTemplateGeneration(ds, 1)
			}
		},
		// The template generation is the server's: an update keeps the stored
		// one and counts a template change.
		BeforeUpdate: func(_ context.Context, obj, old runtime.Object) (map[string]string, []string, error) {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen := templateGeneration(o)
			if !apiequality.Semantic.DeepEqual(ds.Spec.Template, o.Spec.Template) {
				gen++
			}
			setTemplateGeneration(ds, gen)
			return nil, nil, nil
		},
		Default:  func(obj runtime.Object) { defaultDaemonSet(obj.(*appsv1.DaemonSet)) },
		Validate: func(obj runtime.Object) field.ErrorList { return validateDaemonSet(obj.(*appsv1.DaemonSet)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutableSelector(obj.(*appsv1.DaemonSet).Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector)
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Desired", "integer", 0, appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
			registry.Col("Current", "integer", 0, appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
			registry.Col("Ready", "integer", 0, appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
			registry.Col("Up-to-date", "integer", 0, appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
			registry.Col("Available", "integer", 0, appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
			registry.Col("Node Selector", "string", 0, corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			ds := obj.(*appsv1.DaemonSet)
			st := ds.Status
			names, images := containers(&ds.Spec.Template)
			return []interface{}{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
				int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				registry.Age(ds.CreationTimestamp), names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
		},
	}
}

// templateGeneration reads the deprecated.daemonset.template.generation
// annotation, in which apps/v1 carries the template generation (0 when
// absent or unreadable).
func templateGeneration(ds *appsv1.DaemonSet) int64 {
	n, err := strconv.ParseInt(ds.Annotations[appsv1.DeprecatedTemplateGeneration], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(gen, 10)
}

func defaultDaemonSet(ds *appsv1.DaemonSet) {
	us := &ds.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			us.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		if us.RollingUpdate.MaxSurge == nil {
			us.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr.To(int32(10))
	}
	core.DefaultPodSpec(&ds.Spec.Template.Spec)
}

// daemonSetStrategyValue prints a bad strategy as upstream does (Go field
// names of its internal type).
type daemonSetStrategyValue struct {
	Type          appsv1.DaemonSetUpdateStrategyType
	RollingUpdate *daemonSetRollingUpdateValue
}

type daemonSetRollingUpdateValue struct {
	MaxUnavailable intstr.IntOrString
	MaxSurge       intstr.IntOrString
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateLabelSelector(ds.Spec.Selector, spec.Child("selector"))
	t := &ds.Spec.Template
	if sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector); err == nil && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	if sel := ds.Spec.Selector; sel != nil && len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(spec.Child("selector"), sel, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, core.ValidatePodTemplateSpec(t, spec.Child("template"))...)
	if rp := t.Spec.RestartPolicy; rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(spec.Child("template", "spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(spec.Child("template", "spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ds.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetStrategy(&ds.Spec.UpdateStrategy, spec.Child("updateStrategy"))...)
	if l := ds.Spec.RevisionHistoryLimit; l != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*l), spec.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func validateDaemonSetStrategy(us *appsv1.DaemonSetUpdateStrategy, path *field.Path) field.ErrorList {
	switch us.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if us.RollingUpdate == nil {
			return field.ErrorList{field.Required(path.Child("rollingUpdate"), "")}
		}
		ru := us.RollingUpdate
		unavailable := ptr.Deref(ru.MaxUnavailable, intstr.FromInt32(0))
		surge := ptr.Deref(ru.MaxSurge, intstr.FromInt32(0))
		p := path.Child("rollingUpdate")
		errs := ValidatePositiveIntOrPercent(unavailable, p.Child("maxUnavailable"))
		errs = append(errs, ValidatePositiveIntOrPercent(surge, p.Child("maxSurge"))...)
		errs = append(errs, IsNotMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, IsNotMoreThan100Percent(surge, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(unavailable) != 0, intOrPercentValue(surge) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), surge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	}
	v := daemonSetStrategyValue{Type: us.Type}
	if ru := us.RollingUpdate; ru != nil {
		v.RollingUpdate = &daemonSetRollingUpdateValue{MaxUnavailable: ptr.Deref(ru.MaxUnavailable, intstr.IntOrString{}),
			MaxSurge: ptr.Deref(ru.MaxSurge, intstr.IntOrString{})}
	}
	return field.ErrorList{field.NotSupported(path, v, []string{"RollingUpdate", "OnDelete"})}
}
