package batch

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // CronJob time zones validate without the host's zoneinfo

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/registry"
)

// maxCronJobNameLength leaves room for the "-<minutes>" suffix of the Job
// names a CronJob creates (a Job name is at most 63 characters).
const maxCronJobNameLength = 52

// CronJobs is the strategy of batch/v1 cronjobs.
func CronJobs() *registry.Resource {
	return &registry.Resource{
		GVK: batchv1.SchemeGroupVersion.WithKind("CronJob"), Name: "cronjobs", ShortNames: []string{"cj"},
		Categories: []string{"all"}, Namespaced: true, Status: true, Generation: true,
		New:     func() runtime.Object { return &batchv1.CronJob{} },
		NewList: func() runtime.Object { return &batchv1.CronJobList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*batchv1.CronJob).Status = batchv1.CronJobStatus{}
		},
		Default: func(obj runtime.Object) {
			cj := obj.(*batchv1.CronJob)
			s := &cj.Spec
			if s.ConcurrencyPolicy == "" {
				s.ConcurrencyPolicy = batchv1.AllowConcurrent
			}
			if s.Suspend == nil {
				s.Suspend = ptr.To(false)
			}
			if s.SuccessfulJobsHistoryLimit == nil {
				s.SuccessfulJobsHistoryLimit = ptr.To(int32(3))
			}
			if s.FailedJobsHistoryLimit == nil {
				s.FailedJobsHistoryLimit = ptr.To(int32(1))
			}
			defaultJobTemplate(&s.JobTemplate.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			cj := obj.(*batchv1.CronJob)
			errs := validateCronJobSpec(&cj.Spec, field.NewPath("spec"))
			if len(cj.Name) > maxCronJobNameLength {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, "must be no more than 52 characters"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{registry.NameColumn,
			registry.Col("Schedule", "string", 0, batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]),
			registry.Col("Timezone", "string", 0, batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
			registry.Col("Suspend", "boolean", 0, batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]),
			registry.Col("Active", "integer", 0, batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]),
			registry.Col("Last Schedule", "string", 0, batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
			registry.AgeColumn,
			registry.Col("Containers", "string", 1, "Names of each container in the template."),
			registry.Col("Images", "string", 1, "Images referenced by each container in the template."),
			registry.Col("Selector", "string", 1, batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			cj := obj.(*batchv1.CronJob)
			last := "<none>"
			if t := cj.Status.LastScheduleTime; t != nil {
				last = registry.Age(*t)
			}
			tz := "<none>"
			if cj.Spec.TimeZone != nil {
				tz = *cj.Spec.TimeZone
			}
			suspend := "<unset>"
			if cj.Spec.Suspend != nil {
				suspend = "False"
				if *cj.Spec.Suspend {
					suspend = "True"
				}
			}
			t := &cj.Spec.JobTemplate.Spec
			names, images := containerCells(t.Template.Spec.Containers)
			return []interface{}{cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last,
				registry.Age(cj.CreationTimestamp), names, images, metav1.FormatLabelSelector(t.Selector)}
		},
	}
}

// validateCronJobSpec checks a CronJob's spec. A TZ= prefix is refused:
// the timeZone field says it (objects that carried one from before that
// rule cannot exist here).
func validateCronJobSpec(s *batchv1.CronJobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	sched := path.Child("schedule")
	if s.Schedule == "" {
		errs = append(errs, field.Required(sched, ""))
	} else {
		if err := ParseSchedule(s.Schedule); err != nil {
			errs = append(errs, field.Invalid(sched, s.Schedule, err.Error()))
		}
		if strings.Contains(s.Schedule, "TZ") {
			errs = append(errs, field.Invalid(sched, s.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if d := s.StartingDeadlineSeconds; d != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*d, path.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, validateTimeZone(s.TimeZone, path.Child("timeZone"))...)
	cp := path.Child("concurrencyPolicy")
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(cp, ""))
	default:
		errs = append(errs, field.NotSupported(cp, s.ConcurrencyPolicy, []string{"Allow", "Forbid", "Replace"}))
	}
	errs = append(errs, validateJobTemplateSpec(&s.JobTemplate, path.Child("jobTemplate"))...)
	if l := s.SuccessfulJobsHistoryLimit; l != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*l), path.Child("successfulJobsHistoryLimit"))...)
	}
	if l := s.FailedJobsHistoryLimit; l != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*l), path.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

// validateJobTemplateSpec: a job template is a Job spec whose selector the
// server generates for each Job.
func validateJobTemplateSpec(t *batchv1.JobTemplateSpec, path *field.Path) field.ErrorList {
	sp := path.Child("spec")
	errs := validateJobSpec(&t.Spec, sp)
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(sp.Child("selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptr.Deref(t.Spec.ManualSelector, false) {
		errs = append(errs, field.NotSupported(sp.Child("manualSelector"), t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}

// validTimeZonePart is one component of an IANA zone name (digits and '+'
// are tolerated for legacy names).
var validTimeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(tz *string, path *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(path, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(path, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(path, tz, err.Error()))
	}
	return errs
}
