package batch

import (
	"fmt"
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/registry/core"
)

// The labels that tie a Job to its pods when the server generates the
// selector: the prefixed ones select, the legacy ones are kept for old
// clients.
const (
	LegacyControllerUIDLabel = "controller-uid"
	LegacyJobNameLabel       = "job-name"
)

// Limits of indexed jobs and pod failure policies.
const (
	maxParallelismForIndexedJob             = 100000
	maxFailedIndexesForIndexedJob           = 100000
	completionsSoftLimit                    = 100000
	parallelismLimitForHighCompletions      = 10000
	maxFailedIndexesLimitForHighCompletions = 10000
	maxPodFailurePolicyRules                = 20
	maxOnExitCodesValues                    = 255
	maxOnPodConditionsPatterns              = 20
	maxManagedByLength                      = 63
	maxSuccessPolicyRules                   = 20
)

// Jobs is the strategy of batch/v1 jobs.
func Jobs() *registry.Resource {
	return &registry.Resource{
		GVK: batchv1.SchemeGroupVersion.WithKind("Job"), Name: "jobs",
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &batchv1.Job{} },
		NewList: func() runtime.Object { return &batchv1.JobList{} },
		PrepareForCreate: func(obj runtime.Object) {
			job := obj.(*batchv1.Job)
			job.Status = batchv1.JobStatus{}
			if !ptr.Deref(job.Spec.ManualSelector, false) {
				generateSelector(job)
			}
		},
		Default:  func(obj runtime.Object) { defaultJob(obj.(*batchv1.Job)) },
		Validate: func(obj runtime.Object) field.ErrorList { return validateJob(obj.(*batchv1.Job)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Status", "string", 0, "Status of the job."),
			registry.Col("Completions", "string", 0, batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			registry.Col("Duration", "string", 0, "Time required to complete the job."),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			job := obj.(*batchv1.Job)
			names, images := containerCells(job.Spec.Template.Spec.Containers)
			return []interface{}{job.Name, jobStatus(job), jobCompletions(job), jobDuration(job), registry.Age(job.CreationTimestamp),
				names, images, metav1.FormatLabelSelector(job.Spec.Selector)}
		},
	}
}

// generateSelector labels the pod template with the job's uid and name and
// selects the uid, unless the user chose the labels himself (a conflict is
// then reported by validation).
func generateSelector(job *batchv1.Job) {
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	tl := job.Spec.Template.Labels
	for _, k := range []string{LegacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := tl[k]; !ok {
			tl[k] = job.Name
		}
	}
	for _, k := range []string{LegacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := tl[k]; !ok {
			tl[k] = string(job.UID)
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(job.UID)
	}
}

func defaultJob(job *batchv1.Job) {
	s := &job.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr.To(int32(1))
		s.Parallelism = ptr.To(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To(int32(1))
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To(int32(math.MaxInt32))
		} else {
			s.BackoffLimit = ptr.To(int32(6))
		}
	}
	if s.Template.Labels != nil && len(job.Labels) == 0 {
		job.Labels = make(map[string]string, len(s.Template.Labels))
		for k, v := range s.Template.Labels {
			job.Labels[k] = v
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	defaultJobTemplate(s)
}

// defaultJobTemplate defaults what a Job and a CronJob's jobTemplate share.
func defaultJobTemplate(s *batchv1.JobSpec) {
	if p := s.PodFailurePolicy; p != nil {
		for i := range p.Rules {
			for j := range p.Rules[i].OnPodConditions {
				if c := &p.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	core.DefaultPodSpec(&s.Template.Spec)
}

func validateJob(job *batchv1.Job) field.ErrorList {
	errs := validateGeneratedSelector(job)
	errs = append(errs, validateJobSpecWithSelector(&job.Spec, field.NewPath("spec"))...)
	if ptr.Deref(job.Spec.CompletionMode, "") == batchv1.IndexedCompletion && ptr.Deref(job.Spec.Completions, 0) > 0 {
		// Pods of an indexed job are named <job>-<index>: the last must be a DNS label.
		host := fmt.Sprintf("%s-%d", job.Name, *job.Spec.Completions-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return errs
}

// validateGeneratedSelector: a selector the server generated must still
// select the job's own labels.
func validateGeneratedSelector(job *batchv1.Job) field.ErrorList {
	if ptr.Deref(job.Spec.ManualSelector, false) || job.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{}
	for _, l := range []struct{ key, value string }{
		{LegacyControllerUIDLabel, string(job.UID)}, {LegacyJobNameLabel, job.Name},
		{batchv1.ControllerUidLabel, string(job.UID)}, {batchv1.JobNameLabel, job.Name},
	} {
		expected[l.key] = l.value
		switch v, ok := job.Spec.Template.Labels[l.key]; {
		case !ok:
			errs = append(errs, field.Required(meta.Child("labels").Key(l.key), fmt.Sprintf("must be '%s'", l.value)))
		case v != l.value:
			errs = append(errs, field.Invalid(meta.Child("labels").Key(l.key), job.Spec.Template.Labels, fmt.Sprintf("must be '%s'", l.value)))
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpecWithSelector validates a Job's spec: the shared checks,
// then a required selector that selects the template.
func validateJobSpecWithSelector(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	errs := validateJobSpec(s, path)
	if s.Selector == nil {
		errs = append(errs, field.Required(path.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, path.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobSpec holds the checks a Job and a CronJob's jobTemplate share.
func validateJobSpec(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	nonNegative := func(v *int32, name string) {
		if v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), path.Child(name))...)
		}
	}
	nonNegative(s.Parallelism, "parallelism")
	nonNegative(s.Completions, "completions")
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.ActiveDeadlineSeconds, path.Child("activeDeadlineSeconds"))...)
	}
	nonNegative(s.BackoffLimit, "backoffLimit")
	nonNegative(s.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	nonNegative(s.BackoffLimitPerIndex, "backoffLimitPerIndex")
	if s.MaxFailedIndexes != nil {
		nonNegative(s.MaxFailedIndexes, "maxFailedIndexes")
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(path.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if s.ManagedBy != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(path.Child("managedBy"), *s.ManagedBy)...)
		if len(*s.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(path.Child("managedBy"), "", maxManagedByLength))
		}
	}
	indexed := ptr.Deref(s.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if m := s.CompletionMode; m != nil {
		if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(path.Child("completionMode"), m, []string{"NonIndexed", "Indexed"}))
		}
		if indexed {
			errs = append(errs, validateIndexed(s, path)...)
		}
	}
	if !indexed {
		if s.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(path.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if s.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if s.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(s, path.Child("podFailurePolicy"))...)
	}
	if s.SuccessPolicy != nil {
		if !indexed {
			errs = append(errs, field.Invalid(path.Child("successPolicy"), *s.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = append(errs, validateSuccessPolicy(s, path.Child("successPolicy"))...)
		}
	}
	if p := s.PodReplacementPolicy; p != nil {
		rp := path.Child("podReplacementPolicy")
		switch {
		case s.PodFailurePolicy != nil && *p != batchv1.Failed:
			errs = append(errs, field.NotSupported(rp, *p, []string{string(batchv1.Failed)}))
		case *p != batchv1.Failed && *p != batchv1.TerminatingOrFailed:
			errs = append(errs, field.NotSupported(rp, *p, []string{string(batchv1.Failed), string(batchv1.TerminatingOrFailed)}))
		}
	}
	errs = append(errs, core.ValidatePodTemplateSpec(&s.Template, path.Child("template"))...)
	rpPath := path.Child("template", "spec", "restartPolicy")
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		// Pod defaulting turns an unset policy into Always: both mean "not chosen".
		errs = append(errs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rpPath, rp, []string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	case s.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validateIndexed(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Completions == nil {
		errs = append(errs, field.Required(path.Child("completions"), "when completion mode is Indexed"))
	}
	if p := s.Parallelism; p != nil && *p > maxParallelismForIndexedJob {
		errs = append(errs, field.Invalid(path.Child("parallelism"), *p,
			fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxParallelismForIndexedJob)))
	}
	if s.Completions != nil && s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > *s.Completions {
		errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
	}
	if m := s.MaxFailedIndexes; m != nil && *m > maxFailedIndexesForIndexedJob {
		errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *m, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
	}
	if s.Completions != nil && *s.Completions > completionsSoftLimit && s.BackoffLimitPerIndex != nil {
		if s.MaxFailedIndexes == nil {
			errs = append(errs, field.Required(path.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		}
		if p := s.Parallelism; p != nil && *p > parallelismLimitForHighCompletions {
			errs = append(errs, field.Invalid(path.Child("parallelism"), *p, fmt.Sprintf(
				"must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitForHighCompletions, completionsSoftLimit)))
		}
		if m := s.MaxFailedIndexes; m != nil && *m > maxFailedIndexesLimitForHighCompletions {
			errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *m, fmt.Sprintf(
				"must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
		}
	}
	return errs
}

var (
	podFailureActions    = []string{"Count", "FailIndex", "FailJob", "Ignore"}
	exitCodesOperators   = []string{"In", "NotIn"}
	podConditionStatuses = []string{"False", "True", "Unknown"}
)

func validatePodFailurePolicy(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := path.Child("rules")
	if n := len(s.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rules, n, maxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range s.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for i := range s.PodFailurePolicy.Rules {
		r := &s.PodFailurePolicy.Rules[i]
		rp := rules.Index(i)
		action := rp.Child("action")
		switch {
		case r.Action == "":
			errs = append(errs, field.Required(action, fmt.Sprintf("valid values: %q", podFailureActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex:
			if s.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(action, r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case !sets.New(podFailureActions...).Has(string(r.Action)):
			errs = append(errs, field.NotSupported(action, r.Action, podFailureActions))
		}
		if r.OnExitCodes != nil {
			errs = append(errs, validateOnExitCodes(r.OnExitCodes, rp.Child("onExitCodes"), containers)...)
		}
		if len(r.OnPodConditions) > 0 {
			errs = append(errs, validateOnPodConditions(r.OnPodConditions, rp.Child("onPodConditions"))...)
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, path *field.Path, containers sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	op := path.Child("operator")
	switch {
	case r.Operator == "":
		errs = append(errs, field.Required(op, fmt.Sprintf("valid values: %q", exitCodesOperators)))
	case r.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn && r.Operator != batchv1.PodFailurePolicyOnExitCodesOpNotIn:
		errs = append(errs, field.NotSupported(op, r.Operator, exitCodesOperators))
	}
	if r.ContainerName != nil && !containers.Has(*r.ContainerName) {
		errs = append(errs, field.Invalid(path.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	values := path.Child("values")
	switch n := len(r.Values); {
	case n == 0:
		errs = append(errs, field.Invalid(values, r.Values, "at least one value is required"))
	case n > maxOnExitCodesValues:
		errs = append(errs, field.TooMany(values, n, maxOnExitCodesValues))
	}
	seen := sets.New[int32]()
	ordered := true
	for j, v := range r.Values {
		vp := values.Index(j)
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(vp, v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			errs = append(errs, field.Duplicate(vp, v))
		}
		seen.Insert(v)
		if j > 0 && r.Values[j-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(values, r.Values, "must be ordered"))
	}
	return errs
}

func validateOnPodConditions(ps []batchv1.PodFailurePolicyOnPodConditionsPattern, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(ps) > maxOnPodConditionsPatterns {
		errs = append(errs, field.TooMany(path, len(ps), maxOnPodConditionsPatterns))
	}
	for j, p := range ps {
		pp := path.Index(j)
		for _, msg := range validation.IsQualifiedName(string(p.Type)) {
			errs = append(errs, field.Invalid(pp.Child("type"), string(p.Type), msg))
		}
		switch p.Status {
		case "":
			errs = append(errs, field.Required(pp.Child("status"), fmt.Sprintf("valid values: %q", podConditionStatuses)))
		case corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown:
		default:
			errs = append(errs, field.NotSupported(pp.Child("status"), p.Status, podConditionStatuses))
		}
	}
	return errs
}

func validateSuccessPolicy(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := path.Child("rules")
	switch n := len(s.SuccessPolicy.Rules); {
	case n == 0:
		errs = append(errs, field.Required(rules, "at least one rules must be specified when the successPolicy is specified"))
	case n > maxSuccessPolicyRules:
		errs = append(errs, field.TooMany(rules, n, maxSuccessPolicyRules))
	}
	completions := ptr.Deref(s.Completions, 0)
	for i, r := range s.SuccessPolicy.Rules {
		rp := rules.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		if c := r.SucceededCount; c != nil {
			cp := rp.Child("succeededCount")
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*c), cp)...)
			if *c > completions {
				errs = append(errs, field.Invalid(cp, *c, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
		}
	}
	return errs
}

// validateJobUpdate: what a Job may not change once created.
func validateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	spec, os := &job.Spec, &old.Spec
	path := field.NewPath("spec")
	var errs field.ErrorList
	immutable := func(n, o interface{}, name string) {
		errs = append(errs, apivalidation.ValidateImmutableField(n, o, path.Child(name))...)
	}
	// An indexed job may scale completions, in step with parallelism.
	if ptr.Deref(spec.CompletionMode, "") == batchv1.IndexedCompletion {
		if !apiequality.Semantic.DeepEqual(spec.Completions, os.Completions) && spec.Completions != nil &&
			*spec.Completions != ptr.Deref(spec.Parallelism, 0) {
			errs = append(errs, field.Invalid(path.Child("completions"), spec.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	} else {
		immutable(spec.Completions, os.Completions, "completions")
	}
	immutable(spec.Selector, os.Selector, "selector")
	errs = append(errs, validateTemplateUpdate(job, old)...)
	immutable(spec.CompletionMode, os.CompletionMode, "completionMode")
	immutable(spec.PodFailurePolicy, os.PodFailurePolicy, "podFailurePolicy")
	immutable(spec.BackoffLimitPerIndex, os.BackoffLimitPerIndex, "backoffLimitPerIndex")
	immutable(spec.ManagedBy, os.ManagedBy, "managedBy")
	immutable(spec.SuccessPolicy, os.SuccessPolicy, "successPolicy")
	return errs
}

// validateTemplateUpdate: the pod template is immutable, except that a
// suspended job that never started may change where its pods schedule.
func validateTemplateUpdate(job, old *batchv1.Job) field.ErrorList {
	t, ot := &job.Spec.Template, &old.Spec.Template
	if ptr.Deref(old.Spec.Suspend, false) && old.Status.StartTime == nil {
		ot = ot.DeepCopy()
		switch {
		case t.Spec.Affinity == nil && ot.Spec.Affinity != nil:
			ot.Spec.Affinity.NodeAffinity = nil
			if *ot.Spec.Affinity == (corev1.Affinity{}) {
				ot.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && ot.Spec.Affinity == nil:
			ot.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && ot.Spec.Affinity != nil:
			ot.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		ot.Spec.NodeSelector = t.Spec.NodeSelector
		ot.Spec.Tolerations = t.Spec.Tolerations
		ot.Annotations = t.Annotations
		ot.Labels = t.Labels
		ot.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	return apivalidation.ValidateImmutableField(t, ot, field.NewPath("spec", "template"))
}

func hasCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func jobStatus(job *batchv1.Job) string {
	switch {
	case hasCondition(job, batchv1.JobComplete):
		return "Complete"
	case hasCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case hasCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case hasCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

func jobCompletions(job *batchv1.Job) string {
	if c := job.Spec.Completions; c != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *c)
	}
	if p := ptr.Deref(job.Spec.Parallelism, 0); p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

func jobDuration(job *batchv1.Job) string {
	switch st := job.Status; {
	case st.StartTime == nil:
		return ""
	case st.CompletionTime == nil:
		return duration.HumanDuration(time.Since(st.StartTime.Time))
	default:
		return duration.HumanDuration(st.CompletionTime.Sub(st.StartTime.Time))
	}
}

// containerCells prints a template's container names and images as the
// Containers and Images columns do.
func containerCells(cs []corev1.Container) (string, string) {
	var names, images string
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
