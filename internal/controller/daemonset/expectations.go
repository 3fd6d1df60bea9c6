package daemonset

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a sync waits for the informer to show
// its own writes before acting anyway (upstream: 5 minutes).
const expectationsTTL = 5 * time.Minute

// expectations remember, per DaemonSet key, the pod creations and
// deletions issued but not yet seen through the informer. While any are
// outstanding the controller only refreshes status, so a lagging cache
// never makes it put two pods on a node.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

type expectation struct {
	adds    int
	deletes map[string]bool // pod keys
	at      time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, items: map[string]*expectation{}}
}

func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.now().Sub(x.at) > expectationsTTL
}

// expect records the creations and deletions a sync is about to issue.
func (e *expectations) expect(key string, adds int, deletes []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletes: make(map[string]bool, len(deletes)), at: e.now()}
	for _, k := range deletes {
		x.deletes[k] = true
	}
	e.items[key] = x
}

// creationObserved counts one creation as seen (or as never coming).
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved marks a pod as gone (or as not going).
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, podKey)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
