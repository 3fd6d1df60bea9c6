package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kedge-dev/kedge/internal/registry"
	"github.com/kedge-dev/kedge/internal/storage"
	"github.com/kedge-dev/kedge/internal/storage/watchcache"
)

// selection is a label and field selector pair.
type selection struct {
	labels labels.Selector
	fields fields.Selector
}

func (sel selection) empty() bool { return sel.labels.Empty() && sel.fields.Empty() }

// parseSelection reads labelSelector and fieldSelector; a field a resource
// cannot select on is a 400 as upstream.
func parseSelection(res *registry.Resource, q url.Values) (selection, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return selection{}, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return selection{}, apierrors.NewBadRequest(err.Error())
	}
	supported := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	if res.Fields != nil {
		for k := range res.Fields(res.New()) {
			supported[k] = true
		}
	}
	for _, req := range fs.Requirements() {
		if !supported[req.Field] {
			if res.Fields == nil {
				// Kinds without field selectors of their own word it as upstream's default does.
				return selection{}, apierrors.NewBadRequest(fmt.Sprintf("%q is not a known field selector: only %q, %q", req.Field, "metadata.name", "metadata.namespace"))
			}
			return selection{}, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
		}
	}
	return selection{labels: ls, fields: fs}, nil
}

func (sel selection) matches(res *registry.Resource, obj runtime.Object) bool {
	if sel.empty() {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if !sel.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if sel.fields.Empty() {
		return true
	}
	set := fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
	if res.Fields != nil {
		for k, v := range res.Fields(obj) {
			set[k] = v
		}
	}
	return sel.fields.Matches(set)
}

// continueToken is the opaque token of the next page, shaped like upstream's.
type continueToken struct {
	APIVersion string `json:"v"`
	RV         int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rev int64, start string) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", RV: rev, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.APIVersion != "meta.k8s.io/v1" || t.RV <= 0 || strings.Contains(t.Start, "..") {
		return t, apierrors.NewBadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	return t, nil
}

// listResult is a page of matching objects.
type listResult struct {
	items     []runtime.Object
	rev       int64
	cont      string
	remaining *int64
}

// list reads the objects of res in ns that match the request's selectors,
// honouring limit/continue and resourceVersion/resourceVersionMatch. The
// first page of a list at any ("0") or the latest ("") resourceVersion comes
// from the watch cache, the latest once the cache has caught up with etcd.
func (s *Server) list(ctx context.Context, res *registry.Resource, ns string, q url.Values) (listResult, error) {
	rv := q.Get("resourceVersion")
	if s.cache == nil || q.Get("continue") != "" || (rv != "" && rv != "0") {
		return s.listEtcd(ctx, res, ns, q)
	}
	sel, err := parseSelection(res, q)
	if err != nil {
		return listResult{}, err
	}
	if _, ok := sel.fields.RequiresExactMatch("metadata.name"); ok && rv == "" {
		return s.listEtcd(ctx, res, ns, q) // one key: etcd reads it as fast
	}
	minRev := watchcache.Latest
	if rv == "0" {
		minRev = 0
	}
	pfx := prefix(res, ns)
	objs, rev, err := s.cache.List(ctx, s.cacheResource(res), minRev, pfx)
	if err != nil {
		if !errors.Is(err, watchcache.ErrNotFresh) && ctx.Err() == nil {
			slog.Warn("watch cache cannot serve a list; reading etcd", "resource", res.GroupVersionResource().String(), "err", err)
		}
		return s.listEtcd(ctx, res, ns, q)
	}
	limit := listLimit(q)
	out := listResult{rev: rev}
	for i, o := range objs {
		if !sel.matches(res, o.Object()) {
			continue
		}
		// The cached object is shared; the response may change its copy.
		out.items = append(out.items, o.Object().DeepCopyObject())
		if limit > 0 && int64(len(out.items)) == limit && i < len(objs)-1 {
			// The next pages come from etcd at the same revision.
			out.cont = encodeContinue(rev, strings.TrimPrefix(o.Key(), pfx)+"\x00")
			if sel.empty() {
				n := int64(len(objs) - 1 - i)
				out.remaining = &n
			}
			break
		}
	}
	return out, nil
}

func listLimit(q url.Values) int64 {
	limit, _ := strconv.ParseInt(q.Get("limit"), 10, 64)
	return max(limit, 0)
}

// listEtcd is list read from etcd.
func (s *Server) listEtcd(ctx context.Context, res *registry.Resource, ns string, q url.Values) (listResult, error) {
	sel, err := parseSelection(res, q)
	if err != nil {
		return listResult{}, err
	}
	limit := listLimit(q)
	pfx := prefix(res, ns)
	var rev int64
	start := ""
	if c := q.Get("continue"); c != "" {
		t, err := decodeContinue(c)
		if err != nil {
			return listResult{}, err
		}
		rev, start = t.RV, pfx+t.Start
	} else if rv := q.Get("resourceVersion"); rv != "" && rv != "0" && q.Get("resourceVersionMatch") == string(metav1.ResourceVersionMatchExact) {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			return listResult{}, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %s", rv))
		}
		rev = n
	}
	// Single-object name selection reads one key instead of the range.
	if name, ok := sel.fields.RequiresExactMatch("metadata.name"); ok && (ns != "" || !res.Namespaced) && start == "" {
		obj, kv, err := s.get(ctx, res, ns, name)
		out := listResult{}
		if err == nil {
			if sel.matches(res, obj) {
				out.items = append(out.items, obj)
			}
			_ = kv
		} else if !apierrors.IsNotFound(err) {
			return listResult{}, err
		}
		out.rev, err = s.store.CurrentRev(ctx)
		return out, err
	}
	var out listResult
	page := limit
	if page > 0 && !sel.empty() && page < 500 {
		page = 500
	}
	for {
		lr, err := s.store.List(ctx, pfx, rev, page, start)
		if errors.Is(err, storage.ErrCompacted) {
			return listResult{}, apierrors.NewResourceExpired(fmt.Sprintf("The resourceVersion for the provided list is too old."))
		}
		if err != nil {
			return listResult{}, err
		}
		if rev == 0 {
			// etcd's header carries its current revision, also for a read
			// at an older one: only a read at "now" takes it.
			rev = lr.Rev
		}
		out.rev = rev
		for i, kv := range lr.Items {
			obj, err := s.codec.fromStore(res, kv)
			if err != nil {
				return listResult{}, err
			}
			if !sel.matches(res, obj) {
				continue
			}
			out.items = append(out.items, obj)
			if limit > 0 && int64(len(out.items)) == limit {
				if i < len(lr.Items)-1 || lr.More {
					out.cont = encodeContinue(rev, strings.TrimPrefix(kv.Key, pfx)+"\x00")
					if sel.empty() {
						n := lr.Count + int64(len(lr.Items)-1-i)
						out.remaining = &n
					}
				}
				return out, nil
			}
		}
		if !lr.More || len(lr.Items) == 0 {
			return out, nil
		}
		start = lr.Items[len(lr.Items)-1].Key + "\x00"
	}
}
