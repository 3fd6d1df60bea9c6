package volume

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Kinds of watched objects, worded as upstream's kubelet names them in
// messages.
const (
	kindConfigMap = "configmap"
	kindSecret    = "secret"
)

type objectKey struct {
	kind, namespace, name string
}

// objectWatch is one watch on one named object, shared by the pods that
// reference it.
type objectWatch struct {
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
	pods     map[types.UID]bool
}

// objects keeps a watch open on every ConfigMap and Secret a pod of the
// node references (a list and watch with fieldSelector metadata.name=,
// like upstream's watch-based managers), so volumes can be rendered from
// memory and the pods are told as soon as an object changes. A watch
// ends when no pod references its object any more.
type objects struct {
	client  kubernetes.Interface
	changed func(types.UID)
	ctx     context.Context // bounds every watch

	mu      sync.Mutex
	watches map[objectKey]*objectWatch
	byPod   map[types.UID]map[objectKey]bool
}

func newObjects(ctx context.Context, client kubernetes.Interface, changed func(types.UID)) *objects {
	return &objects{client: client, changed: changed, ctx: ctx,
		watches: map[objectKey]*objectWatch{}, byPod: map[types.UID]map[objectKey]bool{}}
}

// register makes the pod's references exactly keys: new ones are
// watched, dropped ones released.
func (o *objects) register(uid types.UID, keys map[objectKey]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.byPod[uid]
	for k := range keys {
		if old[k] {
			continue
		}
		w := o.watches[k]
		if w == nil {
			w = o.start(k)
			o.watches[k] = w
		}
		w.pods[uid] = true
	}
	for k := range old {
		if !keys[k] {
			o.releaseLocked(uid, k)
		}
	}
	if len(keys) == 0 {
		delete(o.byPod, uid)
	} else {
		o.byPod[uid] = keys
	}
}

// release drops every reference of the pod.
func (o *objects) release(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.byPod[uid] {
		o.releaseLocked(uid, k)
	}
	delete(o.byPod, uid)
}

func (o *objects) releaseLocked(uid types.UID, k objectKey) {
	w := o.watches[k]
	if w == nil {
		return
	}
	delete(w.pods, uid)
	if len(w.pods) == 0 {
		w.cancel()
		delete(o.watches, k)
	}
}

func (o *objects) start(k objectKey) *objectWatch {
	ctx, cancel := context.WithCancel(o.ctx)
	selector := "metadata.name=" + k.name
	var lw cache.ListerWatcher
	var example runtime.Object
	switch k.kind {
	case kindConfigMap:
		c := o.client.CoreV1().ConfigMaps(k.namespace)
		example = &v1.ConfigMap{}
		lw = cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.FieldSelector = selector
				return c.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector = selector
				return c.Watch(ctx, opts)
			},
		}, o.client)
	default:
		c := o.client.CoreV1().Secrets(k.namespace)
		example = &v1.Secret{}
		lw = cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				opts.FieldSelector = selector
				return c.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opts.FieldSelector = selector
				return c.Watch(ctx, opts)
			},
		}, o.client)
	}
	inf := cache.NewSharedIndexInformer(lw, example, 0, cache.Indexers{})
	notify := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if m, ok := obj.(metav1.Object); ok && m.GetName() != k.name {
			return // a server (or fake) that ignored the field selector
		}
		o.notify(k)
	}
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	})
	go inf.RunWithContext(ctx)
	return &objectWatch{informer: inf, cancel: cancel, pods: map[types.UID]bool{}}
}

// notify tells every pod referencing k that it changed.
func (o *objects) notify(k objectKey) {
	o.mu.Lock()
	var uids []types.UID
	if w := o.watches[k]; w != nil {
		for uid := range w.pods {
			uids = append(uids, uid)
		}
	}
	o.mu.Unlock()
	for _, uid := range uids {
		o.changed(uid)
	}
}

// syncTimeout bounds how long a read waits for a new watch's first list.
const syncTimeout = 10 * time.Second

// get returns the watched object, nil when it does not exist. The key
// must be registered.
func (o *objects) get(ctx context.Context, k objectKey) (runtime.Object, error) {
	o.mu.Lock()
	w := o.watches[k]
	o.mu.Unlock()
	if w == nil {
		return nil, fmt.Errorf("%s %s/%s is not registered", k.kind, k.namespace, k.name)
	}
	if !w.informer.HasSynced() {
		ctx, cancel := context.WithTimeout(ctx, syncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(ctx.Done(), w.informer.HasSynced) {
			return nil, fmt.Errorf("failed to sync %s cache: timed out waiting for the condition", k.kind)
		}
	}
	obj, exists, err := w.informer.GetStore().GetByKey(k.namespace + "/" + k.name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	return obj.(runtime.Object), nil
}

func (o *objects) configMap(ctx context.Context, ns, name string) (*v1.ConfigMap, error) {
	obj, err := o.get(ctx, objectKey{kindConfigMap, ns, name})
	if obj == nil || err != nil {
		return nil, err
	}
	return obj.(*v1.ConfigMap), nil
}

func (o *objects) secret(ctx context.Context, ns, name string) (*v1.Secret, error) {
	obj, err := o.get(ctx, objectKey{kindSecret, ns, name})
	if obj == nil || err != nil {
		return nil, err
	}
	return obj.(*v1.Secret), nil
}

// podReferences lists the ConfigMaps and Secrets the pod's volumes
// project.
func podReferences(pod *v1.Pod) map[objectKey]bool {
	out := map[objectKey]bool{}
	ns := pod.Namespace
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			out[objectKey{kindConfigMap, ns, v.ConfigMap.Name}] = true
		case v.Secret != nil:
			out[objectKey{kindSecret, ns, v.Secret.SecretName}] = true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					out[objectKey{kindConfigMap, ns, s.ConfigMap.Name}] = true
				}
				if s.Secret != nil {
					out[objectKey{kindSecret, ns, s.Secret.Name}] = true
				}
			}
		}
	}
	return out
}
