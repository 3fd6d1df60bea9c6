package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs; events use upstream's component
// name EventSource.
const (
	Name        = "node-lifecycle-controller"
	EventSource = "node-controller"
)

// LeaseNamespace holds the kubelets' heartbeat Leases.
const LeaseNamespace = corev1.NamespaceNodeLease

const nodeNameIndex = "kedge-pod-node-name"

// Options configure a Controller. Zero durations take the defaults.
type Options struct {
	Client             kubernetes.Interface
	Informers          informers.SharedInformerFactory
	Recorder           record.EventRecorder
	Workers            int
	GracePeriod        time.Duration
	StartupGracePeriod time.Duration
	MonitorPeriod      time.Duration
	Now                func() time.Time
}

// Controller watches kubelet heartbeats and keeps node conditions, node
// taints and the readiness of pods on lost nodes honest.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	grace    time.Duration
	startup  time.Duration
	period   time.Duration
	now      func() time.Time

	nodeLister  corelisters.NodeLister
	leaseLister coordlisters.LeaseLister
	podIndex    cache.Indexer
	synced      []cache.InformerSynced
	queue       ctrlutil.Queue
	health      *Health
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.StartupGracePeriod == 0 {
		o.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if o.MonitorPeriod == 0 {
		o.MonitorPeriod = DefaultMonitorPeriod
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	nodeInf := o.Informers.Core().V1().Nodes()
	leaseInf := o.Informers.Coordination().V1().Leases()
	podInf := o.Informers.Core().V1().Pods()
	if err := ctrlutil.EnsureIndex(podInf.Informer(), nodeNameIndex, func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}); err != nil {
		return nil, err
	}
	c := &Controller{
		client:      o.Client,
		recorder:    o.Recorder,
		workers:     o.Workers,
		grace:       o.GracePeriod,
		startup:     o.StartupGracePeriod,
		period:      o.MonitorPeriod,
		now:         o.Now,
		nodeLister:  nodeInf.Lister(),
		leaseLister: leaseInf.Lister(),
		podIndex:    podInf.Informer().GetIndexer(),
		synced:      []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:       ctrlutil.NewQueue(Name),
		health:      NewHealth(),
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			n := obj.(*corev1.Node)
			c.nodeEvent(n, "RegisteredNode", fmt.Sprintf("Registered Node %s in Controller", n.Name))
			c.queue.Add(n.Name)
		},
		UpdateFunc: func(_, cur any) { c.queue.Add(cur.(*corev1.Node).Name) },
		DeleteFunc: func(obj any) {
			if n, ok := ctrlutil.FromTombstone[*corev1.Node](obj); ok {
				c.health.Forget(n.Name)
				c.nodeEvent(n, "RemovingNode", fmt.Sprintf("Removing Node %s from Controller", n.Name))
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("node informer: %w", err)
	}
	return c, nil
}

// nodeEvent records an event worded like upstream's "Node <name> event: ...".
func (c *Controller) nodeEvent(n *corev1.Node, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, reason, "Node %s event: %s", n.Name, event)
}

func (c *Controller) statusEvent(n *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", n.Name, status)
}

// Run checks every node on node events and every monitor period until ctx
// is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return nil // cancelled before the caches synced
	}
	go wait.UntilWithContext(ctx, func(context.Context) {
		nodes, err := c.nodeLister.List(labels.Everything())
		if err != nil {
			return
		}
		for _, n := range nodes {
			c.queue.Add(n.Name)
		}
	}, c.period)
	ctrlutil.RunQueue(ctx, Name, c.queue, c.workers, c.sync)
	return nil
}

func (c *Controller) lease(name string) *coordinationv1.Lease {
	l, err := c.leaseLister.Leases(LeaseNamespace).Get(name)
	if err != nil {
		return nil
	}
	return l
}

func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	now := c.now()
	lastSeen := c.health.Observe(node, c.lease(name), now)
	var errs []error
	if Expired(node, lastSeen, c.grace, c.startup, now) {
		updated, err := c.markUnknown(ctx, name)
		if err != nil {
			errs = append(errs, err)
		} else if updated != nil {
			node = updated
		}
	}
	ready := corev1.ConditionUnknown
	if cnd := nodeCondition(&node.Status, corev1.NodeReady); cnd != nil {
		ready = cnd.Status
	}
	if c.health.ReadyTransition(name, ready) {
		c.statusEvent(node, "NodeNotReady")
	}
	if err := c.syncTaints(ctx, node); err != nil {
		errs = append(errs, err)
	}
	if ready != corev1.ConditionTrue && nodeCondition(&node.Status, corev1.NodeReady) != nil {
		errs = append(errs, c.markPodsNotReady(ctx, name))
	}
	return errors.Join(errs...)
}

// markUnknown writes Unknown conditions for a silent kubelet; it returns
// the updated node, or nil when nothing needed writing.
func (c *Controller) markUnknown(ctx context.Context, name string) (*corev1.Node, error) {
	var out *corev1.Node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, changed := MarkUnknown(n, c.now())
		if !changed {
			out = n
			return nil
		}
		n.Status.Conditions = conds
		out, err = c.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if err == nil {
			slog.Info("node stopped posting status", "node", name)
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mark node %s unknown: %w", name, err)
	}
	return out, nil
}

// syncTaints brings the node's lifecycle taints in line with its
// conditions; known is the freshest copy the caller has.
func (c *Controller) syncTaints(ctx context.Context, known *corev1.Node) error {
	name := known.Name
	if _, changed := Taints(known, c.now()); !changed {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints, changed := Taints(n, c.now())
		if !changed {
			return nil
		}
		n.Spec.Taints = taints
		_, err = c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update taints of node %s: %w", name, err)
	}
	return nil
}

// markPodsNotReady sets Ready=False on the pods of a node that is not
// Ready, as upstream does, with a NodeNotReady event on each pod.
func (c *Controller) markPodsNotReady(ctx context.Context, name string) error {
	objs, err := c.podIndex.ByIndex(nodeNameIndex, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		st := MarkPodNotReady(pod, c.now())
		if st == nil {
			continue
		}
		cp := pod.DeepCopy()
		cp.Status = *st
		_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
		default:
			c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
		}
	}
	return errors.Join(errs...)
}
