package core

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kedge-dev/kedge/internal/registry"
)

// ResourceQuotas is the strategy of core/v1 resourcequotas.
func ResourceQuotas() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("ResourceQuota"), Name: "resourcequotas", ShortNames: []string{"quota"},
		Namespaced: true, Status: true,
		New:     func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.ResourceQuota).Status = corev1.ResourceQuotaStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			q := obj.(*corev1.ResourceQuota)
			errs := validateQuotaSpec(&q.Spec, field.NewPath("spec"))
			errs = append(errs, validateQuotaList(q.Status.Hard, field.NewPath("status", "hard"))...)
			return append(errs, validateQuotaList(q.Status.Used, field.NewPath("status", "used"))...)
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
			registry.Col("Limit", "string", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			q := obj.(*corev1.ResourceQuota)
			names := make([]string, 0, len(q.Status.Hard))
			for n := range q.Status.Hard {
				names = append(names, string(n))
			}
			sort.Strings(names)
			var requests, limits []string
			for _, n := range names {
				used, hard := q.Status.Used[corev1.ResourceName(n)], q.Status.Hard[corev1.ResourceName(n)]
				cell := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
				if strings.HasPrefix(n, "limits.") {
					limits = append(limits, cell)
				} else {
					requests = append(requests, cell)
				}
			}
			return []interface{}{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), registry.Age(q.CreationTimestamp)}
		},
	}
}

// LimitRanges is the strategy of core/v1 limitranges. Upstream has no
// printer for them: they print as Name and Created At.
func LimitRanges() *registry.Resource {
	return &registry.Resource{
		GVK: corev1.SchemeGroupVersion.WithKind("LimitRange"), Name: "limitranges", ShortNames: []string{"limits"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.LimitRange{} },
		NewList: func() runtime.Object { return &corev1.LimitRangeList{} },
		Default: func(obj runtime.Object) {
			for i := range obj.(*corev1.LimitRange).Spec.Limits {
				defaultLimitRangeItem(&obj.(*corev1.LimitRange).Spec.Limits[i])
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateLimitRange(obj.(*corev1.LimitRange)) },
	}
}

// defaultLimitRangeItem: for containers, the default limit is the max, the
// default request is the default limit, or else the min.
func defaultLimitRangeItem(it *corev1.LimitRangeItem) {
	if it.Type != corev1.LimitTypeContainer {
		return
	}
	fill := func(dst *corev1.ResourceList, src corev1.ResourceList) {
		for k, v := range src {
			if *dst == nil {
				*dst = corev1.ResourceList{}
			}
			if _, ok := (*dst)[k]; !ok {
				(*dst)[k] = v.DeepCopy()
			}
		}
	}
	fill(&it.Default, it.Max)
	fill(&it.DefaultRequest, it.Default)
	fill(&it.DefaultRequest, it.Min)
}

var (
	standardResources = []string{"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
		"limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services", "replicationcontrollers",
		"secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports", "services.loadbalancers"}
	standardQuotaResources = []string{"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
		"requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
		"replicationcontrollers", "secrets", "persistentvolumeclaims", "configmaps", "services.nodeports", "services.loadbalancers"}
	integerResources = []string{"pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
		"persistentvolumeclaims", "services.nodeports", "services.loadbalancers"}
	quotaScopes = []string{"Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
		"CrossNamespacePodAffinity", "VolumeAttributesClass"}
	podComputeResources = []string{"pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)

func isHugePages(name string) bool {
	return strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) || strings.HasPrefix(name, corev1.ResourceRequestsHugePagesPrefix)
}

func isNativeResource(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, corev1.ResourceDefaultNamespacePrefix)
}

func isExtendedResource(name string) bool {
	if isNativeResource(name) || strings.HasPrefix(name, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+name)) == 0
}

func validateQuotaSpec(spec *corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	errs := validateQuotaList(spec.Hard, p.Child("hard"))
	if len(spec.Scopes) > 0 {
		sp := p.Child("scopes")
		set := map[string]bool{}
		for _, scope := range spec.Scopes {
			if !contains(quotaScopes, string(scope)) {
				errs = append(errs, field.Invalid(sp, spec.Scopes, "unsupported scope"))
			}
			for _, k := range sortedNames(spec.Hard) {
				if isStandardQuotaResource(k) && !scopeAppliesTo(scope, k) {
					errs = append(errs, field.Invalid(sp, spec.Scopes, "unsupported scope applied to resource"))
				}
			}
			set[string(scope)] = true
		}
		errs = append(errs, conflictingScopes(set, sp, spec.Scopes)...)
	}
	if sel := spec.ScopeSelector; sel != nil {
		mp := p.Child("scopeSelector", "matchExpressions")
		set := map[string]bool{}
		for _, req := range sel.MatchExpressions {
			if !contains(quotaScopes, string(req.ScopeName)) {
				errs = append(errs, field.Invalid(mp.Child("scopeName"), req.ScopeName, "unsupported scope"))
			}
			for _, k := range sortedNames(spec.Hard) {
				if isStandardQuotaResource(k) && !scopeAppliesTo(req.ScopeName, k) {
					errs = append(errs, field.Invalid(mp, sel, "unsupported scope applied to resource"))
				}
			}
			switch req.ScopeName {
			case corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
				corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
				if req.Operator != corev1.ScopeSelectorOpExists {
					errs = append(errs, field.Invalid(mp.Child("operator"), req.Operator,
						"must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
				}
			}
			switch req.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(req.Values) == 0 {
					errs = append(errs, field.Required(mp.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(req.Values) != 0 {
					errs = append(errs, field.Invalid(mp.Child("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				errs = append(errs, field.Invalid(mp.Child("operator"), req.Operator, "not a valid selector operator"))
			}
			set[string(req.ScopeName)] = true
		}
		errs = append(errs, conflictingScopes(set, mp, spec.Scopes)...)
	}
	return errs
}

func conflictingScopes(set map[string]bool, p *field.Path, scopes []corev1.ResourceQuotaScope) field.ErrorList {
	var errs field.ErrorList
	if set["BestEffort"] && set["NotBestEffort"] {
		errs = append(errs, field.Invalid(p, scopes, "conflicting scopes"))
	}
	if set["Terminating"] && set["NotTerminating"] {
		errs = append(errs, field.Invalid(p, scopes, "conflicting scopes"))
	}
	return errs
}

func scopeAppliesTo(scope corev1.ResourceQuotaScope, resource string) bool {
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return contains(podComputeResources, resource)
	case corev1.ResourceQuotaScopeBestEffort:
		return resource == "pods"
	case corev1.ResourceQuotaScopeVolumeAttributesClass:
		return resource == "persistentvolumeclaims" || resource == "requests.storage"
	}
	return true
}

func isStandardQuotaResource(name string) bool {
	return contains(standardQuotaResources, name) || isHugePages(name)
}

func sortedNames(l corev1.ResourceList) []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// validateQuotaList checks the names and amounts of hard or used limits.
func validateQuotaList(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedNames(l) {
		kp := p.Key(k)
		errs = append(errs, validateResourceName(k, kp)...)
		if !strings.Contains(k, "/") && !isStandardQuotaResource(k) {
			errs = append(errs, field.Invalid(kp, k, "must be a standard resource for quota"))
		}
		errs = append(errs, validateQuantityValue(k, l[corev1.ResourceName(k)], kp)...)
	}
	return errs
}

func validateResourceName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	if len(errs) > 0 {
		return errs
	}
	if !strings.Contains(name, "/") && !contains(standardResources, name) && !isHugePages(name) {
		errs = append(errs, field.Invalid(p, name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

func validateQuantityValue(name string, q resource.Quantity, p *field.Path) field.ErrorList {
	errs := nonNegativeQuantity(q, p)
	if (contains(integerResources, name) || isExtendedResource(name)) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(p, q, "must be an integer"))
	}
	return errs
}

func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	types := map[corev1.LimitType]bool{}
	lp := field.NewPath("spec", "limits")
	for i := range lr.Spec.Limits {
		ip := lp.Index(i)
		it := &lr.Spec.Limits[i]
		errs = append(errs, validateLimitType(string(it.Type), ip.Child("type"))...)
		if types[it.Type] {
			errs = append(errs, field.Duplicate(ip.Child("type"), it.Type))
		}
		types[it.Type] = true

		keys := map[string]bool{}
		collect := func(l corev1.ResourceList, child string) {
			for _, k := range sortedNames(l) {
				errs = append(errs, validateLimitResource(it.Type, k, ip.Child(child).Key(k))...)
				keys[k] = true
			}
		}
		collect(it.Max, "max")
		collect(it.Min, "min")
		if it.Type == corev1.LimitTypePod {
			if len(it.Default) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			collect(it.Default, "default")
			collect(it.DefaultRequest, "defaultRequest")
		}
		if it.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := it.Min[corev1.ResourceStorage]
			_, hasMax := it.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(ip.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		collect(it.MaxLimitRequestRatio, "maxLimitRequestRatio")
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			errs = append(errs, validateLimitBounds(it, k, ip)...)
		}
	}
	return errs
}

// validateLimitBounds checks that min <= defaultRequest <= default <= max
// hold for one resource of a limit range item.
func validateLimitBounds(it *corev1.LimitRangeItem, k string, ip *field.Path) field.ErrorList {
	var errs field.ErrorList
	rn := corev1.ResourceName(k)
	minQ, hasMin := it.Min[rn]
	maxQ, hasMax := it.Max[rn]
	def, hasDef := it.Default[rn]
	defReq, hasDefReq := it.DefaultRequest[rn]
	ratio, hasRatio := it.MaxLimitRequestRatio[rn]
	if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(ip.Child("min").Key(k), minQ, fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
	}
	if hasDefReq && hasMin && minQ.Cmp(defReq) > 0 {
		errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), defReq.String())))
	}
	if hasDefReq && hasMax && defReq.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default request value %s is greater than max value %s", defReq.String(), maxQ.String())))
	}
	if hasDefReq && hasDef && defReq.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default request value %s is greater than default limit value %s", defReq.String(), def.String())))
	}
	if hasDef && hasMin && minQ.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(ip.Child("default").Key(k), minQ, fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), def.String())))
	}
	if hasDef && hasMax && def.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(ip.Child("default").Key(k), maxQ, fmt.Sprintf("default value %s is greater than max value %s", def.String(), maxQ.String())))
	}
	if hasRatio && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
		errs = append(errs, field.Invalid(ip.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	if hasRatio && hasMin && hasMax {
		r, lo, hi := float64(ratio.Value()), minQ.Value(), maxQ.Value()
		if ratio.Value() < resource.MaxMilliValue && lo < resource.MaxMilliValue && hi < resource.MaxMilliValue {
			r, lo, hi = float64(ratio.MilliValue())/1000, minQ.MilliValue(), maxQ.MilliValue()
		}
		if limit := float64(hi) / float64(lo); r > limit {
			errs = append(errs, field.Invalid(ip.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
		}
	}
	// Resources that cannot be overcommitted need default == defaultRequest.
	overcommit := isNativeResource(k) && !isHugePages(k)
	if !overcommit && hasDef && hasDefReq && def.Cmp(defReq) != 0 {
		errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), defReq.String(), k)))
	}
	return errs
}

func validateLimitType(t string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(t) {
		errs = append(errs, field.Invalid(p, t, msg))
	}
	if len(errs) == 0 && !strings.Contains(t, "/") && !contains([]string{"Pod", "Container", "PersistentVolumeClaim"}, t) {
		errs = append(errs, field.Invalid(p, t, "must be a standard limit type or fully qualified"))
	}
	return errs
}

func validateLimitResource(t corev1.LimitType, name string, p *field.Path) field.ErrorList {
	errs := validateResourceName(name, p)
	if t != corev1.LimitTypePod && t != corev1.LimitTypeContainer {
		return errs
	}
	if !strings.Contains(name, "/") {
		if !contains([]string{"cpu", "memory", "ephemeral-storage"}, name) && !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
			errs = append(errs, field.Invalid(p, name, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && !isExtendedResource(name) {
		errs = append(errs, field.Invalid(p, name, "doesn't follow extended resource name standard"))
	}
	return errs
}
