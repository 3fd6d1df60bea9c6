package endpointslice

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs; events use upstream's component
// name EventSource.
const (
	Name        = "endpointslice-controller"
	EventSource = "endpoint-slice-controller"
)

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
}

// Controller publishes the endpoints of Services with a selector as
// EndpointSlices.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int

	svcLister   corelisters.ServiceLister
	podLister   corelisters.PodLister
	nodeLister  corelisters.NodeLister
	sliceLister discoverylisters.EndpointSliceLister
	synced      []cache.InformerSynced
	queue       ctrlutil.Queue
	triggers    *ctrlutil.TriggerTimes
	tracker     *tracker
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	svcInf := o.Informers.Core().V1().Services()
	podInf := o.Informers.Core().V1().Pods()
	nodeInf := o.Informers.Core().V1().Nodes()
	sliceInf := o.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:      o.Client,
		recorder:    o.Recorder,
		workers:     o.Workers,
		svcLister:   svcInf.Lister(),
		podLister:   podInf.Lister(),
		nodeLister:  nodeInf.Lister(),
		sliceLister: sliceInf.Lister(),
		synced: []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced},
		queue:    ctrlutil.NewQueue(Name),
		triggers: ctrlutil.NewTriggerTimes(),
		tracker:  newTracker(),
	}
	enqueue := ctrlutil.Enqueue(c.queue)
	sliceChanged := func(obj any) {
		if s, ok := ctrlutil.FromTombstone[*discoveryv1.EndpointSlice](obj); ok && s.Labels[ManagedByLabel] == ManagedByValue {
			if svc := s.Labels[ServiceNameLabel]; svc != "" {
				c.queue.Add(s.Namespace + "/" + svc)
			}
		}
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, cur any) { enqueue(cur) }, DeleteFunc: enqueue}},
		{podInf.Informer(), ctrlutil.ServicePodHandler(c.svcLister, c.queue.Add)},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    sliceChanged,
			UpdateFunc: func(_, cur any) { sliceChanged(cur) },
			DeleteFunc: func(obj any) {
				if s, ok := ctrlutil.FromTombstone[*discoveryv1.EndpointSlice](obj); ok {
					c.tracker.Gone(s.Namespace+"/"+s.Labels[ServiceNameLabel], s.UID)
				}
				sliceChanged(obj)
			},
		}},
	} {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpointslice controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run processes Services until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

// errStale asks for a retry once the informer has caught up with our writes.
var errStale = errors.New("endpointslice cache is older than this controller's last writes")

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	slices, err := c.sliceLister.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		ServiceNameLabel: name,
		ManagedByLabel:   ManagedByValue,
	}))
	if err != nil {
		return err
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector would remove them too (they are owned by
		// the Service); doing it here makes Service deletion visible to
		// proxies at once.
		c.triggers.Forget(key)
		c.tracker.Forget(key)
		return c.write(ctx, key, nil, Changes{Delete: slices})
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	if c.tracker.Stale(key, slices) {
		return errStale
	}
	pods, err := c.podLister.Pods(ns).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	in := Input{
		Service:     svc,
		Pods:        pods,
		NodeZones:   c.zones(),
		Existing:    slices,
		TriggerTime: c.triggers.Compute(key, svc, pods),
	}
	changes := Reconcile(in)
	if changes.Empty() {
		return nil
	}
	if err := c.write(ctx, key, svc, changes); err != nil {
		// A conflict means the informer cache was behind a write already
		// made; upstream treats a stale cache as no failure worth an event.
		// The key is retried either way.
		if !apierrors.IsConflict(err) {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
				"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		}
		return err
	}
	return nil
}

func (c *Controller) zones() map[string]string {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return nil
	}
	z := map[string]string{}
	for _, n := range nodes {
		if v := n.Labels[corev1.LabelTopologyZone]; v != "" {
			z[n.Name] = v
		}
	}
	return z
}

// write creates first, then updates, then deletes, so endpoints that move
// between slices are never missing from all of them.
func (c *Controller) write(ctx context.Context, key string, svc *corev1.Service, ch Changes) error {
	api := c.client.DiscoveryV1().EndpointSlices
	var errs []error
	for _, s := range ch.Create {
		got, err := api(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			errs = append(errs, fmt.Errorf("create endpointslice for %s: %w", key, err))
			continue
		}
		c.tracker.Wrote(key, got)
	}
	for _, s := range ch.Update {
		got, err := api(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		c.tracker.Wrote(key, got)
	}
	for _, s := range ch.Delete {
		err := api(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		if svc != nil {
			c.tracker.Deleted(key, s.UID)
		}
	}
	return errors.Join(errs...)
}
