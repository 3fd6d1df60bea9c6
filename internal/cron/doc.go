// Package cron parses CronJob schedules and computes when they fire.
//
//	"*/5 * * * *", "@hourly", "TZ=Europe/Paris 0 3 * * 1-5"
//	   │ Parse (errors worded as upstream's)
//	   ▼
//	Schedule.Next(t) ──► the first activation strictly after t
//
// The five fields are minute (0-59), hour (0-23), day of month (1-31),
// month (1-12 or jan-dec) and day of week (0-6 or sun-sat); each is a
// comma-separated list of "*", "?", "N", "N-M", with an optional "/step".
// When both day fields are restricted a day matching either fires (classic
// cron); when one is "*" both must match. The API server validates with
// Parse, the CronJob controller schedules with it.
package cron
