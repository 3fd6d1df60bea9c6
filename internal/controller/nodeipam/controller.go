package nodeipam

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs; events use upstream's component
// name EventSource.
const (
	Name        = "node-ipam-controller"
	EventSource = "cidrAllocator"
)

// Options configure a Controller.
type Options struct {
	Client           kubernetes.Interface
	Informers        informers.SharedInformerFactory
	Recorder         record.EventRecorder
	ClusterCIDR      string
	NodeCIDRMaskSize int
	Workers          int
}

// Controller gives every node a pod CIDR out of the cluster CIDR.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	alloc    *Allocator

	lister corelisters.NodeLister
	synced cache.InformerSynced
	queue  ctrlutil.Queue

	mu      sync.Mutex
	holders map[string]string // CIDR → node holding it
}

// New wires the controller to the node informer; call before the factory
// is started.
func New(o Options) (*Controller, error) {
	alloc, err := NewAllocator(o.ClusterCIDR, o.NodeCIDRMaskSize)
	if err != nil {
		return nil, err
	}
	inf := o.Informers.Core().V1().Nodes()
	c := &Controller{
		client:   o.Client,
		recorder: o.Recorder,
		workers:  o.Workers,
		alloc:    alloc,
		lister:   inf.Lister(),
		synced:   inf.Informer().HasSynced,
		queue:    ctrlutil.NewQueue(Name),
		holders:  map[string]string{},
	}
	enqueue := ctrlutil.Enqueue(c.queue)
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
		DeleteFunc: func(obj any) {
			if n, ok := ctrlutil.FromTombstone[*corev1.Node](obj); ok {
				c.release(n.Name, cidrsOf(n)...)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("node informer: %w", err)
	}
	return c, nil
}

func cidrsOf(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// Run rebuilds the allocation map from the existing nodes, then assigns
// CIDRs until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced) {
		return nil // cancelled before the caches synced
	}
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes {
		c.occupy(n)
	}
	ctrlutil.RunQueue(ctx, Name, c.queue, c.workers, c.sync)
	return nil
}

func (c *Controller) occupy(n *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cidr := range cidrsOf(n) {
		if holder, taken := c.holders[cidr]; taken && holder != n.Name {
			slog.Warn("two nodes hold the same pod CIDR", "cidr", cidr, "node", n.Name, "other", holder)
			continue
		}
		if c.alloc.Occupy(cidr) {
			c.holders[cidr] = n.Name
		}
	}
}

func (c *Controller) release(node string, cidrs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cidr := range cidrs {
		if c.holders[cidr] == node {
			delete(c.holders, cidr)
			c.alloc.Release(cidr)
		}
	}
}

func (c *Controller) statusEvent(n *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", n.Name, status)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cidrsOf(n)) > 0 {
		c.occupy(n)
		return nil
	}
	cidr, err := c.alloc.Allocate()
	if err != nil {
		c.statusEvent(n, "CIDRNotAvailable")
		return fmt.Errorf("allocate pod CIDR for node %s: %w", name, err)
	}
	c.mu.Lock()
	c.holders[cidr] = name
	c.mu.Unlock()

	var assigned []string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := cidrsOf(fresh); len(got) > 0 {
			assigned = got
			return nil
		}
		fresh.Spec.PodCIDR = cidr
		fresh.Spec.PodCIDRs = []string{cidr}
		_, err = c.client.CoreV1().Nodes().Update(ctx, fresh, metav1.UpdateOptions{})
		return err
	})
	switch {
	case err != nil:
		c.release(name, cidr)
		if apierrors.IsNotFound(err) {
			return nil
		}
		c.statusEvent(n, "CIDRAssignmentFailed")
		return fmt.Errorf("assign pod CIDR %s to node %s: %w", cidr, name, err)
	case assigned != nil:
		// Someone else assigned one meanwhile; keep theirs.
		c.release(name, cidr)
		fresh := n.DeepCopy()
		fresh.Spec.PodCIDRs = assigned
		c.occupy(fresh)
	default:
		slog.Info("assigned pod CIDR", "node", name, "cidr", cidr)
	}
	return nil
}
