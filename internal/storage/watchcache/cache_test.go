package watchcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kedge-dev/kedge/internal/storage"
)

// fakeStore is an in-memory Source: a revisioned map whose watches see
// every change under their prefix, and which answers progress requests
// when answerProgress is set.
type fakeStore struct {
	mu             sync.Mutex
	rev            int64
	kvs            map[string]storage.KV
	watches        []*fakeWatch
	answerProgress bool
	progressAsked  atomic.Int64
}

type fakeWatch struct {
	prefix string
	ch     chan storage.Batch
	errc   chan error
}

func newFakeStore() *fakeStore {
	return &fakeStore{rev: 1, kvs: map[string]storage.KV{}, answerProgress: true}
}

func (f *fakeStore) List(ctx context.Context, prefix string, rev, limit int64, startKey string) (storage.ListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev != 0 && rev != f.rev {
		return storage.ListResult{}, storage.ErrCompacted // the fake keeps no history
	}
	out := storage.ListResult{Rev: f.rev}
	for k, kv := range f.kvs {
		if strings.HasPrefix(k, prefix) {
			out.Items = append(out.Items, kv)
		}
	}
	slices.SortFunc(out.Items, func(a, b storage.KV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (f *fakeStore) WatchProgress(ctx context.Context, prefix string, fromRev int64) *storage.ProgressWatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWatch{prefix: prefix, ch: make(chan storage.Batch, 1024), errc: make(chan error, 1)}
	f.watches = append(f.watches, w)
	return &storage.ProgressWatch{Batches: w.ch, Err: w.errc, RequestProgress: func() error {
		f.progressAsked.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.answerProgress {
			for _, w := range f.watches {
				w.ch <- storage.Batch{Rev: f.rev}
			}
		}
		return nil
	}}
}

func (f *fakeStore) CurrentRev(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev, nil
}

func (f *fakeStore) watchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watches)
}

// put writes a ConfigMap with labels at key and returns its revision.
func (f *fakeStore) put(key string, labels map[string]string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	name := key[strings.LastIndex(key, "/")+1:]
	raw, _ := json.Marshal(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	prev, had := f.kvs[key]
	kv := storage.KV{Key: key, Value: raw, Rev: f.rev, CreateRev: f.rev}
	if had {
		kv.CreateRev = prev.CreateRev
	}
	f.kvs[key] = kv
	ev := storage.Event{Type: storage.Put, KV: kv, Created: !had}
	if had {
		ev.Prev = &prev
	}
	f.emit(ev)
	return f.rev
}

func (f *fakeStore) del(key string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	prev := f.kvs[key]
	delete(f.kvs, key)
	f.emit(storage.Event{Type: storage.Deleted, KV: storage.KV{Key: key, Rev: f.rev}, Prev: &prev})
	return f.rev
}

// bump moves the revision without a change the watches see (a write of
// another resource).
func (f *fakeStore) bump() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	return f.rev
}

func (f *fakeStore) emit(ev storage.Event) {
	for _, w := range f.watches {
		if strings.HasPrefix(ev.KV.Key, w.prefix) {
			w.ch <- storage.Batch{Events: []storage.Event{ev}, Rev: ev.KV.Rev}
		}
	}
}

// fail ends every watch with err.
func (f *fakeStore) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.watches {
		w.errc <- err
		close(w.ch)
	}
	f.watches = nil
}

type counter struct{ n atomic.Int64 }

func (c *counter) resource() Resource {
	return Resource{Name: "configmaps", Prefix: "/registry/configmaps/", Decode: func(kv storage.KV) (runtime.Object, error) {
		c.n.Add(1)
		var cm corev1.ConfigMap
		if err := json.Unmarshal(kv.Value, &cm); err != nil {
			return nil, err
		}
		cm.ResourceVersion = strconv.FormatInt(kv.Rev, 10)
		return &cm, nil
	}}
}

func newTestCacher(t *testing.T, f *fakeStore, cfg Config) *Cacher {
	c := New(f, cfg)
	t.Cleanup(c.Stop)
	return c
}

func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, ok := w.Next(ctx)
	if !ok {
		t.Fatalf("no event (watcher error %v)", w.Err())
	}
	return ev
}

func describe(ev Event) string {
	if ev.Object == nil {
		return fmt.Sprintf("%s@%d", ev.Type, ev.Rev)
	}
	m := ev.Object.Object().(*corev1.ConfigMap)
	return fmt.Sprintf("%s %s@%s", ev.Type, m.Name, m.ResourceVersion)
}

func expect(t *testing.T, w *Watcher, want ...string) {
	t.Helper()
	for _, wnt := range want {
		if got := describe(next(t, w)); got != wnt {
			t.Fatalf("got %s, want %s", got, wnt)
		}
	}
	if ev, ok := w.TryNext(); ok {
		t.Fatalf("unexpected %s", describe(ev))
	}
}

func TestWatchersShareOneEtcdWatchAndOneDecode(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	var ws []*Watcher
	for range 20 {
		w, err := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	if n := f.watchCount(); n != 1 {
		t.Fatalf("%d etcd watches for 20 watchers, want 1", n)
	}
	r1 := f.put("/registry/configmaps/ns/a", nil)
	r2 := f.put("/registry/configmaps/ns/a", map[string]string{"x": "y"})
	r3 := f.del("/registry/configmaps/ns/a")
	for _, w := range ws {
		expect(t, w, fmt.Sprintf("ADDED a@%d", r1), fmt.Sprintf("MODIFIED a@%d", r2), fmt.Sprintf("DELETED a@%d", r3))
	}
	if n := decodes.n.Load(); n != 2 {
		t.Errorf("%d decodes for 2 puts seen by 20 watchers, want 2", n)
	}
}

func TestEventJSONIsEncodedOnceAndShared(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	w1, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	w2, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	f.put("/registry/configmaps/ns/a", nil)
	e1, e2 := next(t, w1), next(t, w2)
	j1, err := e1.Object.JSON()
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := e2.Object.JSON()
	if &j1[0] != &j2[0] {
		t.Error("each watcher encoded the event again")
	}
	if !strings.Contains(string(j1), `"name":"a"`) {
		t.Errorf("JSON: %s", j1)
	}
}

func TestSelectorTranslation(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	red := func(obj runtime.Object) bool { return obj.(*corev1.ConfigMap).Labels["color"] == "red" }
	w, err := c.Watch(ctx, decodes.resource(), from, WatchOptions{Filter: red})
	if err != nil {
		t.Fatal(err)
	}
	key := "/registry/configmaps/ns/a"
	f.put(key, nil)                                               // not matching: nothing
	r2 := f.put(key, map[string]string{"color": "red"})           // starts matching: ADDED
	r3 := f.put(key, map[string]string{"color": "red", "v": "2"}) // MODIFIED
	r4 := f.put(key, map[string]string{"color": "blue"})          // stops matching: DELETED with the new object
	r5 := f.put(key, map[string]string{"color": "red"})           // ADDED
	r6 := f.del(key)                                              // DELETED with the last state at the deletion
	expect(t, w,
		fmt.Sprintf("ADDED a@%d", r2), fmt.Sprintf("MODIFIED a@%d", r3), fmt.Sprintf("DELETED a@%d", r4),
		fmt.Sprintf("ADDED a@%d", r5), fmt.Sprintf("DELETED a@%d", r6))
}

func TestNamespacePrefix(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	w, err := c.Watch(ctx, decodes.resource(), from, WatchOptions{Prefix: "/registry/configmaps/one/"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.put("/registry/configmaps/one/a", nil)
	f.put("/registry/configmaps/other/b", nil)
	f.put("/registry/configmaps/onex/c", nil)
	expect(t, w, fmt.Sprintf("ADDED a@%d", r))
}

func TestResumeInsideTheWindowAndTooOld(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{Capacity: 4})
	var decodes counter
	ctx := context.Background()
	start, _ := f.CurrentRev(ctx)
	if _, err := c.Watch(ctx, decodes.resource(), start, WatchOptions{}); err != nil { // starts the cache
		t.Fatal(err)
	}
	var revs []int64
	for i := range 6 {
		revs = append(revs, f.put(fmt.Sprintf("/registry/configmaps/ns/o%d", i), nil))
	}
	waitRev(t, c, decodes.resource(), revs[5])

	w, err := c.Watch(ctx, decodes.resource(), revs[3], WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, w, fmt.Sprintf("ADDED o4@%d", revs[4]), fmt.Sprintf("ADDED o5@%d", revs[5]))

	// The ring holds revs[2..5]: a watch may resume from revs[1] on.
	if _, err := c.Watch(ctx, decodes.resource(), revs[1], WatchOptions{}); err != nil {
		t.Fatalf("from the window's start: %v", err)
	}
	_, err = c.Watch(ctx, decodes.resource(), revs[0], WatchOptions{})
	var tooOld *TooOldError
	if !errors.As(err, &tooOld) || tooOld.Requested != revs[0] || tooOld.Oldest != revs[1] {
		t.Fatalf("want too old (%d, %d), got %v", revs[0], revs[1], err)
	}
	if tooOld.Error() != fmt.Sprintf("too old resource version: %d (%d)", revs[0], revs[1]) {
		t.Errorf("message: %s", tooOld.Error())
	}
}

func waitRev(t *testing.T, c *Cacher, r Resource, rev int64) {
	t.Helper()
	if _, got, err := c.List(context.Background(), r, rev, ""); err != nil || got < rev {
		t.Fatalf("cache at %d, want %d: %v", got, rev, err)
	}
}

func TestSlowWatcherIsClosedAndOthersGoOn(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{WatcherQueue: 2, DispatchTimeout: 10 * time.Millisecond})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	slow, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	fast, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	got := make(chan int)
	go func() {
		n := 0
		for n < 20 {
			if _, ok := fast.Next(ctx); !ok {
				break
			}
			n++
		}
		got <- n
	}()
	start := time.Now()
	for i := range 20 {
		f.put(fmt.Sprintf("/registry/configmaps/ns/o%d", i), nil)
	}
	if n := <-got; n != 20 {
		t.Fatalf("fast watcher got %d events, want 20 (error %v)", n, fast.Err())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the slow watcher held the others back for %s", d)
	}
	// The slow one gets what fit in its queue, then the end.
	for {
		if _, ok := slow.Next(ctx); !ok {
			break
		}
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("slow watcher error %v, want ErrSlow", slow.Err())
	}
}

func TestBookmarks(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{BookmarkInterval: 20 * time.Millisecond})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	with, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{Bookmarks: true})
	without, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	r := f.put("/registry/configmaps/ns/a", nil)
	other := f.bump() // another resource moves etcd's revision
	expect(t, without, fmt.Sprintf("ADDED a@%d", r))
	if got := describe(next(t, with)); got != fmt.Sprintf("ADDED a@%d", r) {
		t.Fatalf("got %s", got)
	}
	for {
		ev := next(t, with)
		if ev.Type != watch.Bookmark {
			t.Fatalf("got %s, want a bookmark", describe(ev))
		}
		if ev.Rev == other {
			break // progress notifications carried the bookmark to etcd's revision
		}
	}
	if ev, ok := without.TryNext(); ok {
		t.Fatalf("a watcher without bookmarks got %s", describe(ev))
	}
}

func TestConsistentReadWaitsForProgress(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{FreshTimeout: 200 * time.Millisecond})
	var decodes counter
	ctx := context.Background()
	f.put("/registry/configmaps/ns/a", nil)
	if _, _, err := c.List(ctx, decodes.resource(), 0, ""); err != nil {
		t.Fatal(err)
	}
	r := f.bump()
	objs, rev, err := c.List(ctx, decodes.resource(), Latest, "")
	if err != nil || rev < r || len(objs) != 1 {
		t.Fatalf("consistent list: %v at %d (want ≥ %d), %d objects", err, rev, r, len(objs))
	}
	if f.progressAsked.Load() == 0 {
		t.Error("the cache caught up without asking etcd for progress")
	}

	f.mu.Lock()
	f.answerProgress = false
	f.mu.Unlock()
	f.bump()
	if _, _, err := c.List(ctx, decodes.resource(), Latest, ""); !errors.Is(err, ErrNotFresh) {
		t.Fatalf("without progress: want ErrNotFresh, got %v", err)
	}
	// A read at any revision does not wait.
	if _, _, err := c.List(ctx, decodes.resource(), 0, ""); err != nil {
		t.Fatal(err)
	}
}

func TestWatchWithState(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	f.put("/registry/configmaps/ns/b", map[string]string{"color": "red"})
	f.put("/registry/configmaps/ns/a", map[string]string{"color": "red"})
	f.put("/registry/configmaps/ns/c", nil)
	f.put("/registry/configmaps/other/d", map[string]string{"color": "red"})
	red := func(obj runtime.Object) bool { return obj.(*corev1.ConfigMap).Labels["color"] == "red" }
	objs, w, rev, err := c.WatchWithState(ctx, decodes.resource(), Latest, WatchOptions{Prefix: "/registry/configmaps/ns/", Filter: red})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Object().(*corev1.ConfigMap).Name)
	}
	if cur, _ := f.CurrentRev(ctx); rev != cur || strings.Join(names, ",") != "a,b" {
		t.Fatalf("state %v at %d", names, rev)
	}
	r := f.put("/registry/configmaps/ns/c", map[string]string{"color": "red"})
	expect(t, w, fmt.Sprintf("ADDED c@%d", r))
}

func TestFailedCacheClosesWatchersAndRestarts(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	w, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	f.fail(storage.ErrCompacted)
	if _, ok := w.Next(ctx); ok || !errors.Is(w.Err(), storage.ErrCompacted) {
		t.Fatalf("watcher after a failed etcd watch: error %v", w.Err())
	}
	// The next request starts a new cache, at the current revision.
	r := f.put("/registry/configmaps/ns/a", nil)
	w2, err := c.Watch(ctx, decodes.resource(), r, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2 := f.put("/registry/configmaps/ns/a", map[string]string{"v": "2"})
	expect(t, w2, fmt.Sprintf("MODIFIED a@%d", r2))
	if n := f.watchCount(); n != 1 {
		t.Fatalf("%d etcd watches after the restart, want 1", n)
	}
}

func TestStoppedWatcherLeavesTheCache(t *testing.T) {
	f := newFakeStore()
	c := newTestCacher(t, f, Config{WatcherQueue: 1, DispatchTimeout: time.Hour})
	var decodes counter
	ctx := context.Background()
	from, _ := f.CurrentRev(ctx)
	gone, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	live, _ := c.Watch(ctx, decodes.resource(), from, WatchOptions{})
	gone.Stop()
	// With an hour of dispatch timeout, a stopped watcher that still
	// counted would stall the second event.
	r1 := f.put("/registry/configmaps/ns/a", nil)
	r2 := f.put("/registry/configmaps/ns/b", nil)
	expect(t, live, fmt.Sprintf("ADDED a@%d", r1), fmt.Sprintf("ADDED b@%d", r2))
}
