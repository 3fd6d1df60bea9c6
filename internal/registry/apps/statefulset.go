package apps

import (
	"fmt"

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

// StatefulSets is the strategy of apps/v1 statefulsets.
func StatefulSets() *registry.Resource {
	return &registry.Resource{
		GVK: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), Name: "statefulsets", ShortNames: []string{"sts"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList: func() runtime.Object { return &appsv1.StatefulSetList{} },
		// Pods are named <statefulset>-<ordinal>, so the name is a DNS label.
		NameValidation: apivalidation.NameIsDNSLabel,
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.StatefulSet).Status = appsv1.StatefulSetStatus{}
		},
		Default:  func(obj runtime.Object) { defaultStatefulSet(obj.(*appsv1.StatefulSet)) },
		Validate: func(obj runtime.Object) field.ErrorList { return validateStatefulSet(obj.(*appsv1.StatefulSet)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateStatefulSetUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
		},
		Scale: &registry.ScaleAccess{
			Replicas: func(obj runtime.Object) (int32, int32, string) {
				ss := obj.(*appsv1.StatefulSet)
				return ptr.Deref(ss.Spec.Replicas, 1), ss.Status.Replicas, selectorString(ss.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Ready", "string", 0, "Number of the pod with ready state"),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
		},
		Row: func(obj runtime.Object) []interface{} {
			ss := obj.(*appsv1.StatefulSet)
			names, images := containers(&ss.Spec.Template)
			return []interface{}{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, ptr.Deref(ss.Spec.Replicas, 0)),
				registry.Age(ss.CreationTimestamp), names, images}
		},
	}
}

func defaultStatefulSet(ss *appsv1.StatefulSet) {
	s := &ss.Spec
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	// Only an unset strategy gets a rollingUpdate block; an explicit
	// RollingUpdate without one stays without one.
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := s.UpdateStrategy.RollingUpdate; s.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil {
		if ru.Partition == nil {
			ru.Partition = ptr.To(int32(0))
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Replicas == nil {
		s.Replicas = ptr.To(int32(1))
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = ptr.To(int32(10))
	}
	for i := range s.VolumeClaimTemplates {
		pvc := &s.VolumeClaimTemplates[i]
		if pvc.Status.Phase == "" {
			pvc.Status.Phase = corev1.ClaimPending
		}
		if pvc.Spec.VolumeMode == nil {
			pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
		}
	}
	core.DefaultPodSpec(&s.Template.Spec)
}

// statefulSetStrategyValue and rollingUpdateValue print a bad value the way
// upstream does: its internal types carry no JSON tags, so the keys are the
// Go field names.
type statefulSetStrategyValue struct {
	Type          appsv1.StatefulSetUpdateStrategyType
	RollingUpdate *rollingUpdateValue
}

type rollingUpdateValue struct {
	Partition      int32
	MaxUnavailable *intstr.IntOrString
}

func strategyValue(s appsv1.StatefulSetUpdateStrategy) statefulSetStrategyValue {
	v := statefulSetStrategyValue{Type: s.Type}
	if ru := s.RollingUpdate; ru != nil {
		v.RollingUpdate = &rollingUpdateValue{Partition: ptr.Deref(ru.Partition, 0), MaxUnavailable: ru.MaxUnavailable}
	}
	return v
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch ss.Spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(spec.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(spec.Child("podManagementPolicy"), ss.Spec.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}

	us := ss.Spec.UpdateStrategy
	usPath := spec.Child("updateStrategy")
	switch us.Type {
	case "":
		errs = append(errs, field.Required(usPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			errs = append(errs, field.Invalid(usPath.Child("rollingUpdate"), strategyValue(us).RollingUpdate,
				"only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := us.RollingUpdate; ru != nil {
			ruPath := usPath.Child("rollingUpdate")
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ptr.Deref(ru.Partition, 0)), ruPath.Child("partition"))...)
			if mu := ru.MaxUnavailable; mu != nil {
				muPath := ruPath.Child("maxUnavailable")
				errs = append(errs, ValidatePositiveIntOrPercent(*mu, muPath)...)
				if intOrPercentValue(*mu) == 0 {
					errs = append(errs, field.Invalid(muPath, *mu, "cannot be 0"))
				}
				errs = append(errs, IsNotMoreThan100Percent(*mu, muPath)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(usPath, strategyValue(us), "must be 'RollingUpdate' or 'OnDelete'"))
	}

	if p := ss.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pPath := spec.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetention(p.WhenDeleted, pPath.Child("whenDeleted"))...)
		errs = append(errs, validateRetention(p.WhenScaled, pPath.Child("whenScaled"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ptr.Deref(ss.Spec.Replicas, 0)), spec.Child("replicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(ss.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)
	if o := ss.Spec.Ordinals; o != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(o.Start), spec.Child("ordinals.start"))...)
	}

	errs = append(errs, validateSelectorFor(ss.Spec.Selector, "statefulset", spec.Child("selector"))...)
	if sel, err := metav1.LabelSelectorAsSelector(ss.Spec.Selector); err != nil {
		errs = append(errs, field.Invalid(spec.Child("selector"), ss.Spec.Selector, ""))
	} else {
		t := &ss.Spec.Template
		if !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
		errs = append(errs, core.ValidatePodTemplateSpec(withClaimVolumes(t, ss.Spec.VolumeClaimTemplates), spec.Child("template"))...)
	}
	if rp := ss.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(spec.Child("template", "spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if ss.Spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(spec.Child("template", "spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	for i := range ss.Spec.VolumeClaimTemplates {
		errs = append(errs, validateClaimSpec(&ss.Spec.VolumeClaimTemplates[i].Spec, spec.Child("volumeClaimTemplates").Index(i).Child("spec"))...)
	}
	return errs
}

func validateRetention(p appsv1.PersistentVolumeClaimRetentionPolicyType, path *field.Path) field.ErrorList {
	switch p {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, []string{"Retain", "Delete"})}
}

// withClaimVolumes returns the template with a volume per claim template,
// so that mounts of claimed volumes validate.
func withClaimVolumes(t *corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim) *corev1.PodTemplateSpec {
	if len(claims) == 0 {
		return t
	}
	out := t.DeepCopy()
	have := map[string]bool{}
	for _, v := range out.Spec.Volumes {
		have[v.Name] = true
	}
	for _, c := range claims {
		if c.Name != "" && !have[c.Name] {
			have[c.Name] = true
			out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
	}
	return out
}

func validateClaimSpec(s *corev1.PersistentVolumeClaimSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(path.Child("accessModes"), "at least 1 access mode is required"))
	}
	for _, m := range s.AccessModes {
		switch m {
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
		default:
			errs = append(errs, field.NotSupported(path.Child("accessModes"), m,
				[]string{"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}))
		}
	}
	storage := path.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		if s.DataSource == nil && s.DataSourceRef == nil {
			errs = append(errs, field.Required(storage, ""))
		}
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storage, q.String(), "must be greater than zero"))
	}
	return errs
}

// validateStatefulSetUpdate: only replicas, ordinals, template,
// updateStrategy, the PVC retention policy and minReadySeconds may change.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	s := ss.Spec.DeepCopy()
	s.Replicas = old.Spec.Replicas
	s.Template = old.Spec.Template
	s.UpdateStrategy = old.Spec.UpdateStrategy
	s.MinReadySeconds = old.Spec.MinReadySeconds
	s.Ordinals = old.Spec.Ordinals
	s.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(*s, old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}
