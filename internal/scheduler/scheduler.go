package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kedge-dev/kedge/internal/scheduler/framework"
	"github.com/kedge-dev/kedge/internal/scheduler/plugins"
	"github.com/kedge-dev/kedge/internal/version"
)

// Config configures a Scheduler.
type Config struct {
	// RestConfig reaches the API server.
	RestConfig *rest.Config
	// SchedulerName is the spec.schedulerName this scheduler serves and the
	// source of its events; default "default-scheduler".
	SchedulerName string

	// Client replaces the client built from RestConfig (tests).
	Client kubernetes.Interface
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Scheduler binds pending pods to nodes. Build it with New and start it
// with Run.
type Scheduler struct {
	name   string
	client kubernetes.Interface
	log    *slog.Logger
	queue  *schedulingQueue
	cache  *schedulerCache
	fw     *framework.Framework
	now    func() time.Time

	// Set by Run.
	pods     corelisters.PodLister
	recorder record.EventRecorder
}

// New validates cfg and builds a Scheduler; nothing runs until Run.
func New(cfg Config) (*Scheduler, error) {
	client := cfg.Client
	if client == nil {
		if cfg.RestConfig == nil {
			return nil, errors.New("scheduler: RestConfig is required")
		}
		rc := rest.CopyConfig(cfg.RestConfig)
		if rc.UserAgent == "" {
			rc.UserAgent = version.UserAgent("kube-scheduler")
		}
		var err error
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("scheduler: build client: %w", err)
		}
	}
	name := cfg.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{
		name:   name,
		client: client,
		log:    log.With("component", "scheduler", "scheduler", name),
		queue:  newSchedulingQueue(nil),
		cache:  newSchedulerCache(nil),
		fw:     framework.New(plugins.DefaultProfile(), nil),
		now:    time.Now,
	}, nil
}

// Run watches pods, nodes and services and schedules pending pods until
// ctx is cancelled. It returns nil on cancellation.
func (s *Scheduler) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(s.client, 0)
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	svcInf := factory.Core().V1().Services()
	s.pods = podInf.Lister()

	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPodAdd(obj.(*v1.Pod)) },
		UpdateFunc: func(o, n any) { s.onPodUpdate(o.(*v1.Pod), n.(*v1.Pod)) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return fmt.Errorf("scheduler: watch pods: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.cache.SetNode(obj.(*v1.Node))
			s.queue.MoveAll()
		},
		UpdateFunc: func(o, n any) {
			s.cache.SetNode(n.(*v1.Node))
			if nodeUpdateMayHelp(o.(*v1.Node), n.(*v1.Node)) {
				s.queue.MoveAll()
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := unwrap[*v1.Node](obj); ok {
				s.cache.RemoveNode(n.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("scheduler: watch nodes: %w", err)
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.cache.SetService(obj.(*v1.Service)) },
		UpdateFunc: func(_, n any) { s.cache.SetService(n.(*v1.Service)) },
		DeleteFunc: func(obj any) {
			if svc, ok := unwrap[*v1.Service](obj); ok {
				s.cache.RemoveService(svc.UID)
			}
		},
	}); err != nil {
		return fmt.Errorf("scheduler: watch services: %w", err)
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	s.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: s.name})

	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInf.Informer().HasSynced, nodeInf.Informer().HasSynced, svcInf.Informer().HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("scheduler: informer caches did not sync")
	}
	s.log.Info("scheduler started")

	var binds sync.WaitGroup
	defer binds.Wait()
	for {
		key, err := s.queue.Pop(ctx)
		if err != nil {
			s.log.Info("scheduler stopped")
			return nil
		}
		s.scheduleOne(ctx, key, &binds)
	}
}

func unwrap[T any](obj any) (T, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	t, ok := obj.(T)
	return t, ok
}

func keyOf(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

func (s *Scheduler) onPodAdd(p *v1.Pod) {
	switch {
	case isPlaced(p):
		s.cache.SetPod(p)
	case isPendingFor(p, s.name):
		s.queue.Add(keyOf(p), plugins.PodPriority(p), true)
	}
}

func (s *Scheduler) onPodUpdate(old, cur *v1.Pod) {
	switch {
	case isPlaced(cur):
		s.cache.SetPod(cur)
		if old.Spec.NodeName == "" {
			s.queue.Delete(keyOf(cur)) // bound (by us or someone else)
		}
	case cur.Spec.NodeName != "":
		// Finished: its requests are free again.
		s.cache.RemovePod(cur.UID)
		if isPlaced(old) {
			s.queue.MoveAll()
		}
	case isPendingFor(cur, s.name):
		s.queue.Add(keyOf(cur), plugins.PodPriority(cur), podUpdateMayHelp(old, cur))
	default:
		s.queue.Delete(keyOf(cur))
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	p, ok := unwrap[*v1.Pod](obj)
	if !ok {
		return
	}
	s.cache.RemovePod(p.UID)
	s.queue.Delete(keyOf(p))
	if p.Spec.NodeName != "" {
		s.queue.MoveAll()
	}
}

// scheduleOne runs one scheduling cycle for the pod under key and, when a
// node is found, starts its binding in the background.
func (s *Scheduler) scheduleOne(ctx context.Context, key string, binds *sync.WaitGroup) {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := s.pods.Pods(ns).Get(name)
	if err != nil || !isPendingFor(pod, s.name) || s.cache.IsAssumed(pod.UID) {
		s.queue.Done(key, outcomeDone)
		return
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		s.recordStatus(ctx, pod, statusChange{Reason: reasonSchedulingGated, Message: msgSchedulingGated, Nominated: pod.Status.NominatedNodeName})
		s.queue.Done(key, outcomePark)
		return
	}

	start := s.now()
	result, err := s.fw.Schedule(pod, s.cache.Snapshot())
	if err != nil {
		s.handleFailure(ctx, pod, err)
		s.queue.Done(key, outcomeRetry)
		return
	}

	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = result.SuggestedHost
	s.cache.Assume(assumed)
	s.queue.Done(key, outcomeDone)
	s.log.Debug("pod scheduled", "pod", key, "node", result.SuggestedHost,
		"evaluated", result.EvaluatedNodes, "feasible", result.FeasibleNodes, "took", s.now().Sub(start))

	binds.Add(1)
	go func() {
		defer binds.Done()
		s.bind(ctx, pod, result.SuggestedHost)
	}()
}

// bind POSTs pods/binding (what upstream's DefaultBinder does) and reports
// the outcome.
func (s *Scheduler) bind(ctx context.Context, pod *v1.Pod, node string) {
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		s.cache.Forget(pod.UID)
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		if cur, gerr := s.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); gerr == nil &&
			(cur.UID != pod.UID || cur.Spec.NodeName != "") {
			return // replaced, or bound meanwhile by someone else: nothing to report
		}
		s.log.Warn("binding failed", "pod", keyOf(pod), "node", node, "err", err)
		s.handleFailure(ctx, pod, fmt.Errorf("binding rejected: %w", err))
		s.queue.Requeue(keyOf(pod), plugins.PodPriority(pod))
		return
	}
	s.cache.FinishBinding(pod.UID)
	s.recorder.Eventf(pod, v1.EventTypeNormal, eventScheduled, "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// handleFailure tells the user why the pod was not scheduled (event and
// PodScheduled condition) and, when preemption found room, evicts the
// victims and nominates the node.
func (s *Scheduler) handleFailure(ctx context.Context, pod *v1.Pod, err error) {
	reason := reasonSchedulerError
	nominated := pod.Status.NominatedNodeName
	var fe *framework.FitError
	switch {
	case errors.As(err, &fe):
		reason = reasonUnschedulable
		if fe.Nomination != nil {
			s.preempt(ctx, pod, fe.Nomination)
			nominated = fe.Nomination.NominatedNodeName
		}
	case errors.Is(err, framework.ErrNoNodesAvailable):
		reason = reasonUnschedulable
	}
	msg := err.Error()
	level := slog.LevelInfo
	if c := scheduledCondition(pod); c != nil && c.Message == msg {
		level = slog.LevelDebug // same as last time; the event count says it again
	}
	s.log.Log(ctx, level, "unable to schedule pod", "pod", keyOf(pod), "reason", reason, "message", msg)
	s.recorder.Event(pod, v1.EventTypeWarning, eventFailedScheduling, msg)
	s.recordStatus(ctx, pod, statusChange{Reason: reason, Message: msg, Nominated: nominated})
}

// preempt marks and deletes the victims.
func (s *Scheduler) preempt(ctx context.Context, pod *v1.Pod, nom *framework.PostFilterResult) {
	for _, v := range nom.Victims {
		pods := s.client.CoreV1().Pods(v.Namespace)
		if _, err := pods.Patch(ctx, v.Name, types.StrategicMergePatchType, disruptionTargetPatch(pod.Spec.SchedulerName, s.now()), metav1.PatchOptions{}, "status"); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("marking preemption victim", "pod", keyOf(v), "err", err)
		}
		uid := v.UID
		err := pods.Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("preempting pod", "pod", keyOf(v), "err", err)
			continue
		}
		s.recorder.Eventf(v, v1.EventTypeNormal, eventPreempted, "Preempted by pod %s on node %s", pod.UID, nom.NominatedNodeName)
	}
}

// recordStatus writes the PodScheduled condition unless it already says
// the same.
func (s *Scheduler) recordStatus(ctx context.Context, pod *v1.Pod, ch statusChange) {
	patch := schedulingStatusPatch(pod, ch, s.now())
	if patch == nil {
		return
	}
	pods := s.client.CoreV1().Pods(pod.Namespace)
	_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsUnsupportedMediaType(err) || apierrors.IsMethodNotSupported(err) {
		// A server without strategic-merge patch: read, modify, write.
		var cur *v1.Pod
		if cur, err = pods.Get(ctx, pod.Name, metav1.GetOptions{}); err == nil && cur.UID == pod.UID {
			_, err = pods.UpdateStatus(ctx, applyStatusChange(cur, ch, s.now()), metav1.UpdateOptions{})
		}
	}
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Warn("updating pod status", "pod", keyOf(pod), "err", err)
	}
}
