package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs.
const Name = "serviceaccount-controller"

// DefaultName is the ServiceAccount every namespace gets.
const DefaultName = "default"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Workers   int
}

// Controller ensures the default ServiceAccount of every namespace.
type Controller struct {
	client   kubernetes.Interface
	workers  int
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	nsInf := o.Informers.Core().V1().Namespaces()
	saInf := o.Informers.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   o.Client,
		workers:  o.Workers,
		nsLister: nsInf.Lister(),
		saLister: saInf.Lister(),
		synced:   []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(Name),
	}
	enqueueNS := func(obj any) {
		if ns, ok := ctrlutil.FromTombstone[*corev1.Namespace](obj); ok {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, cur any) { enqueueNS(cur) },
	}); err != nil {
		return nil, fmt.Errorf("namespace informer: %w", err)
	}
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if sa, ok := ctrlutil.FromTombstone[*corev1.ServiceAccount](obj); ok && sa.Name == DefaultName {
				c.queue.Add(sa.Namespace)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("serviceaccount informer: %w", err)
	}
	return c, nil
}

// Run processes namespaces until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

// NeedsDefault reports whether ns should get a default ServiceAccount.
func NeedsDefault(ns *corev1.Namespace, existing *corev1.ServiceAccount) bool {
	terminating := ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
	return !terminating && existing == nil
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sa, err := c.saLister.ServiceAccounts(name).Get(DefaultName)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		sa = nil
	}
	if !NeedsDefault(ns, sa) {
		return nil
	}
	_, err = c.client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: name},
	}, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil
	}
	return fmt.Errorf("create default serviceaccount in %s: %w", name, err)
}
