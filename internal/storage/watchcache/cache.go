package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kedge-dev/kedge/internal/storage"
)

// event is one change of the resource, decoded once.
type event struct {
	key  string
	rev  int64
	cur  *Object // after the change; nil for a deletion
	prev *Object // before the change; nil for a creation
	gone *Object // for a deletion: prev at the deletion's revision
}

// cache is one resource's cache. One goroutine (run) reads etcd and
// writes; readers take mu.
type cache struct {
	cacher *Cacher
	res    Resource
	cfg    Config
	src    Source
	ready  chan struct{} // closed once the first list is in, or the cache failed
	stop   context.CancelFunc

	mu       sync.Mutex
	err      error              // why the cache stopped
	rev      int64              // every change up to rev is in state and ring
	oldest   int64              // a watch may resume from any revision >= oldest
	state    map[string]*Object // the current objects by key
	ring     []*event           // the recent events, oldest at start
	start, n int
	watchers map[*Watcher]struct{}
	revc     chan struct{} // closed (and replaced) when rev moves or the cache stops
	progress func() error  // asks etcd for a progress notification
	asked    time.Time     // when progress was last asked for
	marked   time.Time     // when bookmarks were last sent
}

func newCache(c *Cacher, r Resource) *cache {
	return &cache{
		cacher: c, res: r, cfg: c.cfg, src: c.src,
		ready:    make(chan struct{}),
		state:    map[string]*Object{},
		watchers: map[*Watcher]struct{}{},
		revc:     make(chan struct{}),
		marked:   time.Now(),
	}
}

// run fills the cache and keeps it up to date until its watch fails or the
// Cacher stops; then the cache is dropped and its watchers closed.
func (c *cache) run(ctx context.Context, hint int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pw, err := c.fill(ctx, hint)
	if err != nil {
		if ctx.Err() != nil {
			err = ErrStopped
		}
		c.fail(err)
		return
	}
	tick := time.NewTicker(c.cfg.BookmarkInterval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-pw.Batches:
			if !ok {
				// Without an error the etcd client was closed: the
				// server is stopping.
				err := ErrStopped
				select {
				case e := <-pw.Err:
					err = e
				default:
				}
				c.fail(fmt.Errorf("watch cache of %s: %w", c.res.Name, err))
				return
			}
			c.ingest(b)
		case <-tick.C:
			c.askProgress(false)
		case <-ctx.Done():
			c.fail(ErrStopped)
			return
		}
	}
}

// fill lists the resource (at hint, when it is still there, so that the
// request that started the cache can resume from it) and starts the watch.
func (c *cache) fill(ctx context.Context, hint int64) (*storage.ProgressWatch, error) {
	var lr storage.ListResult
	var err error
	rev := hint
	if hint > 0 {
		lr, err = c.src.List(ctx, c.res.Prefix, hint, 0, "")
	}
	if hint <= 0 || err != nil {
		lr, err = c.src.List(ctx, c.res.Prefix, 0, 0, "")
		rev = lr.Rev
	}
	if err != nil {
		return nil, fmt.Errorf("watch cache of %s: list: %w", c.res.Name, err)
	}
	state := make(map[string]*Object, len(lr.Items))
	for _, kv := range lr.Items {
		obj, err := c.res.Decode(kv)
		if err != nil {
			slog.Warn("watch cache: skipping an object that does not decode", "key", kv.Key, "err", err)
			continue
		}
		state[kv.Key] = &Object{key: kv.Key, obj: obj}
	}
	pw := c.src.WatchProgress(ctx, c.res.Prefix, rev)
	c.mu.Lock()
	c.state, c.rev, c.oldest, c.progress = state, rev, rev, pw.RequestProgress
	c.mu.Unlock()
	close(c.ready)
	return pw, nil
}

// fail stops the cache: new requests start another one, and its watchers
// close (they resume from their last revision, as after any closed watch).
func (c *cache) fail(err error) {
	c.cacher.remove(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if !errors.Is(err, ErrStopped) {
		slog.Warn("watch cache stopped", "resource", c.res.Name, "err", err)
	}
	c.err = err
	for w := range c.watchers {
		w.close(err)
	}
	c.watchers = nil
	c.state, c.ring = nil, nil
	close(c.revc)
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
}

func (c *cache) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// waitFresh waits until the cache has every change up to minRev (Latest:
// the etcd revision now), asking etcd for progress while it waits.
func (c *cache) waitFresh(ctx context.Context, minRev int64) error {
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	if minRev == Latest {
		var err error
		if minRev, err = c.src.CurrentRev(ctx); err != nil {
			return err
		}
	}
	timeout := time.NewTimer(c.cfg.FreshTimeout)
	defer timeout.Stop()
	retry := time.NewTicker(50 * time.Millisecond)
	defer retry.Stop()
	for {
		c.mu.Lock()
		err, rev, moved := c.err, c.rev, c.revc
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if rev >= minRev {
			return nil
		}
		c.askProgress(true)
		select {
		case <-moved:
		case <-retry.C:
		case <-timeout.C:
			return ErrNotFresh
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// askProgress asks etcd to tell every progress watch how far it is. etcd
// drops the request while a watch is catching up, so waiters ask again;
// requests closer than 20ms are merged.
func (c *cache) askProgress(waiting bool) {
	c.mu.Lock()
	if c.progress == nil || c.err != nil || waiting && time.Since(c.asked) < 20*time.Millisecond {
		c.mu.Unlock()
		return
	}
	c.asked = time.Now()
	progress := c.progress
	c.mu.Unlock()
	if err := progress(); err != nil {
		slog.Debug("watch cache: progress request", "resource", c.res.Name, "err", err)
	}
}

// ingest applies one etcd response: decodes the changes (outside the lock:
// only this goroutine writes), records them, and fans them out.
func (c *cache) ingest(b storage.Batch) {
	type decoded struct {
		obj runtime.Object
		err error
	}
	objs := make([]decoded, len(b.Events))
	for i, e := range b.Events {
		if e.Type == storage.Put {
			objs[i].obj, objs[i].err = c.res.Decode(e.KV)
		}
	}
	evs := make([]*event, 0, len(b.Events))
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	for i, e := range b.Events {
		key := e.KV.Key
		ev := &event{key: key, rev: e.KV.Rev, prev: c.state[key]}
		if ev.prev == nil && e.Prev != nil && !e.Created {
			// Not in the state (it did not decode then): try etcd's copy.
			if obj, err := c.res.Decode(*e.Prev); err == nil {
				ev.prev = &Object{key: key, obj: obj}
			}
		}
		switch {
		case e.Type == storage.Deleted:
			delete(c.state, key)
			if ev.prev == nil {
				continue
			}
			gone := ev.prev.obj.DeepCopyObject()
			if m, err := meta.Accessor(gone); err == nil {
				m.SetResourceVersion(fmt.Sprint(ev.rev))
			}
			ev.gone = &Object{key: key, obj: gone}
		case objs[i].err != nil:
			slog.Warn("watch cache: skipping a change that does not decode", "key", key, "err", objs[i].err)
			delete(c.state, key)
			continue
		default:
			ev.cur = &Object{key: key, obj: objs[i].obj}
			c.state[key] = ev.cur
		}
		c.record(ev)
		evs = append(evs, ev)
	}
	moved := b.Rev > c.rev
	if moved {
		c.rev = b.Rev
		close(c.revc)
		c.revc = make(chan struct{})
	}
	var bookmark int64
	// A tenth of slack: the progress asked for on the last tick may come
	// back a little earlier than the one before.
	if time.Since(c.marked) >= c.cfg.BookmarkInterval*9/10 {
		bookmark, c.marked = c.rev, time.Now()
	}
	var ws []*Watcher
	if len(evs) > 0 || bookmark > 0 {
		ws = make([]*Watcher, 0, len(c.watchers))
		for w := range c.watchers {
			ws = append(ws, w)
		}
	}
	c.mu.Unlock()
	c.dispatch(evs, ws, bookmark)
}

// record appends an event to the ring; a full ring forgets its oldest
// event, and the window starts after it.
func (c *cache) record(ev *event) {
	if c.n < len(c.ring) {
		c.ring[(c.start+c.n)%len(c.ring)] = ev
		c.n++
		return
	}
	if len(c.ring) < c.cfg.Capacity {
		grown := make([]*event, min(c.cfg.Capacity, max(16, 2*len(c.ring))))
		for i := range c.n {
			grown[i] = c.ring[(c.start+i)%len(c.ring)]
		}
		c.ring, c.start = grown, 0
		c.ring[c.n] = ev
		c.n++
		return
	}
	c.oldest = c.ring[c.start].rev
	c.ring[c.start] = ev
	c.start = (c.start + 1) % len(c.ring)
}

// since returns the recorded events after rev (call with mu held).
func (c *cache) since(rev int64) []*event {
	at := func(i int) *event { return c.ring[(c.start+i)%len(c.ring)] }
	first := sort.Search(c.n, func(i int) bool { return at(i).rev > rev })
	out := make([]*event, 0, c.n-first)
	for i := first; i < c.n; i++ {
		out = append(out, at(i))
	}
	return out
}

// dispatch hands events (and a bookmark) to watchers. A watcher whose queue
// is full gets the rest of its share after the others, within the dispatch
// timeout; one still full then is closed.
func (c *cache) dispatch(evs []*event, ws []*Watcher, bookmark int64) {
	type behind struct {
		w    *Watcher
		next int // index in evs of the first event not handed over
	}
	var slow []behind
	for _, w := range ws {
		if i, ok := w.offer(evs, 0); !ok {
			slow = append(slow, behind{w, i})
			continue
		}
		if bookmark > w.from && w.bookmarks {
			select {
			case w.input <- Event{Type: watch.Bookmark, Rev: bookmark}:
			default: // a bookmark may be skipped
			}
		}
	}
	if len(slow) == 0 {
		return
	}
	timeout := time.NewTimer(c.cfg.DispatchTimeout)
	defer timeout.Stop()
	expired := false
	for _, s := range slow {
		for i := s.next; i < len(evs); i++ {
			ev, ok := s.w.translate(evs[i])
			if !ok {
				continue
			}
			if expired {
				select {
				case s.w.input <- ev:
					continue
				case <-s.w.done:
				default:
					c.closeSlow(s.w)
				}
				break
			}
			select {
			case s.w.input <- ev:
				continue
			case <-s.w.done:
			case <-timeout.C:
				expired = true
				c.closeSlow(s.w)
			}
			break
		}
	}
}

func (c *cache) closeSlow(w *Watcher) {
	slog.Info("watch cache: closing a watcher that does not keep up", "resource", c.res.Name, "queue", cap(w.input))
	c.mu.Lock()
	delete(c.watchers, w)
	c.mu.Unlock()
	w.close(ErrSlow)
}

// watch registers a watcher of the changes after from.
func (c *cache) watch(from int64, opts WatchOptions) (*Watcher, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	if from < c.oldest {
		oldest := c.oldest
		c.mu.Unlock()
		return nil, &TooOldError{Requested: from, Oldest: oldest}
	}
	backlog := c.since(from)
	w := c.newWatcher(from, opts)
	c.mu.Unlock()
	for _, ev := range backlog {
		if e, ok := w.translate(ev); ok {
			w.backlog = append(w.backlog, e)
		}
	}
	return w, nil
}

// watchWithState registers a watcher at the cache's revision and returns
// the matching objects at it.
func (c *cache) watchWithState(opts WatchOptions) ([]*Object, *Watcher, int64, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, nil, 0, c.err
	}
	objs := c.collect(opts.Prefix)
	w := c.newWatcher(c.rev, opts)
	c.mu.Unlock()
	return order(objs, opts.Filter), w, w.from, nil
}

// snapshot returns the objects under prefix that match filter, in key
// order, and the revision they are at.
func (c *cache) snapshot(prefix string, filter func(runtime.Object) bool) ([]*Object, int64) {
	c.mu.Lock()
	objs, rev := c.collect(prefix), c.rev
	c.mu.Unlock()
	return order(objs, filter), rev
}

// collect copies the state's objects under prefix (call with mu held; the
// objects themselves never change).
func (c *cache) collect(prefix string) []*Object {
	out := make([]*Object, 0, len(c.state))
	for k, o := range c.state {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o)
		}
	}
	return out
}

func order(objs []*Object, filter func(runtime.Object) bool) []*Object {
	if filter != nil {
		objs = slices.DeleteFunc(objs, func(o *Object) bool { return !filter(o.obj) })
	}
	slices.SortFunc(objs, func(a, b *Object) int { return strings.Compare(a.key, b.key) })
	return objs
}

// newWatcher registers a watcher (call with mu held).
func (c *cache) newWatcher(from int64, opts WatchOptions) *Watcher {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = c.res.Prefix
	}
	w := &Watcher{
		cache: c, from: from, prefix: prefix, filter: opts.Filter, bookmarks: opts.Bookmarks,
		input: make(chan Event, c.cfg.WatcherQueue),
		done:  make(chan struct{}),
	}
	c.watchers[w] = struct{}{}
	return w
}

// Watcher is one watch served by a cache.
type Watcher struct {
	cache     *cache
	from      int64
	prefix    string
	filter    func(runtime.Object) bool
	bookmarks bool

	backlog []Event    // events recorded before the watcher started, first
	input   chan Event // events dispatched since
	done    chan struct{}
	once    sync.Once
	err     error // why the cache closed the watcher; set before done closes
}

// Next returns the next event; false when ctx ends or the cache closed the
// watcher (Err says why).
func (w *Watcher) Next(ctx context.Context) (Event, bool) {
	if len(w.backlog) > 0 {
		ev := w.backlog[0]
		w.backlog = w.backlog[1:]
		return ev, true
	}
	select {
	case ev := <-w.input:
		return ev, true
	case <-w.done:
		return Event{}, false
	case <-ctx.Done():
		return Event{}, false
	}
}

// TryNext returns the next event if one is waiting.
func (w *Watcher) TryNext() (Event, bool) {
	if len(w.backlog) > 0 {
		ev := w.backlog[0]
		w.backlog = w.backlog[1:]
		return ev, true
	}
	select {
	case ev := <-w.input:
		return ev, true
	default:
		return Event{}, false
	}
}

// Rev is the revision the watcher started after.
func (w *Watcher) Rev() int64 { return w.from }

// Err says why the cache closed the watcher (ErrSlow, or the cache's
// failure); nil while it runs or after Stop.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Stop unregisters the watcher.
func (w *Watcher) Stop() {
	c := w.cache
	c.mu.Lock()
	delete(c.watchers, w)
	c.mu.Unlock()
	w.close(nil)
}

func (w *Watcher) close(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.done)
	})
}

// offer hands evs[from:] over without waiting; on a full queue it returns
// the index of the event that did not fit.
func (w *Watcher) offer(evs []*event, from int) (int, bool) {
	for i := from; i < len(evs); i++ {
		ev, ok := w.translate(evs[i])
		if !ok {
			continue
		}
		select {
		case w.input <- ev:
		default:
			return i, false
		}
	}
	return len(evs), true
}

// translate turns a change into what this watcher sees, if anything: the
// selector decides between ADDED, MODIFIED and DELETED.
func (w *Watcher) translate(e *event) (Event, bool) {
	if e.rev <= w.from || !strings.HasPrefix(e.key, w.prefix) {
		return Event{}, false
	}
	curMatch := e.cur != nil && w.matches(e.cur)
	prevMatch := e.prev != nil && w.matches(e.prev)
	switch {
	case e.cur == nil:
		if prevMatch {
			return Event{Type: watch.Deleted, Rev: e.rev, Object: e.gone}, true
		}
	case curMatch && prevMatch:
		return Event{Type: watch.Modified, Rev: e.rev, Object: e.cur}, true
	case curMatch:
		return Event{Type: watch.Added, Rev: e.rev, Object: e.cur}, true
	case prevMatch:
		return Event{Type: watch.Deleted, Rev: e.rev, Object: e.cur}, true
	}
	return Event{}, false
}

func (w *Watcher) matches(o *Object) bool { return w.filter == nil || w.filter(o.obj) }
