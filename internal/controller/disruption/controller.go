package disruption

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/controller/internal/ctrlutil"
)

// Name is the controller's name in logs; EventSource the component of its
// events, as upstream's.
const (
	Name        = "disruption-controller"
	EventSource = "controllermanager"
)

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Workers   int
	Now       func() time.Time // default time.Now
}

// Controller keeps PodDisruptionBudget status.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	workers  int
	now      func() time.Time

	pdbLister policylisters.PodDisruptionBudgetLister
	podLister corelisters.PodLister
	rsLister  appslisters.ReplicaSetLister
	depLister appslisters.DeploymentLister
	stsLister appslisters.StatefulSetLister
	rcLister  corelisters.ReplicationControllerLister
	synced    []cache.InformerSynced
	queue     ctrlutil.Queue
}

// New wires the controller to the shared informers; call before the
// factory is started.
func New(o Options) (*Controller, error) {
	pdbInf := o.Informers.Policy().V1().PodDisruptionBudgets()
	podInf := o.Informers.Core().V1().Pods()
	rsInf := o.Informers.Apps().V1().ReplicaSets()
	depInf := o.Informers.Apps().V1().Deployments()
	stsInf := o.Informers.Apps().V1().StatefulSets()
	rcInf := o.Informers.Core().V1().ReplicationControllers()
	c := &Controller{
		client: o.Client, recorder: o.Recorder, workers: o.Workers, now: o.Now,
		pdbLister: pdbInf.Lister(), podLister: podInf.Lister(), rsLister: rsInf.Lister(),
		depLister: depInf.Lister(), stsLister: stsInf.Lister(), rcLister: rcInf.Lister(),
		queue: ctrlutil.NewQueue(Name),
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, inf := range []cache.SharedIndexInformer{pdbInf.Informer(), podInf.Informer(), rsInf.Informer(),
		depInf.Informer(), stsInf.Informer(), rcInf.Informer()} {
		c.synced = append(c.synced, inf.HasSynced)
	}
	enqueue := ctrlutil.Enqueue(c.queue)
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, cur any) { enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("disruption controller handlers: %w", err)
	}
	podChanged := func(obj any) {
		if pod, ok := ctrlutil.FromTombstone[*corev1.Pod](obj); ok {
			c.enqueueFor(pod.Namespace, pod.Labels)
		}
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podChanged, UpdateFunc: func(_, cur any) { podChanged(cur) }, DeleteFunc: podChanged,
	}); err != nil {
		return nil, fmt.Errorf("disruption controller handlers: %w", err)
	}
	// A controller's scale changes the expected count of its pods' budgets.
	scaleChanged := func(obj any) {
		if m, ok := obj.(metav1.Object); ok {
			c.enqueueNamespace(m.GetNamespace())
		}
	}
	for _, inf := range []cache.SharedIndexInformer{rsInf.Informer(), depInf.Informer(), stsInf.Informer(), rcInf.Informer()} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, cur any) { scaleChanged(cur) },
		}); err != nil {
			return nil, fmt.Errorf("disruption controller handlers: %w", err)
		}
	}
	return c, nil
}

// Run keeps budgets until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWorkers(ctx, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueueFor(ns string, podLabels map[string]string) {
	pdbs, err := c.pdbLister.PodDisruptionBudgets(ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		if selects(pdb, podLabels) {
			c.queue.Add(ns + "/" + pdb.Name)
		}
	}
}

func (c *Controller) enqueueNamespace(ns string) {
	pdbs, err := c.pdbLister.PodDisruptionBudgets(ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		c.queue.Add(ns + "/" + pdb.Name)
	}
}

// selects says pdb's selector matches the labels; in policy/v1 a null
// selector matches nothing and an empty one everything.
func selects(pdb *policyv1.PodDisruptionBudget, podLabels map[string]string) bool {
	if pdb.Spec.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	return err == nil && sel.Matches(labels.Set(podLabels))
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := c.pdbLister.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	if pdb.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			return c.write(ctx, pdb, Failed(pdb, err, c.now()))
		}
		if pods, err = c.podLister.Pods(ns).List(sel); err != nil {
			return err
		}
	}
	if len(pods) == 0 {
		c.recorder.Event(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
	}
	cnt, err := Expected(pdb, pods, func() (int32, error) { return c.expectedScale(pods) })
	if err != nil {
		c.recorder.Event(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed",
			"Failed to calculate the number of expected pods: "+err.Error())
		return c.write(ctx, pdb, Failed(pdb, err, c.now()))
	}
	st, recheck := Status(pdb, pods, cnt, c.now())
	if recheck > 0 {
		c.queue.AddAfter(key, recheck)
	}
	return c.write(ctx, pdb, st)
}

func (c *Controller) write(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st policyv1.PodDisruptionBudgetStatus) error {
	// Any difference is written.
	if apiequality.Semantic.DeepEqual(pdb.Status, st) {
		return nil
	}
	next := pdb.DeepCopy()
	next.Status = st
	_, err := c.client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// expectedScale sums the replicas wanted by the controllers of pods: a
// ReplicaSet owned by a Deployment counts as the Deployment.
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	var total int32
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			return 0, errNoController(pod)
		}
		uid, replicas, err := c.scaleOf(pod.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += replicas
		}
	}
	return total, nil
}

func (c *Controller) scaleOf(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	replicas := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.rsLister.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, fmt.Errorf("replicaset %s/%s not found", ns, ref.Name)
		}
		if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
			if d, err := c.depLister.Deployments(ns).Get(dref.Name); err == nil && d.UID == dref.UID {
				return d.UID, replicas(d.Spec.Replicas), nil
			}
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case "StatefulSet":
		sts, err := c.stsLister.StatefulSets(ns).Get(ref.Name)
		if err != nil || sts.UID != ref.UID {
			return "", 0, fmt.Errorf("statefulset %s/%s not found", ns, ref.Name)
		}
		return sts.UID, replicas(sts.Spec.Replicas), nil
	case "ReplicationController":
		rc, err := c.rcLister.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, fmt.Errorf("replicationcontroller %s/%s not found", ns, ref.Name)
		}
		return rc.UID, replicas(rc.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("%s %s/%s does not implement the scale subresource", ref.Kind, ns, ref.Name)
}
