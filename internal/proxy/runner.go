package proxy

import (
	"context"
	"log/slog"
	"time"
)

// syncRunner calls fn when triggered, never more often than once per
// minInterval, and at least once per maxInterval. Triggers that arrive
// while it waits or runs fold into one run, so a burst of changes (a
// Deployment scaling up) costs one sync. A failed run is retried with
// exponential backoff from minInterval up to maxInterval.
type syncRunner struct {
	fn          func(ctx context.Context) error
	minInterval time.Duration
	maxInterval time.Duration
	kick        chan struct{}
}

func newSyncRunner(fn func(ctx context.Context) error, minInterval, maxInterval time.Duration) *syncRunner {
	return &syncRunner{fn: fn, minInterval: minInterval, maxInterval: maxInterval, kick: make(chan struct{}, 1)}
}

// Trigger asks for a run soon; it never blocks.
func (r *syncRunner) Trigger() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run serves triggers until ctx ends. The first run waits for a trigger.
func (r *syncRunner) Run(ctx context.Context) {
	var last time.Time
	retry := time.Duration(0)
	next := time.NewTimer(r.maxInterval)
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-next.C:
		}
		if wait := time.Until(last.Add(r.minInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// A trigger that came while waiting is served by this run.
		select {
		case <-r.kick:
		default:
		}
		last = time.Now()
		if err := r.fn(ctx); err != nil {
			retry = min(max(2*retry, r.minInterval, 100*time.Millisecond), r.maxInterval)
			slog.Error("proxy: sync failed; will retry", "retryIn", retry, "err", err)
			next.Reset(retry)
			continue
		}
		retry = 0
		next.Reset(r.maxInterval)
	}
}
