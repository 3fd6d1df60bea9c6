package ctrlutil

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TriggerTimes computes the last-change-trigger-time of a Service's
// endpoints: the earliest change (a pod's Ready transition, or the
// Service's creation) seen since the previous sync of that Service. For a
// Service synced for the first time it is the Service's creation time.
// The Endpoints and EndpointSlice controllers both publish it.
type TriggerTimes struct {
	mu    sync.Mutex
	state map[string]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimes returns an empty tracker.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{state: map[string]triggerState{}}
}

// Compute records what the sync of key observes and returns the trigger
// time to publish (zero: none).
func (t *TriggerTimes) Compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.state[key]
	t.mu.Unlock()

	var earliest time.Time
	consider := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	next := triggerState{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	for _, p := range pods {
		c := PodCondition(&p.Status, corev1.PodReady)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		ts := c.LastTransitionTime.Time
		next.pods[p.Name] = ts
		if ts.After(prev.pods[p.Name]) {
			consider(ts)
		}
	}
	if next.service.After(prev.service) {
		consider(next.service)
	}
	t.mu.Lock()
	t.state[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops the state of a deleted Service.
func (t *TriggerTimes) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.state, key)
}
