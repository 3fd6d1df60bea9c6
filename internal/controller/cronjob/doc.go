// Package cronjob is the CronJob controller: it creates a CronJob's Jobs
// on its schedule and keeps its status and history.
//
//	CronJob + the Jobs it controls (informers)
//	   │
//	   ▼
//	Reconcile (pure) ──► status.active without finished or missing Jobs,
//	   │                 lastSuccessfulTime from Complete Jobs
//	   │             ──► most recent activation in (lastScheduleTime or
//	   │                 creation, now], not older than
//	   │                 startingDeadlineSeconds: if not handled yet and
//	   │                 the concurrency policy allows (Allow; Forbid: none
//	   │                 active; Replace: delete the active ones), create
//	   │                 its Job
//	   │             ──► finished Jobs beyond successful/failedJobsHistoryLimit
//	   ▼
//	delete replaced Jobs → create Job → status (active, lastScheduleTime)
//	→ delete old history → look again just after the next activation
//
// Schedules are parsed by internal/cron: five fields or @hourly and
// friends, in spec.timeZone (default: the controller's local zone, as
// upstream). A Job is named "<cronjob>-<activation in minutes since the
// epoch>", the same on every retry, and carries the jobTemplate's labels
// and annotations plus batch.kubernetes.io/cronjob-scheduled-timestamp
// (RFC 3339 in the CronJob's time zone) and a controller reference.
// Deletions propagate in the background.
//
// Events on the CronJob (source "cronjob-controller"), worded as upstream:
// SuccessfulCreate "Created job <name>", SawCompletedJob "Saw completed
// job: <name>, status: Complete|Failed", SuccessfulDelete "Deleted job
// <name>", Warning FailedCreate "Error creating job: <err>", Warning
// UnexpectedJob, MissingJob, JobAlreadyActive (Forbid), Warning
// MissSchedule, Warning TooManyMissedTimes, Warning UnparseableSchedule,
// Warning UnknownTimeZone.
package cronjob
