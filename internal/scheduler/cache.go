package scheduler

import (
	"sort"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
)

// assumedTTL bounds how long a pod bound by us may stay "assumed" without
// the API confirming it (a safety net: the pod informer normally confirms
// within milliseconds, and a deletion removes it anyway).
const assumedTTL = 5 * time.Minute

type cachedPod struct {
	info    *framework.PodInfo
	assumed bool
	// deadline is set once binding finished; an assumed pod past it is
	// dropped.
	deadline time.Time
}

// schedulerCache is the scheduler's view of nodes and of the pods placed
// on them, fed by informers, plus the pods it has just bound and the
// informer has not shown bound yet ("assumed"), so that back-to-back pods
// see each other's requests.
type schedulerCache struct {
	mu       sync.Mutex
	now      func() time.Time
	nodes    map[string]*v1.Node
	pods     map[types.UID]*cachedPod
	services map[types.UID]*v1.Service
}

func newSchedulerCache(now func() time.Time) *schedulerCache {
	if now == nil {
		now = time.Now
	}
	return &schedulerCache{
		now:      now,
		nodes:    map[string]*v1.Node{},
		pods:     map[types.UID]*cachedPod{},
		services: map[types.UID]*v1.Service{},
	}
}

func (c *schedulerCache) SetNode(n *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[n.Name] = n
}

func (c *schedulerCache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, name)
}

func (c *schedulerCache) SetService(s *v1.Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.services[s.UID] = s
}

func (c *schedulerCache) RemoveService(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.services, uid)
}

// SetPod records a pod the API shows on a node; it confirms an assumed pod.
func (c *schedulerCache) SetPod(p *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[p.UID] = &cachedPod{info: framework.NewPodInfo(p)}
}

// RemovePod forgets a pod (deleted, finished, or assumed and failed).
func (c *schedulerCache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pods, uid)
}

// Assume places pod (its spec.nodeName set to the chosen node) before the
// binding is confirmed.
func (c *schedulerCache) Assume(p *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[p.UID] = &cachedPod{info: framework.NewPodInfo(p), assumed: true}
}

// FinishBinding starts the expiry clock of an assumed pod.
func (c *schedulerCache) FinishBinding(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		cp.deadline = c.now().Add(assumedTTL)
	}
}

// Forget drops an assumed pod whose binding failed.
func (c *schedulerCache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		delete(c.pods, uid)
	}
}

// IsAssumed reports whether the pod is bound by us and not yet confirmed.
func (c *schedulerCache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[uid]
	return ok && cp.assumed
}

// Snapshot returns the cluster for one scheduling cycle: nodes sorted by
// name, each with its pods and their summed requests.
func (c *schedulerCache) Snapshot() *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	byName := make(map[string]*framework.NodeInfo, len(c.nodes))
	snap := &framework.Snapshot{Nodes: make([]*framework.NodeInfo, 0, len(c.nodes))}
	for _, n := range c.nodes {
		ni := &framework.NodeInfo{}
		ni.SetNode(n)
		byName[n.Name] = ni
		snap.Nodes = append(snap.Nodes, ni)
	}
	for uid, cp := range c.pods {
		if cp.assumed && !cp.deadline.IsZero() && now.After(cp.deadline) {
			delete(c.pods, uid)
			continue
		}
		if ni := byName[cp.info.Pod.Spec.NodeName]; ni != nil {
			ni.AddPod(cp.info)
		}
	}
	sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name() < snap.Nodes[j].Name() })
	for _, ni := range snap.Nodes {
		sort.Slice(ni.Pods, func(i, j int) bool { return ni.Pods[i].Pod.UID < ni.Pods[j].Pod.UID })
	}
	for _, s := range c.services {
		snap.Services = append(snap.Services, s)
	}
	return snap
}
