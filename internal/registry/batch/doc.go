// Package batch holds the strategies of batch/v1 Jobs and CronJobs:
// defaults, validation with upstream's messages, the selector the server
// generates for a Job (batch.kubernetes.io/controller-uid=<uid>), CronJob
// schedule parsing, field selectors and table columns.
//
//	in:  decoded batch/v1 objects from the API server's generic path
//	out: defaulted objects, field.ErrorList, table rows
package batch
