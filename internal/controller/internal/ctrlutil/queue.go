package ctrlutil

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// MaxRetries is how often a failing key is retried with backoff before it
// is dropped (a later informer event or resync brings it back).
const MaxRetries = 15

// Queue is a rate-limited queue of namespace/name keys.
type Queue = workqueue.TypedRateLimitingInterface[string]

// NewQueue returns a named queue with client-go's default controller rate
// limiter (per-item exponential backoff plus an overall token bucket).
func NewQueue(name string) Queue { return NewTypedQueue[string](name) }

// NewTypedQueue is NewQueue for keys of any comparable type.
func NewTypedQueue[T comparable](name string) workqueue.TypedRateLimitingInterface[T] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[T](),
		workqueue.TypedRateLimitingQueueConfig[T]{Name: name},
	)
}

// SyncFunc reconciles one key.
type SyncFunc[T comparable] func(ctx context.Context, key T) error

// RunWorkers waits for the informer caches, then runs `workers` goroutines
// calling syncFn for each key until ctx is cancelled. It shuts the queue down
// and returns once every worker has stopped.
func RunWorkers(ctx context.Context, name string, q Queue, workers int, syncFn SyncFunc[string], synced ...cache.InformerSynced) error {
	defer q.ShutDown()
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		return nil // cancelled before the caches synced
	}
	RunQueue(ctx, name, q, workers, syncFn)
	return nil
}

// RunQueue runs the worker goroutines without waiting for caches; it returns
// when ctx is cancelled and all workers are done.
func RunQueue[T comparable](ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[T], workers int, syncFn SyncFunc[T]) {
	if workers < 1 {
		workers = 1
	}
	slog.Info("starting controller", "controller", name, "workers", workers)
	defer slog.Info("stopped controller", "controller", name)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, name, q, syncFn) {
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func processNext[T comparable](ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[T], syncFn SyncFunc[T]) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	start := time.Now()
	err := syncFn(ctx, key)
	switch {
	case err == nil:
		q.Forget(key)
	case ctx.Err() != nil:
		q.Forget(key)
	case q.NumRequeues(key) < MaxRetries:
		slog.Debug("sync failed, retrying", "controller", name, "key", key, "err", err)
		q.AddRateLimited(key)
	default:
		slog.Warn("sync failed, dropping key", "controller", name, "key", key, "err", err)
		q.Forget(key)
	}
	if d := time.Since(start); d > time.Second {
		slog.Debug("slow sync", "controller", name, "key", key, "duration", d)
	}
	return true
}

// Enqueue returns an event handler function that adds an object's key to q.
func Enqueue(q Queue) func(obj any) {
	return func(obj any) {
		if key, ok := Key(obj); ok {
			q.Add(key)
		}
	}
}

// EnqueueHandler returns event handlers that add the key of every added,
// updated and deleted object to q: the usual handler of a controller's
// own kind.
func EnqueueHandler(q Queue) cache.ResourceEventHandlerFuncs {
	enqueue := Enqueue(q)
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
		DeleteFunc: enqueue,
	}
}

// Key returns the namespace/name key of an informer object, including the
// tombstones informers hand to delete handlers.
func Key(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return "", false
	}
	return key, true
}

// FromTombstone unwraps the object of a delete notification, which may be
// a cache.DeletedFinalStateUnknown when the watch missed the delete.
func FromTombstone[T any](obj any) (T, bool) {
	if t, ok := obj.(T); ok {
		return t, true
	}
	if ts, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		t, ok := ts.Obj.(T)
		return t, ok
	}
	var zero T
	return zero, false
}
