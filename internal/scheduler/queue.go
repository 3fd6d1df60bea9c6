package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Back-off between attempts of a pod that did not fit: 1 s, doubling, at
// most 10 s. An event that may make the pod fit (a node added or changed,
// a pod leaving a node) cuts the wait short.
const (
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
)

func backoffFor(attempts int) time.Duration {
	d := initialBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// outcome is what became of a popped pod.
type outcome int

const (
	// outcomeDone: bound, deleted or no longer ours; forget the pod.
	outcomeDone outcome = iota
	// outcomeRetry: unschedulable or failed; retry after back-off or on a
	// helpful event.
	outcomeRetry
	// outcomePark: blocked by scheduling gates; wait for the pod itself to
	// change.
	outcomePark
)

type qentry struct {
	key      string
	priority int32
	added    time.Time // first seen, orders pods of equal priority
	attempts int
	readyAt  time.Time
	state    qstate
	// moved is set when a helpful event arrives while the pod is being
	// scheduled, so a failure retries at once instead of backing off.
	moved bool
	index int // in the active heap
}

type qstate int

const (
	stateActive qstate = iota
	stateBackoff
	stateParked
	stateInFlight
)

// schedulingQueue holds the pods waiting for a node: an active heap
// ordered by priority then age (upstream's PrioritySort), and pods backing
// off or parked. A pod is in exactly one place; Pop hands out one pod at a
// time and expects Done for it.
type schedulingQueue struct {
	mu      sync.Mutex
	now     func() time.Time
	wake    chan struct{}
	entries map[string]*qentry
	active  entryHeap
}

func newSchedulingQueue(now func() time.Time) *schedulingQueue {
	if now == nil {
		now = time.Now
	}
	return &schedulingQueue{now: now, wake: make(chan struct{}, 1), entries: map[string]*qentry{}}
}

func (q *schedulingQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Add records a pending pod. A new pod becomes active at once. For a known
// pod, moved says whether its change may make it schedulable: a backing-off
// or parked pod then becomes active, an in-flight one retries at once if
// this attempt fails.
func (q *schedulingQueue) Add(key string, priority int32, moved bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		e = &qentry{key: key, priority: priority, added: q.now()}
		q.entries[key] = e
		q.activate(e)
		return
	}
	e.priority = priority
	switch e.state {
	case stateActive:
		heap.Fix(&q.active, e.index)
	case stateInFlight:
		e.moved = e.moved || moved
	case stateBackoff, stateParked:
		if moved {
			q.activate(e)
		}
	}
}

func (q *schedulingQueue) activate(e *qentry) {
	e.state = stateActive
	heap.Push(&q.active, e)
	q.signal()
}

// Delete forgets a pod (bound elsewhere, deleted, no longer ours).
func (q *schedulingQueue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		return
	}
	if e.state == stateActive {
		heap.Remove(&q.active, e.index)
	}
	if e.state == stateInFlight {
		// Done will find it gone.
		e.moved = false
	}
	delete(q.entries, key)
}

// MoveAll makes every backing-off pod active: something changed in the
// cluster that may let it fit. Parked (gated) pods stay.
func (q *schedulingQueue) MoveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.entries {
		switch e.state {
		case stateBackoff:
			q.activate(e)
		case stateInFlight:
			e.moved = true
		}
	}
}

// Pop blocks until a pod is ready or ctx ends.
func (q *schedulingQueue) Pop(ctx context.Context) (string, error) {
	for {
		q.mu.Lock()
		now := q.now()
		var next time.Time
		for _, e := range q.entries {
			if e.state != stateBackoff {
				continue
			}
			if !e.readyAt.After(now) {
				q.activate(e)
			} else if next.IsZero() || e.readyAt.Before(next) {
				next = e.readyAt
			}
		}
		if q.active.Len() > 0 {
			e := heap.Pop(&q.active).(*qentry)
			e.state = stateInFlight
			e.moved = false
			q.mu.Unlock()
			return e.key, nil
		}
		q.mu.Unlock()

		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(next.Sub(now))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-q.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Done reports the outcome of a popped pod.
func (q *schedulingQueue) Done(key string, o outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok || e.state != stateInFlight {
		return
	}
	switch o {
	case outcomeDone:
		delete(q.entries, key)
	case outcomePark:
		if e.moved {
			q.activate(e)
			return
		}
		e.state = stateParked
	case outcomeRetry:
		e.attempts++
		if e.moved {
			q.activate(e)
			return
		}
		e.state = stateBackoff
		e.readyAt = q.now().Add(backoffFor(e.attempts))
		q.signal() // Pop must recompute its deadline
	}
}

// Requeue puts back a pod whose binding failed after it was popped and
// reported done: it backs off like a failed attempt.
func (q *schedulingQueue) Requeue(key string, priority int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		e = &qentry{key: key, priority: priority, added: q.now()}
		q.entries[key] = e
	} else if e.state != stateBackoff && e.state != stateParked {
		return // already active or being scheduled again
	}
	e.attempts++
	e.state = stateBackoff
	e.readyAt = q.now().Add(backoffFor(e.attempts))
	q.signal()
}

// Len is the number of pods the queue knows.
func (q *schedulingQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

type entryHeap []*qentry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority > h[j].priority
	}
	return h[i].added.Before(h[j].added)
}
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *entryHeap) Push(x any) {
	e := x.(*qentry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
