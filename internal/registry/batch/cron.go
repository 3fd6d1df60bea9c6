package batch

import "github.com/kedge-dev/kedge/internal/cron"

// ParseSchedule checks a CronJob schedule with the parser the CronJob
// controller schedules with (internal/cron): five fields or a descriptor,
// optionally prefixed by TZ=<zone> or CRON_TZ=<zone>, with upstream's
// error messages.
func ParseSchedule(spec string) error {
	_, err := cron.Parse(spec)
	return err
}
