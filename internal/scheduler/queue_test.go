package scheduler

import (
	"context"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func popNow(t *testing.T, q *schedulingQueue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	k, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("Pop: %v", err)
	}
	return k
}

func assertEmpty(t *testing.T, q *schedulingQueue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if k, err := q.Pop(ctx); err == nil {
		t.Fatalf("Pop returned %q, want nothing ready", k)
	}
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := newSchedulingQueue(clk.now)
	q.Add("ns/old-low", 0, true)
	clk.t = clk.t.Add(time.Second)
	q.Add("ns/new-low", 0, true)
	q.Add("ns/high", 100, true)
	for _, want := range []string{"ns/high", "ns/old-low", "ns/new-low"} {
		if got := popNow(t, q); got != want {
			t.Fatalf("popped %q, want %q", got, want)
		}
	}
}

func TestBackoffDoublesToTenSeconds(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := backoffFor(i + 1); got != w*time.Second {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestFailedPodBacksOffThenRetries(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/p", 0, true)
	k := popNow(t, q)
	start := time.Now()
	q.Done(k, outcomeRetry)
	assertEmpty(t, q)
	if got := popNow(t, q); got != "ns/p" {
		t.Fatalf("popped %q", got)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %v, want about 1s back-off", waited)
	}
	q.Done(k, outcomeRetry)
	if e := q.entries["ns/p"]; e.attempts != 2 || e.readyAt.Sub(time.Now()) < 1500*time.Millisecond {
		t.Fatalf("second failure: attempts %d, ready in %v; want 2 and ~2s", e.attempts, time.Until(e.readyAt))
	}
}

func TestMoveAllSkipsBackoff(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/p", 0, true)
	q.Done(popNow(t, q), outcomeRetry)
	q.MoveAll()
	if got := popNow(t, q); got != "ns/p" {
		t.Fatalf("popped %q", got)
	}
}

func TestEventDuringAttemptRetriesAtOnce(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/p", 0, true)
	k := popNow(t, q)
	q.MoveAll() // e.g. a node was added while we were scheduling
	q.Done(k, outcomeRetry)
	if got := popNow(t, q); got != "ns/p" {
		t.Fatalf("popped %q", got)
	}
}

func TestStatusOnlyUpdateDoesNotRetry(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/p", 0, true)
	q.Done(popNow(t, q), outcomeRetry)
	q.Add("ns/p", 0, false) // our own condition write coming back
	assertEmpty(t, q)
	q.Add("ns/p", 0, true) // the user changed the spec
	if got := popNow(t, q); got != "ns/p" {
		t.Fatalf("popped %q", got)
	}
}

func TestParkedPodWaitsForItsOwnUpdate(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/gated", 0, true)
	q.Done(popNow(t, q), outcomePark)
	q.MoveAll()
	assertEmpty(t, q)
	q.Add("ns/gated", 0, true)
	if got := popNow(t, q); got != "ns/gated" {
		t.Fatalf("popped %q", got)
	}
}

func TestDeleteAndDone(t *testing.T) {
	q := newSchedulingQueue(nil)
	q.Add("ns/a", 0, true)
	q.Add("ns/b", 0, true)
	q.Delete("ns/a")
	k := popNow(t, q)
	if k != "ns/b" {
		t.Fatalf("popped %q", k)
	}
	q.Done(k, outcomeDone)
	if q.Len() != 0 {
		t.Fatalf("Len = %d", q.Len())
	}
	q.Requeue("ns/b", 0) // binding failed
	if e := q.entries["ns/b"]; e == nil || e.state != stateBackoff {
		t.Fatalf("requeued entry = %+v", e)
	}
}

func TestPopStopsOnCancel(t *testing.T) {
	q := newSchedulingQueue(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Pop(ctx); err == nil {
		t.Fatal("Pop on cancelled context returned no error")
	}
}
