package endpointslice

import (
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// deleted marks a slice the controller deleted.
const deleted = -1

// tracker remembers the slices this controller wrote and the generation
// each write produced, per Service. Until the informer shows them, the
// cache is stale for that Service and a sync could create duplicates or
// undo its own writes, so the sync waits instead.
type tracker struct {
	mu     sync.Mutex
	expect map[string]map[types.UID]int64
}

func newTracker() *tracker { return &tracker{expect: map[string]map[types.UID]int64{}} }

// Wrote records a create or update the server acknowledged.
func (t *tracker) Wrote(svcKey string, s *discoveryv1.EndpointSlice) {
	t.set(svcKey, s.UID, s.Generation)
}

// Deleted records a delete the server acknowledged.
func (t *tracker) Deleted(svcKey string, uid types.UID) { t.set(svcKey, uid, deleted) }

func (t *tracker) set(svcKey string, uid types.UID, gen int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expect[svcKey]
	if m == nil {
		m = map[types.UID]int64{}
		t.expect[svcKey] = m
	}
	m[uid] = gen
}

// Stale reports whether the cached slices of a Service lag behind this
// controller's own writes; satisfied expectations are dropped.
func (t *tracker) Stale(svcKey string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	byUID := map[types.UID]*discoveryv1.EndpointSlice{}
	for _, s := range cached {
		byUID[s.UID] = s
	}
	stale := false
	for uid, gen := range t.expect[svcKey] {
		s, ok := byUID[uid]
		switch {
		case gen == deleted && ok, gen != deleted && (!ok || s.Generation < gen):
			stale = true
		default:
			delete(t.expect[svcKey], uid)
		}
	}
	if len(t.expect[svcKey]) == 0 {
		delete(t.expect, svcKey)
	}
	return stale
}

// Gone forgets a slice the informer reported deleted, whoever deleted it.
func (t *tracker) Gone(svcKey string, uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expect[svcKey], uid)
}

// Forget drops everything about a Service.
func (t *tracker) Forget(svcKey string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expect, svcKey)
}
