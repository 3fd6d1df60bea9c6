package kubelet

import (
	"sync"
	"time"
)

// Upstream's container restart and image pull back-off: the first retry
// happens at once, then 10 s, 20 s, 40 s ... capped at 5 min; an entry
// untouched for twice the cap starts over.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
)

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

// backoff tracks retry delays per key (pod UID + container name, or pod
// UID + image). It is safe for concurrent use.
type backoff struct {
	mu      sync.Mutex
	initial time.Duration
	max     time.Duration
	entries map[string]*backoffEntry
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, entries: map[string]*backoffEntry{}}
}

func (b *backoff) expired(e *backoffEntry, now time.Time) bool {
	return now.Sub(e.lastUpdate) > 2*b.max
}

// wait returns how much longer a retry of key must wait when the last
// failure happened at since; 0 means retry now.
func (b *backoff) wait(key string, since, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, now) {
		return 0
	}
	if left := e.delay - now.Sub(since); left > 0 {
		return left
	}
	return 0
}

// waitSinceLast is wait measured from the last recorded retry.
func (b *backoff) waitSinceLast(key string, now time.Time) time.Duration {
	b.mu.Lock()
	e, ok := b.entries[key]
	b.mu.Unlock()
	if !ok {
		return 0
	}
	return b.wait(key, e.lastUpdate, now)
}

// next records a retry of key at now and returns the delay the retry
// after it will have to wait.
func (b *backoff) next(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, now) {
		e = &backoffEntry{delay: b.initial}
		b.entries[key] = e
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.lastUpdate = now
	return e.delay
}

// current returns the delay in force for key (0 if none).
func (b *backoff) current(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// forgetPrefix drops every entry whose key starts with prefix (a pod UID
// when the pod is gone).
func (b *backoff) forgetPrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
