package proxy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// runLog records when a runner called its function.
type runLog struct {
	mu    sync.Mutex
	times []time.Time
	fail  int // fail this many calls first
	ran   chan struct{}
}

func newRunLog() *runLog { return &runLog{ran: make(chan struct{}, 100)} }

func (l *runLog) fn(context.Context) error {
	l.mu.Lock()
	l.times = append(l.times, time.Now())
	failing := l.fail > 0
	if failing {
		l.fail--
	}
	l.mu.Unlock()
	l.ran <- struct{}{}
	if failing {
		return errors.New("boom")
	}
	return nil
}

func (l *runLog) waitRuns(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for range n {
		select {
		case <-l.ran:
		case <-deadline:
			t.Fatalf("expected %d runs within %s", n, within)
		}
	}
}

func (l *runLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.times)
}

func startRunner(t *testing.T, l *runLog, minInterval, maxInterval time.Duration) *syncRunner {
	t.Helper()
	r := newSyncRunner(l.fn, minInterval, maxInterval)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("runner did not stop on cancel")
		}
	})
	return r
}

func TestRunnerCoalescesBurstsAndKeepsMinInterval(t *testing.T) {
	l := newRunLog()
	r := startRunner(t, l, 200*time.Millisecond, time.Hour)

	r.Trigger()
	l.waitRuns(t, 1, 2*time.Second)
	for range 50 {
		r.Trigger()
	}
	l.waitRuns(t, 1, 2*time.Second)
	// The burst is served by a single run; give a stray second one a chance to show.
	time.Sleep(300 * time.Millisecond)
	if n := l.count(); n != 2 {
		t.Fatalf("%d runs for one trigger and one burst, want 2", n)
	}
	l.mu.Lock()
	gap := l.times[1].Sub(l.times[0])
	l.mu.Unlock()
	if gap < 200*time.Millisecond {
		t.Errorf("second run %s after the first, want ≥ MinSyncPeriod 200ms", gap)
	}
}

func TestRunnerRunsPeriodicallyWithoutTriggers(t *testing.T) {
	l := newRunLog()
	startRunner(t, l, 10*time.Millisecond, 50*time.Millisecond)
	l.waitRuns(t, 3, 2*time.Second)
}

func TestRunnerRetriesFailedRuns(t *testing.T) {
	l := newRunLog()
	l.fail = 2
	r := startRunner(t, l, 20*time.Millisecond, time.Hour)
	r.Trigger()
	// Two failures and the success after them, long before the hour-long period.
	l.waitRuns(t, 3, 3*time.Second)
}
