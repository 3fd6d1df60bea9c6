package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a controller waits for the informer to
// report its own writes before it syncs anyway (upstream uses 5 minutes).
const expectationsTTL = 5 * time.Minute

// Expectations remember, per ReplicaSet key, the pod creations and
// deletions a sync has issued but the informer has not shown yet. While
// any are outstanding the controller does not create or delete more pods,
// so a lagging cache cannot make it over-create.
type Expectations struct {
	mu    sync.Mutex
	items map[string]*expectation
	now   func() time.Time
}

type expectation struct {
	adds    int
	deletes map[string]bool // pod keys still expected to go away
	setAt   time.Time
}

// NewExpectations returns an empty tracker using the given clock.
func NewExpectations(now func() time.Time) *Expectations {
	if now == nil {
		now = time.Now
	}
	return &Expectations{items: map[string]*expectation{}, now: now}
}

// Satisfied reports whether the controller may act on key: nothing is
// outstanding, nothing was ever recorded, or the record expired.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.now().Sub(x.setAt) > expectationsTTL
}

// ExpectCreations records that n pods are about to be created for key.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, deletes: map[string]bool{}, setAt: e.now()}
}

// ExpectDeletions records the pods about to be deleted for key.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: make(map[string]bool, len(podKeys)), setAt: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.items[key] = x
}

// CreationObserved lowers the outstanding creations of key by one: the
// informer saw a new pod, or a create failed and will not show up.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved marks podKey as gone (or no longer expected to go).
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

// Delete forgets key, for a ReplicaSet that no longer exists.
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
