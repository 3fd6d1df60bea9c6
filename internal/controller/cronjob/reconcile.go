package cronjob

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kedge-dev/kedge/internal/cron"
)

// nextScheduleDelta is added to a requeue so the sync lands just after
// the activation, not just before it.
const nextScheduleDelta = 100 * time.Millisecond

// maxMissedSchedules is how many missed activations are tolerated
// silently; beyond it the CronJob gets a TooManyMissedTimes warning.
const maxMissedSchedules = 100

var controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Event is an event to record on the CronJob.
type Event struct {
	Type, Reason, Message string
}

// Input is what one sync observes.
type Input struct {
	CronJob *batchv1.CronJob
	Jobs    []*batchv1.Job // the Jobs the CronJob controls
	// Missing holds the UIDs of status.active entries the server no
	// longer has.
	Missing map[types.UID]bool
	Now     time.Time
}

// Plan is what one sync does, in order: delete ReplaceActive (Replace
// policy), create Create, write Status (plus the created Job in
// status.active), delete the finished Jobs beyond the history limits,
// look again after RequeueAfter.
type Plan struct {
	ReplaceActive []*batchv1.Job
	Create        *batchv1.Job
	Status        batchv1.CronJobStatus
	DeleteHistory []*batchv1.Job
	Events        []Event
	RequeueAfter  time.Duration // 0: no activation ahead (suspended, bad schedule)
}

// Reconcile decides a sync: it reconciles status.active with the Jobs,
// starts the Job of the most recent missed activation if the policy
// allows, and trims the history.
func Reconcile(in Input) (plan Plan) {
	cj, now := in.CronJob, in.Now
	st := cj.Status.DeepCopy()
	event := func(typ, reason, format string, args ...any) {
		plan.Events = append(plan.Events, Event{typ, reason, fmt.Sprintf(format, args...)})
	}

	listed := map[types.UID]bool{}
	for _, j := range in.Jobs {
		listed[j.UID] = true
		active := inActive(st, j.UID)
		cond, done := finished(j)
		switch {
		case !active && !done:
			event(corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case active && done:
			removeActive(st, j.UID)
			event(corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, status: %v", j.Name, cond)
		}
		if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
			st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
	for _, ref := range slices.Clone(st.Active) {
		if !listed[ref.UID] && in.Missing[ref.UID] {
			removeActive(st, ref.UID)
			event(corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
		}
	}
	plan.Status = *st
	if cj.DeletionTimestamp != nil {
		return plan
	}
	defer func() { plan.DeleteHistory = history(cj, in.Jobs) }()
	if ptr.Deref(cj.Spec.Suspend, false) {
		return plan
	}

	sched, err := schedule(cj)
	if err != nil {
		plan.Events = append(plan.Events, Event{corev1.EventTypeWarning, err.reason, err.message})
		return plan
	}
	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if floor := now.Add(-time.Duration(*d) * time.Second); floor.After(earliest) {
			earliest = floor
		}
	}
	scheduled, missed := mostRecent(sched, earliest, now)
	requeue := func(after time.Time) {
		if next := sched.Next(after); !next.IsZero() {
			plan.RequeueAfter = max(next.Add(nextScheduleDelta).Sub(now), nextScheduleDelta)
		}
	}
	if scheduled.IsZero() {
		requeue(earliest)
		return plan
	}
	requeue(scheduled)
	if missed > maxMissedSchedules {
		event(corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		event(corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return plan
	}
	name := JobName(cj, scheduled)
	if activeByName(st, name) || (st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(scheduled)) {
		return plan // this activation was handled
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			event(corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return plan
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			plan.ReplaceActive = append(plan.ReplaceActive, jobFor(ref, in.Jobs))
		}
	}
	job, jerr := NewJob(cj, scheduled)
	if jerr != nil {
		event(corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", ptr.Deref(cj.Spec.TimeZone, ""), jerr)
		return plan
	}
	plan.Create = job
	plan.Status.LastScheduleTime = ptr.To(metav1.NewTime(scheduled))
	return plan
}

// JobName is the name of the Job for an activation:
// "<cronjob>-<minutes since the epoch>", the same on every try.
func JobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// NewJob builds the Job of an activation from the CronJob's jobTemplate:
// its labels and annotations plus batch.kubernetes.io/cronjob-scheduled-timestamp
// (RFC 3339, in the CronJob's time zone), and a controller reference.
func NewJob(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, err
	}
	t := cj.Spec.JobTemplate
	labels := maps.Clone(t.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	annotations := maps.Clone(t.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}, nil
}

// ActiveRef is the status.active entry of a Job.
func ActiveRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		Kind: "Job", APIVersion: batchv1.SchemeGroupVersion.String(),
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion,
	}
}

type scheduleError struct{ reason, message string }

// schedule parses the CronJob's schedule in its time zone.
func schedule(cj *batchv1.CronJob) (cron.Schedule, *scheduleError) {
	spec := cj.Spec.Schedule
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			return nil, &scheduleError{"UnknownTimeZone", fmt.Sprintf("invalid timeZone: %q: %s", *tz, err)}
		}
		spec = "TZ=" + *tz + " " + spec
	}
	s, err := cron.Parse(spec)
	if err != nil {
		return nil, &scheduleError{"UnparseableSchedule", fmt.Sprintf("unparseable schedule: %q : %s", cj.Spec.Schedule, err)}
	}
	return s, nil
}

// mostRecent returns the latest activation in (earliest, now] and how
// many there were; past maxMissedSchedules the count stops being exact.
func mostRecent(s cron.Schedule, earliest, now time.Time) (time.Time, int) {
	t1 := s.Next(earliest)
	if t1.IsZero() || t1.After(now) {
		return time.Time{}, 0
	}
	last, n := t1, 1
	for ; n <= maxMissedSchedules; n++ {
		next := s.Next(last)
		if next.IsZero() || next.After(now) {
			return last, n
		}
		last = next
	}
	// Far behind: jump close to now by the first interval, then walk.
	if t2 := s.Next(t1); t2.After(t1) {
		interval := t2.Sub(t1)
		k := now.Sub(t1) / interval
		n = int(k) + 1
		var found time.Time
		for t := s.Next(t1.Add((k - 2) * interval)); !t.IsZero() && !t.After(now); t = s.Next(t) {
			found = t
		}
		if found.After(last) {
			return found, n
		}
	}
	// Irregular schedule: widen a window back from now until it holds one.
	for w := time.Minute; ; w *= 2 {
		start := now.Add(-w)
		if !start.After(last) {
			start = last
		}
		t := s.Next(start)
		if t.IsZero() || t.After(now) {
			if start.Equal(last) {
				return last, n
			}
			continue
		}
		for next := s.Next(t); !next.IsZero() && !next.After(now); next = s.Next(t) {
			t = next
		}
		return t, n
	}
}

// history returns the finished Jobs beyond successfulJobsHistoryLimit
// (Complete) and failedJobsHistoryLimit (Failed), oldest start first.
func history(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		switch cond, _ := finished(j); cond {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{ok, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		sort.Slice(g.jobs, func(a, b int) bool { return startedBefore(g.jobs[a], g.jobs[b]) })
		out = append(out, g.jobs[:len(g.jobs)-int(*g.limit)]...)
	}
	return out
}

// startedBefore orders Jobs by start time, those not started last, then
// by name.
func startedBefore(a, b *batchv1.Job) bool {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return false
	case sa != nil && sb == nil:
		return true
	case sa == nil || sa.Equal(sb):
		return a.Name < b.Name
	}
	return sa.Before(sb)
}

// finished returns the terminal condition of a Job, if it has one.
func finished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

func inActive(st *batchv1.CronJobStatus, uid types.UID) bool {
	for _, r := range st.Active {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func activeByName(st *batchv1.CronJobStatus, name string) bool {
	for _, r := range st.Active {
		if r.Name == name {
			return true
		}
	}
	return false
}

func removeActive(st *batchv1.CronJobStatus, uid types.UID) {
	var keep []corev1.ObjectReference
	for _, r := range st.Active {
		if r.UID != uid {
			keep = append(keep, r)
		}
	}
	st.Active = keep
}

// jobFor returns the listed Job an active entry names, or a stub with
// its name and UID when the cache does not have it.
func jobFor(ref corev1.ObjectReference, jobs []*batchv1.Job) *batchv1.Job {
	for _, j := range jobs {
		if j.UID == ref.UID {
			return j
		}
	}
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name, UID: ref.UID}}
}
