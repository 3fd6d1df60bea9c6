package garbagecollector

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

const (
	ownerIndex = "owner-uid"
	uidIndex   = "uid"
)

// ignored resources are never watched: too many, never owners or dependents.
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// Discovery lists the served resources, preferred version of each group;
// a discovery.DiscoveryInterface is one.
type Discovery interface {
	ServerPreferredResources() ([]*metav1.APIResourceList, error)
}

// resource is a served resource and whether it is namespaced.
type resource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

type monitor struct {
	res      resource
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
}

// monitors keeps one metadata informer per deletable, listable, watchable
// resource the server serves, and a kind → resource map for owner lookups.
type monitors struct {
	meta   metadata.Interface
	disc   Discovery
	events func(res resource) cache.ResourceEventHandler

	mu    sync.RWMutex
	byGVR map[schema.GroupVersionResource]*monitor
	kinds map[schema.GroupKind]resource
}

func indexers() cache.Indexers {
	return cache.Indexers{
		ownerIndex: func(obj any) ([]string, error) {
			m, ok := obj.(metav1.Object)
			if !ok {
				return nil, nil
			}
			var out []string
			for _, r := range m.GetOwnerReferences() {
				out = append(out, string(r.UID))
			}
			return out, nil
		},
		uidIndex: func(obj any) ([]string, error) {
			if m, ok := obj.(metav1.Object); ok {
				return []string{string(m.GetUID())}, nil
			}
			return nil, nil
		},
	}
}

// sync reconciles the set of monitors with discovery: new resources (CRDs)
// get a monitor, vanished ones lose theirs. Groups whose discovery failed
// keep their monitors.
func (m *monitors) sync(ctx context.Context) error {
	lists, err := m.disc.ServerPreferredResources()
	var failed map[schema.GroupVersion]error
	if err != nil {
		var gdf *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &gdf) || len(lists) == 0 {
			return err
		}
		failed = gdf.Groups
	}
	kinds := map[schema.GroupKind]resource{}
	want := map[schema.GroupVersionResource]resource{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			res := resource{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced}
			if has(r.Verbs, "get") {
				kinds[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = res
			}
			if has(r.Verbs, "list") && has(r.Verbs, "watch") && has(r.Verbs, "delete") && !ignored[res.gvr.GroupResource()] {
				want[res.gvr] = res
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for gk, res := range m.kinds {
		if _, ok := kinds[gk]; !ok && failed[res.gvr.GroupVersion()] != nil {
			kinds[gk] = res
		}
	}
	m.kinds = kinds
	for gvr, mon := range m.byGVR {
		if _, ok := want[gvr]; ok || failed[gvr.GroupVersion()] != nil {
			continue
		}
		slog.Info("garbage collector stops watching", "resource", gvr.String())
		mon.cancel()
		delete(m.byGVR, gvr)
	}
	for gvr, res := range want {
		if _, ok := m.byGVR[gvr]; ok {
			continue
		}
		inf := metadatainformer.NewFilteredMetadataInformer(m.meta, gvr, metav1.NamespaceAll, 0, indexers(), nil).Informer()
		if _, err := inf.AddEventHandler(m.events(res)); err != nil {
			return err
		}
		mctx, cancel := context.WithCancel(ctx)
		go inf.RunWithContext(mctx)
		m.byGVR[gvr] = &monitor{res: res, informer: inf, cancel: cancel}
	}
	return nil
}

func has(verbs metav1.Verbs, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// synced reports whether every monitor has listed its resource.
func (m *monitors) synced() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.byGVR) == 0 {
		return false
	}
	for _, mon := range m.byGVR {
		if !mon.informer.HasSynced() {
			return false
		}
	}
	return true
}

func (m *monitors) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for gvr, mon := range m.byGVR {
		mon.cancel()
		delete(m.byGVR, gvr)
	}
}

// resourceFor maps an owner reference's apiVersion and kind to the served
// resource.
func (m *monitors) resourceFor(apiVersion, kind string) (resource, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return resource{}, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	res, ok := m.kinds[schema.GroupKind{Group: gv.Group, Kind: kind}]
	return res, ok
}

// cachedObject is an object in some monitor's cache.
type cachedObject struct {
	res resource
	obj *metav1.PartialObjectMetadata
}

func (m *monitors) byIndex(index, value string) []cachedObject {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []cachedObject
	for _, mon := range m.byGVR {
		objs, err := mon.informer.GetIndexer().ByIndex(index, value)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if p, ok := o.(*metav1.PartialObjectMetadata); ok {
				out = append(out, cachedObject{res: mon.res, obj: p})
			}
		}
	}
	return out
}

// dependents returns the cached objects with an owner reference to uid.
func (m *monitors) dependents(uid types.UID) []cachedObject {
	return m.byIndex(ownerIndex, string(uid))
}

// lookup returns the cached object with that uid, if any monitor has it.
func (m *monitors) lookup(uid types.UID) (cachedObject, bool) {
	objs := m.byIndex(uidIndex, string(uid))
	if len(objs) == 0 {
		return cachedObject{}, false
	}
	return objs[0], true
}

// each calls fn for every cached object.
func (m *monitors) each(fn func(cachedObject)) {
	m.mu.RLock()
	var mons []*monitor
	for _, mon := range m.byGVR {
		mons = append(mons, mon)
	}
	m.mu.RUnlock()
	for _, mon := range mons {
		for _, o := range mon.informer.GetStore().List() {
			if p, ok := o.(*metav1.PartialObjectMetadata); ok {
				fn(cachedObject{res: mon.res, obj: p})
			}
		}
	}
}
