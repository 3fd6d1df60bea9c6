package watchcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kedge-dev/kedge/internal/storage"
)

// Source is the store a cache reads: *storage.Store.
type Source interface {
	List(ctx context.Context, prefix string, rev, limit int64, startKey string) (storage.ListResult, error)
	WatchProgress(ctx context.Context, prefix string, fromRev int64) *storage.ProgressWatch
	CurrentRev(ctx context.Context) (int64, error)
}

// Config tunes the caches. Zero values take the defaults.
type Config struct {
	// Capacity is how many recent events a resource keeps for watches that
	// resume from a revision (default 4096).
	Capacity int
	// WatcherQueue is how many events may wait for one watcher (default 256).
	WatcherQueue int
	// DispatchTimeout is how long the fan-out of a change waits for watchers
	// whose queue is full before closing them (default 100ms).
	DispatchTimeout time.Duration
	// BookmarkInterval is how often watchers that allow bookmarks get one
	// (default 1 minute, as upstream).
	BookmarkInterval time.Duration
	// FreshTimeout is how long a consistent read waits for the cache to
	// catch up with etcd before the caller should read etcd instead
	// (default 3s).
	FreshTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Capacity <= 0 {
		c.Capacity = 4096
	}
	if c.WatcherQueue <= 0 {
		c.WatcherQueue = 256
	}
	if c.DispatchTimeout <= 0 {
		c.DispatchTimeout = 100 * time.Millisecond
	}
	if c.BookmarkInterval <= 0 {
		c.BookmarkInterval = time.Minute
	}
	if c.FreshTimeout <= 0 {
		c.FreshTimeout = 3 * time.Second
	}
	return c
}

// Resource names what a cache holds.
type Resource struct {
	// Name identifies the cache, e.g. the group/version/resource: two served
	// versions of one stored resource have a cache each.
	Name string
	// Prefix is the key prefix of all of the resource's objects.
	Prefix string
	// Decode turns a stored key into the served object, with its
	// resourceVersion set.
	Decode func(storage.KV) (runtime.Object, error)
}

// Latest as a minimum revision asks for a consistent read: the cache must
// have caught up with the etcd revision of the moment of the request.
const Latest int64 = -1

var (
	// ErrNotFresh means the cache did not catch up with the asked revision
	// in time; read etcd instead.
	ErrNotFresh = errors.New("watch cache is not fresh")
	// ErrStopped is why a cache's watchers end when the Cacher stops.
	ErrStopped = errors.New("watch cache stopped")
	// ErrSlow is why a watcher that does not keep up is closed.
	ErrSlow = errors.New("watcher did not keep up with the events")
)

// TooOldError is a watch from a revision the cache no longer holds the
// changes after.
type TooOldError struct {
	Requested, Oldest int64
}

func (e *TooOldError) Error() string {
	return fmt.Sprintf("too old resource version: %d (%d)", e.Requested, e.Oldest)
}

// Object is a decoded object shared by every reader: never modify it.
type Object struct {
	key  string
	obj  runtime.Object
	once sync.Once
	raw  []byte
	err  error
}

// Key is the object's etcd key.
func (o *Object) Key() string { return o.key }

// Object is the decoded object. It is shared: never modify it.
func (o *Object) Object() runtime.Object { return o.obj }

// JSON is the object's JSON, encoded once for all readers.
func (o *Object) JSON() ([]byte, error) {
	o.once.Do(func() { o.raw, o.err = json.Marshal(o.obj) })
	return o.raw, o.err
}

// Event is one event of a watch. Object is nil for a bookmark, whose Rev says
// up to where the watcher has every change.
type Event struct {
	Type   watch.EventType
	Rev    int64
	Object *Object
}

// Cacher holds a cache per resource, started on first use.
type Cacher struct {
	src    Source
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	caches map[string]*cache
}

// New makes a Cacher over src. Stop ends its caches.
func New(src Source, cfg Config) *Cacher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Cacher{src: src, cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel, caches: map[string]*cache{}}
}

// Stop ends every cache; their watchers close with ErrStopped.
func (c *Cacher) Stop() { c.cancel() }

// cacheFor returns the resource's cache, starting it when there is none.
// A new cache starts from revision hint (0: the current one), so that the
// request that starts it can resume from there.
func (c *Cacher) cacheFor(r Resource, hint int64) *cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.caches[r.Name]; ch != nil {
		return ch
	}
	ch := newCache(c, r)
	c.caches[r.Name] = ch
	ctx, stop := context.WithCancel(c.ctx)
	ch.stop = stop
	go ch.run(ctx, hint)
	return ch
}

// Forget stops the cache of a resource, if it has one: its watchers close
// and the next request starts a new cache. A resource whose decoding
// changed (a custom resource whose definition changed) is forgotten so
// that no object decoded the old way is served again.
func (c *Cacher) Forget(name string) {
	c.mu.Lock()
	ch := c.caches[name]
	delete(c.caches, name)
	c.mu.Unlock()
	if ch != nil {
		ch.stop()
	}
}

func (c *Cacher) remove(ch *cache) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caches[ch.res.Name] == ch {
		delete(c.caches, ch.res.Name)
	}
}

// WatchOptions say which events a watcher gets.
type WatchOptions struct {
	// Prefix restricts the watch to keys under it (a namespace); empty is
	// the whole resource.
	Prefix string
	// Filter says whether an object matches the watcher's selectors; nil
	// matches every object.
	Filter func(runtime.Object) bool
	// Bookmarks asks for periodic bookmarks.
	Bookmarks bool
}

// Watch watches the changes after revision from. A revision older than the
// cache's window gives a *TooOldError.
func (c *Cacher) Watch(ctx context.Context, r Resource, from int64, opts WatchOptions) (*Watcher, error) {
	ch := c.cacheFor(r, from)
	if err := ch.waitReady(ctx); err != nil {
		return nil, err
	}
	return ch.watch(from, opts)
}

// WatchWithState returns the objects matching opts at a revision not older
// than minRev (Latest: consistent with etcd now; 0: any) and a watcher of
// the changes after it. ErrNotFresh says the cache did not catch up in time.
func (c *Cacher) WatchWithState(ctx context.Context, r Resource, minRev int64, opts WatchOptions) ([]*Object, *Watcher, int64, error) {
	ch := c.cacheFor(r, 0)
	if err := ch.waitFresh(ctx, minRev); err != nil {
		return nil, nil, 0, err
	}
	return ch.watchWithState(opts)
}

// List returns the objects under prefix at a revision not older than minRev
// (Latest: consistent with etcd now; 0: any), in key order, and that
// revision.
func (c *Cacher) List(ctx context.Context, r Resource, minRev int64, prefix string) ([]*Object, int64, error) {
	ch := c.cacheFor(r, 0)
	if err := ch.waitFresh(ctx, minRev); err != nil {
		return nil, 0, err
	}
	objs, rev := ch.snapshot(prefix, nil)
	return objs, rev, nil
}
