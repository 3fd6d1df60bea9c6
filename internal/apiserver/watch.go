package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/storage"
	"github.com/kedge-dev/kedge/internal/storage/watchcache"
)

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watcher encodes events for one watch request.
type watcher struct {
	s       *Server
	res     *registry.Resource
	as      accept
	w       http.ResponseWriter
	flusher http.Flusher
	sel     selection
	columns bool // table columns were sent
}

func (wt *watcher) send(typ string, obj runtime.Object) error {
	var raw []byte
	var err error
	switch wt.as.as {
	case outTable:
		t := wt.s.table(wt.res, []runtime.Object{obj}, "", nil, includeMetadata)
		if wt.columns {
			t.ColumnDefinitions = nil
		}
		wt.columns = true
		raw, err = json.Marshal(t)
	case outMetadata:
		raw, err = json.Marshal(partial(obj))
	default:
		raw, err = wt.s.codec.encode(wt.res, obj)
	}
	if err != nil {
		return err
	}
	return wt.write(watchEvent{Type: typ, Object: raw})
}

func (wt *watcher) write(ev watchEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := wt.w.Write(append(b, '\n')); err != nil {
		return err
	}
	wt.flusher.Flush()
	return nil
}

func (wt *watcher) sendStatus(err error) {
	var st metav1.Status
	var as apierrors.APIStatus
	if errors.As(err, &as) {
		st = as.Status()
	} else {
		st = apierrors.NewInternalError(err).ErrStatus
	}
	st.Kind, st.APIVersion = "Status", "v1"
	raw, _ := json.Marshal(st)
	wt.write(watchEvent{Type: "ERROR", Object: raw})
}

func (wt *watcher) bookmark(rev int64, initialEnd bool) error {
	obj := wt.res.New()
	setRV(obj, rev)
	if initialEnd {
		if m, ok := obj.(metav1.Object); ok {
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
	}
	var raw []byte
	var err error
	if wt.as.as == outMetadata {
		raw, err = json.Marshal(partial(obj))
	} else {
		raw, err = wt.s.codec.encode(wt.res, obj)
	}
	if err != nil {
		return err
	}
	return wt.write(watchEvent{Type: "BOOKMARK", Object: raw})
}

// watch streams changes of res in ns. name, when set, restricts the watch to
// one object (the legacy /watch/<resource>/<name> form).
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res *registry.Resource, ns, name string, as accept) {
	q := r.URL.Query()
	if name != "" {
		q.Set("fieldSelector", fields.AndSelectors(fields.OneTermEqualSelector("metadata.name", name), mustFields(q.Get("fieldSelector"))).String())
	}
	sel, err := parseSelection(res, q)
	if err != nil {
		writeError(w, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if v := q.Get("timeoutSeconds"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	rvParam := q.Get("resourceVersion")
	sendInitial := q.Get("sendInitialEvents") == "true"
	if q.Get("sendInitialEvents") != "" && q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
		writeError(w, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", field.ErrorList{
			field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")}))
		return
	}
	initial := sendInitial || rvParam == "" || rvParam == "0"
	var from int64
	if !initial || sendInitial && rvParam != "" && rvParam != "0" {
		n, err := strconv.ParseInt(rvParam, 10, 64)
		if err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %s", rvParam)))
			return
		}
		from = n
	}

	wt := &watcher{s: s, res: res, as: as, w: w, flusher: flusher, sel: sel}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	if s.cache != nil && s.watchCached(ctx, wt, res, ns, q, sendInitial, initial, from) {
		return
	}
	s.watchEtcd(ctx, wt, res, ns, q, sendInitial, initial, from)
}

// cacheResource names res for the watch cache.
func (s *Server) cacheResource(res *registry.Resource) watchcache.Resource {
	return watchcache.Resource{
		Name:   res.GroupVersionResource().GroupResource().String() + "/" + res.GVK.Version,
		Prefix: prefix(res, ""),
		Decode: func(kv storage.KV) (runtime.Object, error) { return s.codec.fromStore(s.current(res), kv) },
	}
}

// watchCached serves a watch from the watch cache. It returns false, having
// written nothing, when the cache cannot serve it (it failed to start, or
// did not catch up with etcd in time): the caller then reads etcd.
func (s *Server) watchCached(ctx context.Context, wt *watcher, res *registry.Resource, ns string, q url.Values, sendInitial, initial bool, from int64) bool {
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	opts := watchcache.WatchOptions{Prefix: prefix(res, ns), Bookmarks: bookmarks}
	if sel := wt.sel; !sel.empty() {
		opts.Filter = func(obj runtime.Object) bool { return sel.matches(res, obj) }
	}
	var cw *watchcache.Watcher
	if initial {
		// Start at any revision for "0"; at least the one asked for with
		// sendInitialEvents; else consistent with etcd now.
		minRev := watchcache.Latest
		switch rv := q.Get("resourceVersion"); {
		case rv == "0":
			minRev = 0
		case sendInitial && rv != "":
			minRev = from
		}
		objs, w, rev, err := s.cache.WatchWithState(ctx, s.cacheResource(res), minRev, opts)
		if err != nil {
			if !errors.Is(err, watchcache.ErrNotFresh) && ctx.Err() == nil {
				slog.Warn("watch cache cannot serve a watch; reading etcd", "resource", res.GroupVersionResource().String(), "err", err)
			}
			return false
		}
		cw = w
		defer cw.Stop()
		for _, o := range objs {
			if err := wt.emit(watchcache.Event{Type: watch.Added, Object: o}); err != nil {
				return true
			}
		}
		if sendInitial && bookmarks {
			if err := wt.bookmark(rev, true); err != nil {
				return true
			}
		}
	} else {
		w, err := s.cache.Watch(ctx, s.cacheResource(res), from, opts)
		var tooOld *watchcache.TooOldError
		if errors.As(err, &tooOld) {
			wt.sendStatus(apierrors.NewResourceExpired(tooOld.Error()))
			return true
		}
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("watch cache cannot serve a watch; reading etcd", "resource", res.GroupVersionResource().String(), "err", err)
			}
			return false
		}
		cw = w
		defer cw.Stop()
	}
	wt.flusher.Flush()
	for {
		ev, ok := cw.Next(ctx)
		// Write whatever is waiting, then flush once.
		for ok {
			if err := wt.emit(ev); err != nil {
				return true
			}
			ev, ok = cw.TryNext()
		}
		wt.flusher.Flush()
		if ctx.Err() != nil || cw.Err() != nil {
			// The watch timed out, the client left, or the cache closed
			// the watcher (it fell behind, or the cache stopped): the
			// client resumes from its last resourceVersion.
			return true
		}
	}
}

// emit writes one cached event without flushing. The object's JSON is
// shared by every watcher that gets it.
func (wt *watcher) emit(ev watchcache.Event) error {
	if ev.Type == watch.Bookmark {
		return wt.bookmark(ev.Rev, false)
	}
	if wt.as.as != outObject {
		// Tables and metadata are built per watcher, from a copy: the
		// cached object is shared.
		return wt.send(string(ev.Type), ev.Object.Object().DeepCopyObject())
	}
	raw, err := ev.Object.JSON()
	if err != nil {
		return err
	}
	line := make([]byte, 0, len(raw)+40)
	line = append(line, `{"type":"`...)
	line = append(line, ev.Type...)
	line = append(line, `","object":`...)
	line = append(line, raw...)
	line = append(line, "}\n"...)
	_, err = wt.w.Write(line)
	return err
}

// watchEtcd serves a watch with an etcd watch of its own.
func (s *Server) watchEtcd(ctx context.Context, wt *watcher, res *registry.Resource, ns string, q url.Values, sendInitial, initial bool, from int64) {
	if initial {
		lq := url.Values{"labelSelector": {q.Get("labelSelector")}, "fieldSelector": {q.Get("fieldSelector")}}
		lr, err := s.listEtcd(ctx, res, ns, lq)
		if err != nil {
			wt.sendStatus(err)
			return
		}
		for _, obj := range lr.items {
			if err := wt.send("ADDED", obj); err != nil {
				return
			}
		}
		from = lr.rev
		if sendInitial && q.Get("allowWatchBookmarks") == "true" {
			if err := wt.bookmark(from, true); err != nil {
				return
			}
		}
	}

	// A gRPC stream of its own: many watches sharing the in-process etcd
	// client's stream deadlock it when a burst of them is cancelled
	// (etcd-io/etcd#20716): every watch on it then stalls for good.
	ctx = metadata.AppendToOutgoingContext(ctx, "kedge-watch", strconv.FormatUint(rand.Uint64(), 36))
	evc, errc := s.store.Watch(ctx, prefix(res, ns), from)
	for {
		select {
		case <-ctx.Done():
			return
		case evs, ok := <-evc:
			if !ok {
				select {
				case err := <-errc:
					if errors.Is(err, storage.ErrCompacted) {
						wt.sendStatus(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", from)))
					} else if err != nil && ctx.Err() == nil {
						wt.sendStatus(err)
					}
				default:
				}
				return
			}
			for _, ev := range evs {
				if err := wt.handle(ev); err != nil {
					return
				}
				from = ev.KV.Rev
			}
		}
	}
}

// handle turns one storage event into at most one watch event, taking the
// selectors into account: an object that stops matching is DELETED for this
// watcher, one that starts matching is ADDED.
func (wt *watcher) handle(ev storage.Event) error {
	var cur, prev runtime.Object
	var err error
	if ev.Type == storage.Put {
		if cur, err = wt.s.codec.fromStore(wt.res, ev.KV); err != nil {
			return nil
		}
	}
	if ev.Prev != nil {
		if prev, err = wt.s.codec.fromStore(wt.res, *ev.Prev); err != nil {
			return nil
		}
	}
	curMatch := cur != nil && wt.sel.matches(wt.res, cur)
	prevMatch := prev != nil && wt.sel.matches(wt.res, prev)
	switch {
	case ev.Type == storage.Deleted:
		if prevMatch {
			setRV(prev, ev.KV.Rev)
			return wt.send("DELETED", prev)
		}
	case curMatch && prevMatch:
		return wt.send("MODIFIED", cur)
	case curMatch:
		return wt.send("ADDED", cur)
	case prevMatch:
		return wt.send("DELETED", cur)
	}
	return nil
}

func mustFields(s string) fields.Selector {
	f, err := fields.ParseSelector(s)
	if err != nil {
		return fields.Everything()
	}
	return f
}
