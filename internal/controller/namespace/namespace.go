// Package namespace is the namespace controller: when a namespace is being
// deleted, it deletes everything in it, then removes the "kubernetes"
// finalizer so that the API server removes the namespace itself.
//
//	Namespace (deletionTimestamp set, spec.finalizers ∋ kubernetes)
//	  → deletecollection of every namespaced resource in it
//	  → wait until nothing is left (NamespaceContentRemaining)
//	  → finalize: spec.finalizers without "kubernetes"
package namespace

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/controller/garbagecollector"
	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs.
const Name = "namespace-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Metadata  metadata.Interface
	Discovery garbagecollector.Discovery
	Informers informers.SharedInformerFactory
	Workers   int
}

// Controller empties and finalizes deleted namespaces.
type Controller struct {
	client   kubernetes.Interface
	meta     metadata.Interface
	disc     garbagecollector.Discovery
	workers  int
	nsLister corelisters.NamespaceLister
	synced   cache.InformerSynced
	queue    ctrlutil.Queue
}

// New wires the controller to the shared informers.
func New(o Options) (*Controller, error) {
	inf := o.Informers.Core().V1().Namespaces()
	c := &Controller{client: o.Client, meta: o.Metadata, disc: o.Discovery, workers: o.Workers,
		nsLister: inf.Lister(), synced: inf.Informer().HasSynced, queue: ctrlutil.NewQueue(Name)}
	enqueue := func(obj any) {
		if ns, ok := ctrlutil.FromTombstone[*corev1.Namespace](obj); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, cur any) { enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("namespace informer: %w", err)
	}
	return c, nil
}

// Run processes deleted namespaces until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns) {
		return nil
	}
	resources, err := c.namespacedResources()
	if err != nil {
		return err
	}
	remaining := 0
	for _, gvr := range resources {
		client := c.meta.Resource(gvr).Namespace(name)
		bg := metav1.DeletePropagationBackground
		err := client.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			return fmt.Errorf("delete %s in %s: %w", gvr, name, err)
		}
		l, err := client.List(ctx, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("list %s in %s: %w", gvr, name, err)
		}
		if l != nil {
			remaining += len(l.Items)
		}
	}
	if remaining > 0 {
		c.queue.AddAfter(name, 2*time.Second)
		return nil
	}
	return c.finalize(ctx, ns)
}

// namespacedResources lists the namespaced resources that can be deleted
// by collection.
func (c *Controller) namespacedResources() ([]schema.GroupVersionResource, error) {
	lists, err := c.disc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if r.Namespaced && hasVerb(r.Verbs, "deletecollection") && hasVerb(r.Verbs, "list") {
				out = append(out, gv.WithResource(r.Name))
			}
		}
	}
	return out, nil
}

func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	next := ns.DeepCopy()
	next.Spec.Finalizers = nil
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			next.Spec.Finalizers = append(next.Spec.Finalizers, f)
		}
	}
	_, err := c.client.CoreV1().Namespaces().Finalize(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func hasFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}
