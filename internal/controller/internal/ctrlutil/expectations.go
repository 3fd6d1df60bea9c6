package ctrlutil

import (
	"sync"
	"time"
)

// ExpectationsTTL bounds how long a controller waits for the informer to
// show its own pod writes before it acts anyway (upstream: 5 minutes).
const ExpectationsTTL = 5 * time.Minute

// Expectations remember, per controller key, the pod creations and
// deletions a sync has issued but the informer has not shown yet. While
// any are outstanding the controller creates or deletes no more pods, so
// a lagging cache cannot make it over-create or delete twice.
type Expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

type expectation struct {
	adds    int
	deletes map[string]bool // pod keys still expected to go away
	setAt   time.Time
}

// NewExpectations returns an empty tracker using the given clock (nil
// means time.Now).
func NewExpectations(now func() time.Time) *Expectations {
	if now == nil {
		now = time.Now
	}
	return &Expectations{now: now, items: map[string]*expectation{}}
}

// Satisfied reports whether the controller may act on key: nothing is
// outstanding, nothing was ever recorded, or the record expired.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.now().Sub(x.setAt) > ExpectationsTTL
}

// Expect records the creations and the deletions (pod keys) a sync is
// about to issue for key, replacing what was recorded before.
func (e *Expectations) Expect(key string, adds int, deletes []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletes: make(map[string]bool, len(deletes)), setAt: e.now()}
	for _, k := range deletes {
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

// Forget drops key, for a controller that no longer exists.
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
