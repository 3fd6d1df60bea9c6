package autoscaling

import (
	"context"
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// Bounds of scaling behavior.
const (
	maxPeriodSeconds              = 1800
	maxStabilizationWindowSeconds = 3600
)

// HorizontalPodAutoscalersV2 is the strategy of autoscaling/v2
// horizontalpodautoscalers, the stored version.
func HorizontalPodAutoscalersV2() *registry.Resource {
	return &registry.Resource{
		GVK: autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), Name: "horizontalpodautoscalers",
		ShortNames: []string{"hpa"}, Categories: []string{"all"}, Namespaced: true, Status: true,
		New:     func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*autoscalingv2.HorizontalPodAutoscaler).Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
		},
		Default: func(obj runtime.Object) { defaultV2(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateV2(obj.(*autoscalingv2.HorizontalPodAutoscaler))
		},
		Columns: columns,
		Row:     func(obj runtime.Object) []interface{} { return row(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
	}
}

// HorizontalPodAutoscalersV1 is the strategy of autoscaling/v1
// horizontalpodautoscalers. They share the v2 objects' storage: a v1 object
// is converted to v2 on the way in and back on the way out, and is
// defaulted, validated and printed as its v2 form.
func HorizontalPodAutoscalersV1() *registry.Resource {
	v2 := HorizontalPodAutoscalersV2()
	return &registry.Resource{
		GVK: autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), Name: "horizontalpodautoscalers",
		ShortNames: []string{"hpa"}, Categories: []string{"all"}, Namespaced: true, Status: true,
		New:     func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
		Storage: &registry.StorageAccess{
			Resource: v2.Name, GVK: v2.GVK, New: v2.New,
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				return V1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler)), nil
			},
			FromStorage: func(stored runtime.Object) (runtime.Object, error) {
				return V2ToV1(stored.(*autoscalingv2.HorizontalPodAutoscaler))
			},
		},
		PrepareForCreate: func(obj runtime.Object) {
			h := obj.(*autoscalingv1.HorizontalPodAutoscaler)
			h.Status = autoscalingv1.HorizontalPodAutoscalerStatus{}
			delete(h.Annotations, MetricStatusesAnnotation)
			delete(h.Annotations, ConditionsAnnotation)
		},
		// A main-resource write keeps the stored status, whose v2-only part
		// travels in annotations the client may not have sent back.
		BeforeUpdate: func(_ context.Context, obj, old runtime.Object) (map[string]string, []string, error) {
			h, o := obj.(*autoscalingv1.HorizontalPodAutoscaler), old.(*autoscalingv1.HorizontalPodAutoscaler)
			for _, k := range []string{MetricStatusesAnnotation, ConditionsAnnotation} {
				if v, ok := o.Annotations[k]; ok {
					if h.Annotations == nil {
						h.Annotations = map[string]string{}
					}
					h.Annotations[k] = v
				} else {
					delete(h.Annotations, k)
				}
			}
			return nil, nil, nil
		},
		Default: func(obj runtime.Object) {
			h := obj.(*autoscalingv1.HorizontalPodAutoscaler)
			v2obj := V1ToV2(h)
			defaultV2(v2obj)
			if back, err := V2ToV1(v2obj); err == nil {
				*h = *back
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateV2(V1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler)))
		},
		Columns: columns,
		Row: func(obj runtime.Object) []interface{} {
			return row(V1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler)))
		},
	}
}

// defaultV2 fills in autoscaling/v2's defaults: one replica at least, 80%
// CPU when no metric is given, and a behavior's unset rules.
func defaultV2(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptr.To(int32(1))
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{cpuMetric(DefaultCPUUtilization)}
	}
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = fillRules(b.ScaleUp, scaleUpRules())
		b.ScaleDown = fillRules(b.ScaleDown, scaleDownRules())
	}
}

// scaleUpRules: add up to 4 pods or double, whichever is more, every 15s.
func scaleUpRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To(int32(0)),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// scaleDownRules: remove up to all pods every 15s; the stabilization window
// stays unset so that the controller's own flag decides it.
func scaleDownRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}
}

func fillRules(set, defaults *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if set == nil {
		return defaults
	}
	if set.SelectPolicy != nil {
		defaults.SelectPolicy = set.SelectPolicy
	}
	if set.StabilizationWindowSeconds != nil {
		defaults.StabilizationWindowSeconds = set.StabilizationWindowSeconds
	}
	if set.Policies != nil {
		defaults.Policies = set.Policies
	}
	if set.Tolerance != nil {
		defaults.Tolerance = set.Tolerance
	}
	return defaults
}

func validateV2(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	spec := field.NewPath("spec")
	s := &h.Spec
	var errs field.ErrorList
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, validateReference(s.ScaleTargetRef, spec.Child("scaleTargetRef"))...)
	for i := range s.Metrics {
		errs = append(errs, validateMetricSpec(&s.Metrics[i], spec.Child("metrics").Index(i))...)
	}
	if b := s.Behavior; b != nil {
		errs = append(errs, validateRules(b.ScaleUp, spec.Child("behavior", "scaleUp"))...)
		errs = append(errs, validateRules(b.ScaleDown, spec.Child("behavior", "scaleDown"))...)
	}
	return errs
}

func validateReference(ref autoscalingv2.CrossVersionObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(v, name string) {
		if v == "" {
			errs = append(errs, field.Required(p.Child(name), ""))
			return
		}
		for _, msg := range path.IsValidPathSegmentName(v) {
			errs = append(errs, field.Invalid(p.Child(name), v, msg))
		}
	}
	check(ref.Kind, "kind")
	check(ref.Name, "name")
	return errs
}

var selectPolicies = []string{"Disabled", "Max", "Min"}

func validateRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), w, "must be greater than or equal to zero"))
	}
	if w := r.StabilizationWindowSeconds; w != nil && *w > maxStabilizationWindowSeconds {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), w, fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
	}
	if sp := r.SelectPolicy; sp != nil && *sp != autoscalingv2.MaxChangePolicySelect && *sp != autoscalingv2.MinChangePolicySelect && *sp != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), sp, selectPolicies))
	}
	if t := r.Tolerance; t != nil && t.Sign() < 0 {
		errs = append(errs, field.Invalid(p.Child("tolerance"), t.String(), "must be greater than or equal to 0"))
	}
	policies := p.Child("policies")
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(policies, "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := policies.Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, []string{"Percent", "Pods"}))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		}
		if pol.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", maxPeriodSeconds)))
		}
	}
	return errs
}

var metricSourceTypes = []string{"ContainerResource", "External", "Object", "Pods", "Resource"}

func validateMetricSpec(m *autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	}
	known := false
	for _, t := range metricSourceTypes {
		known = known || string(m.Type) == t
	}
	if !known {
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, metricSourceTypes))
	}
	// Only the first source present is validated; the others are refused below.
	var present []string
	if m.Object != nil {
		if present = append(present, "object"); len(present) == 1 {
			errs = append(errs, validateObjectSource(m.Object, p.Child("object"))...)
		}
	}
	if m.External != nil {
		if present = append(present, "external"); len(present) == 1 {
			errs = append(errs, validateExternalSource(m.External, p.Child("external"))...)
		}
	}
	if m.Pods != nil {
		if present = append(present, "pods"); len(present) == 1 {
			errs = append(errs, validatePodsSource(m.Pods, p.Child("pods"))...)
		}
	}
	if m.Resource != nil {
		if present = append(present, "resource"); len(present) == 1 {
			errs = append(errs, validateResourceTarget(string(m.Resource.Name), m.Resource.Target, p.Child("resource"))...)
		}
	}
	if m.ContainerResource != nil {
		if present = append(present, "containerResource"); len(present) == 1 {
			errs = append(errs, validateContainerResourceSource(m.ContainerResource, p.Child("containerResource"))...)
		}
	}
	var expected string
	populated := func(isSet bool, name string) {
		if !isSet {
			errs = append(errs, field.Required(p.Child(name), "must populate information for the given metric source"))
		}
		expected = name
	}
	switch m.Type {
	case autoscalingv2.ObjectMetricSourceType:
		populated(m.Object != nil, "object")
	case autoscalingv2.PodsMetricSourceType:
		populated(m.Pods != nil, "pods")
	case autoscalingv2.ResourceMetricSourceType:
		populated(m.Resource != nil, "resource")
	case autoscalingv2.ExternalMetricSourceType:
		populated(m.External != nil, "external")
	case autoscalingv2.ContainerResourceMetricSourceType:
		populated(m.ContainerResource != nil, "containerResource")
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, metricSourceTypes))
	}
	if len(present) != 1 {
		for _, name := range present {
			if name != expected {
				errs = append(errs, field.Forbidden(p.Child(name), "must populate the given metric source only"))
			}
		}
	}
	return errs
}

func validateObjectSource(s *autoscalingv2.ObjectMetricSource, p *field.Path) field.ErrorList {
	errs := validateReference(s.DescribedObject, p.Child("describedObject"))
	errs = append(errs, validateMetricIdentifier(s.Metric, p.Child("metric"))...)
	errs = append(errs, validateMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.Value == nil && s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value or averageValue"))
	}
	return errs
}

func validateExternalSource(s *autoscalingv2.ExternalMetricSource, p *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(s.Metric, p.Child("metric"))
	errs = append(errs, validateMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.Value == nil && s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if s.Target.Value != nil && s.Target.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
	}
	return errs
}

func validatePodsSource(s *autoscalingv2.PodsMetricSource, p *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(s.Metric, p.Child("metric"))
	errs = append(errs, validateMetricTarget(s.Target, p.Child("target"))...)
	if s.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must specify a positive target averageValue"))
	}
	return errs
}

func validateContainerResourceSource(s *autoscalingv2.ContainerResourceMetricSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	} else {
		errs = append(errs, validateContainerResourceName(string(s.Name), p.Child("name"))...)
	}
	if s.Container == "" {
		errs = append(errs, field.Required(p.Child("container"), "must specify a container"))
	} else {
		for _, msg := range validation.IsDNS1123Label(s.Container) {
			errs = append(errs, field.Invalid(p.Child("container"), s.Container, msg))
		}
	}
	return append(errs, validateUtilizationTarget(s.Target, p.Child("target"))...)
}

func validateResourceTarget(name string, t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	return append(errs, validateUtilizationTarget(t, p.Child("target"))...)
}

func validateUtilizationTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	errs := validateMetricTarget(t, p)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

// validateContainerResourceName accepts the standard container resources
// (cpu, memory, ephemeral-storage, hugepages-<size>) and qualified names.
func validateContainerResourceName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	if !strings.Contains(name, "/") {
		switch {
		case name == string(corev1.ResourceCPU), name == string(corev1.ResourceMemory), name == string(corev1.ResourceEphemeralStorage),
			strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		default:
			errs = append(errs, field.Invalid(p, name, "must be a standard resource for containers"))
		}
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	}
	if t.Type != autoscalingv2.UtilizationMetricType && t.Type != autoscalingv2.ValueMetricType && t.Type != autoscalingv2.AverageValueMetricType {
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, p *field.Path) field.ErrorList {
	if id.Name == "" {
		return field.ErrorList{field.Required(p.Child("name"), "must specify a metric name")}
	}
	var errs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(id.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), id.Name, msg))
	}
	return errs
}

var columns = []metav1.TableColumnDefinition{registry.NameColumn,
	registry.Col("Reference", "string", 0, autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]),
	registry.Col("Targets", "string", 0, autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]),
	registry.Col("MinPods", "string", 0, autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]),
	registry.Col("MaxPods", "string", 0, autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]),
	registry.Col("Replicas", "string", 0, autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
	registry.AgeColumn,
}

func row(h *autoscalingv2.HorizontalPodAutoscaler) []interface{} {
	minPods := "<unset>"
	if m := h.Spec.MinReplicas; m != nil {
		minPods = fmt.Sprintf("%d", *m)
	}
	ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	return []interface{}{h.Name, ref, formatMetrics(h.Spec.Metrics, h.Status.CurrentMetrics), minPods,
		int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), registry.Age(h.CreationTimestamp)}
}

// formatMetrics prints the Targets column: "current/target" per metric,
// the first two and a count of the rest.
func formatMetrics(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	const maximum = 2
	var list []string
	for i, s := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, formatMetric(s, st))
	}
	if len(list) > maximum {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:maximum], ", "), len(list)-maximum)
	}
	return strings.Join(list, ", ")
}

func formatMetric(s autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	switch s.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if s.External.Target.AverageValue != nil {
			current := unknown
			if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
				current = st.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, s.External.Target.AverageValue.String())
		}
		current := unknown
		if st != nil && st.External != nil {
			current = st.External.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, s.External.Target.Value.String())
	case autoscalingv2.PodsMetricSourceType:
		current := unknown
		if st != nil && st.Pods != nil {
			current = st.Pods.Current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s", current, s.Pods.Target.AverageValue.String())
	case autoscalingv2.ObjectMetricSourceType:
		if s.Object.Target.AverageValue != nil {
			current := unknown
			if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
				current = st.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, s.Object.Target.AverageValue.String())
		}
		current := unknown
		if st != nil && st.Object != nil {
			current = st.Object.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, s.Object.Target.Value.String())
	case autoscalingv2.ResourceMetricSourceType:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			cur = &st.Resource.Current
		}
		return formatResourceMetric(string(s.Resource.Name), s.Resource.Target, cur)
	case autoscalingv2.ContainerResourceMetricSourceType:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			cur = &st.ContainerResource.Current
		}
		return formatResourceMetric(string(s.ContainerResource.Name), s.ContainerResource.Target, cur)
	}
	return "<unknown type>"
}

func formatResourceMetric(name string, t autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := "<unknown>"
	if t.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, current, t.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	target := "<auto>"
	if t.AverageUtilization != nil {
		target = fmt.Sprintf("%d%%", *t.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, current, target)
}
