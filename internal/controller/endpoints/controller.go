package endpoints

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs and its event source component.
const Name = "endpoint-controller"

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
}

// Controller keeps one Endpoints object per Service with a selector.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int

	svcLister corelisters.ServiceLister
	podLister corelisters.PodLister
	epLister  corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     ctrlutil.Queue
	triggers  *ctrlutil.TriggerTimes
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	svcInf := o.Informers.Core().V1().Services()
	podInf := o.Informers.Core().V1().Pods()
	epInf := o.Informers.Core().V1().Endpoints()
	c := &Controller{
		client:    o.Client,
		recorder:  o.Recorder,
		workers:   o.Workers,
		svcLister: svcInf.Lister(),
		podLister: podInf.Lister(),
		epLister:  epInf.Lister(),
		synced:    []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced},
		queue:     ctrlutil.NewQueue(Name),
		triggers:  ctrlutil.NewTriggerTimes(),
	}
	enqueue := ctrlutil.Enqueue(c.queue)
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, cur any) { enqueue(cur) }, DeleteFunc: enqueue}},
		{podInf.Informer(), ctrlutil.ServicePodHandler(c.svcLister, c.queue.Add)},
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: enqueue}},
	} {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpoints controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run processes Services until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return nil // cancelled before the caches synced
	}
	c.queueLeftovers()
	ctrlutil.RunQueue(ctx, Name, c.queue, c.workers, c.sync)
	return nil
}

// queueLeftovers queues every existing Endpoints object once, so those
// whose Service was deleted while the controller was down get removed.
func (c *Controller) queueLeftovers() {
	eps, err := c.epLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ep := range eps {
		if _, ok := ep.Annotations[leaderElectionAnnotation]; ok {
			continue
		}
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.triggers.Forget(key)
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		// Endpoints of selector-less Services belong to their users.
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	trigger := c.triggers.Compute(key, svc, pods)
	current, err := c.epLister.Endpoints(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return err
	}
	ep, changed := Build(svc, Subsets(svc, pods), current, trigger)
	if !changed {
		return nil
	}
	if current == nil {
		_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
	} else {
		_, err = c.client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{})
	}
	if err == nil {
		return nil
	}
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	if current == nil {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %v/%v: %v", ns, name, err)
	} else {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %v/%v: %v", ns, name, err)
	}
	return fmt.Errorf("write endpoints %s: %w", key, err)
}
