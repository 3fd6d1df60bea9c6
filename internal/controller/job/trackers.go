package job

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// removalTTL bounds how long a finalizer removal is waited for before
// the pod is looked at again as if nothing had been sent.
const removalTTL = 5 * time.Minute

// removals remembers, per Job key, the pods whose tracking finalizer a
// sync removed (and counted) but whose update the informer has not shown
// yet. Without it a lagging cache would count those pods twice.
type removals struct {
	mu   sync.Mutex
	now  func() time.Time
	jobs map[string]map[types.UID]time.Time
}

func newRemovals(now func() time.Time) *removals {
	return &removals{now: now, jobs: map[string]map[types.UID]time.Time{}}
}

// expect records that the finalizer of uid is being removed for key.
func (r *removals) expect(key string, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.jobs[key]
	if m == nil {
		m = map[types.UID]time.Time{}
		r.jobs[key] = m
	}
	m[uid] = r.now()
}

// observed drops uid: the informer shows the pod without the finalizer,
// the pod is gone, or the removal failed.
func (r *removals) observed(key string, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.jobs[key]; m != nil {
		delete(m, uid)
		if len(m) == 0 {
			delete(r.jobs, key)
		}
	}
}

// pending returns the removals of key still in flight.
func (r *removals) pending(key string) map[types.UID]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[types.UID]bool{}
	for uid, at := range r.jobs[key] {
		if r.now().Sub(at) > removalTTL {
			delete(r.jobs[key], uid)
			continue
		}
		out[uid] = true
	}
	return out
}

// forget drops everything about key, for a Job that is gone.
func (r *removals) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.jobs, key)
}

// versions remembers, per Job key, the resourceVersion of the controller's
// last status write, so a sync can tell that the cache is older than what
// it wrote itself. Resource versions are etcd revisions: numbers that
// grow.
type versions struct {
	mu sync.Mutex
	rv map[string]uint64
}

func newVersions() *versions { return &versions{rv: map[string]uint64{}} }

func (v *versions) record(key, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rv[key] = max(v.rv[key], n)
}

// newer reports whether the controller wrote a later version of key than
// rv (false when either is unknown or not a number).
func (v *versions) newer(key, rv string) bool {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rv[key] > n
}

func (v *versions) forget(key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.rv, key)
}

// backoffs keeps each Job's BackoffRecord between syncs.
type backoffs struct {
	mu sync.Mutex
	m  map[string]BackoffRecord
}

func newBackoffs() *backoffs { return &backoffs{m: map[string]BackoffRecord{}} }

func (b *backoffs) get(key string) BackoffRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[key]
}

func (b *backoffs) set(key string, r BackoffRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r == (BackoffRecord{}) {
		delete(b.m, key)
		return
	}
	b.m[key] = r
}

func (b *backoffs) forget(key string) { b.set(key, BackoffRecord{}) }
