package prober

import (
	"context"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Config configures a Manager.
type Config struct {
	// Exec runs exec probes and hooks (CRI ExecSync).
	Exec ExecFunc
	// ExpandCommand expands $(VAR) references in an exec probe's command
	// from the container's plain env values; nil leaves it as written.
	ExpandCommand func(c *v1.Container, cmd []string) []string
	// Event records an event about a container of a pod.
	Event func(pod *v1.Pod, container, eventType, reason, message string)
	// Changed is called when a published result changes: the pod's status
	// (ready, started) or its containers (a liveness failure) need a sync.
	Changed func(uid types.UID)
	// Clock defaults to the real clock.
	Clock clock.Clock
}

// Container is one container of a pod as the runtime reports it.
type Container struct {
	Name      string
	ID        string // runtime container ID, without the runtime:// prefix
	Running   bool
	StartedAt time.Time
}

// Manager runs the probes of the containers of a node's pods.
type Manager struct {
	cfg      Config
	clock    clock.Clock
	handlers *handlers

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	pods    map[types.UID]*podProbes
}

type podProbes struct {
	pod       *v1.Pod
	podIP     string
	instances map[string]*instance // by container ID
}

// instance is one run of a container and its probes.
type instance struct {
	id        string
	spec      *v1.Container
	startedAt time.Time
	has       [3]bool   // by Kind: the container has that probe
	results   [3]Result // by Kind: published results
	workers   []*worker
}

// New builds a Manager. Workers stop when Run's context ends.
func New(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Event == nil {
		cfg.Event = func(*v1.Pod, string, string, string, string) {}
	}
	if cfg.Changed == nil {
		cfg.Changed = func(types.UID) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg:      cfg,
		clock:    cfg.Clock,
		handlers: newHandlers(cfg.Exec, cfg.ExpandCommand),
		ctx:      ctx,
		cancel:   cancel,
		pods:     map[types.UID]*podProbes{},
	}
}

// Run waits for ctx to end, then stops every worker and waits for them.
func (m *Manager) Run(ctx context.Context) {
	<-ctx.Done()
	m.mu.Lock()
	m.stopped = true
	m.pods = map[types.UID]*podProbes{}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// isSidecar says whether an init container is a sidecar (restartPolicy
// Always): sidecars have probes as regular containers do.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// Update tells the manager which containers of pod run now (regular
// containers and sidecars): workers start for the probes of containers
// that started and stop for containers that no longer run. podIP is where httpGet, tcpSocket and grpc probes go by
// default.
func (m *Manager) Update(pod *v1.Pod, podIP string, containers []Container) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	pp := m.pods[pod.UID]
	if pp == nil {
		pp = &podProbes{instances: map[string]*instance{}}
		m.pods[pod.UID] = pp
	}
	pp.pod, pp.podIP = pod, podIP
	specs := map[string]*v1.Container{}
	for i := range pod.Spec.Containers {
		specs[pod.Spec.Containers[i].Name] = &pod.Spec.Containers[i]
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			specs[c.Name] = c
		}
	}
	live := map[string]bool{}
	reported := map[string]bool{}    // container IDs this update speaks of
	runningName := map[string]bool{} // container names with a running instance
	for _, c := range containers {
		reported[c.ID] = true
		spec := specs[c.Name]
		if !c.Running || spec == nil {
			continue
		}
		live[c.ID] = true
		runningName[c.Name] = true
		if _, ok := pp.instances[c.ID]; ok {
			continue
		}
		inst := &instance{id: c.ID, spec: spec.DeepCopy(), startedAt: c.StartedAt}
		for _, k := range kinds {
			p := k.Spec(inst.spec)
			if p == nil {
				continue
			}
			inst.has[k] = true
			w := &worker{
				m: m, uid: pod.UID, inst: inst, kind: k,
				state:   newState(k, p, c.StartedAt),
				trigger: make(chan struct{}, 1),
				stop:    make(chan struct{}),
			}
			inst.results[k] = w.state.result
			inst.workers = append(inst.workers, w)
		}
		pp.instances[c.ID] = inst
		for _, w := range inst.workers {
			m.wg.Add(1)
			go w.run(m.ctx)
		}
	}
	// An instance goes when its container is said to have stopped or has
	// been replaced. One the update does not mention keeps its workers and
	// results: a sync that saw only part of the pod must not reset a ready
	// container to not ready (RemovePod ends them with the pod).
	for id, inst := range pp.instances {
		if live[id] {
			continue
		}
		if reported[id] || runningName[inst.spec.Name] || specs[inst.spec.Name] == nil {
			inst.stop()
			delete(pp.instances, id)
		}
	}
}

// RemovePod stops every probe of a pod (it is being deleted or is gone).
func (m *Manager) RemovePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pp := m.pods[uid]; pp != nil {
		for _, inst := range pp.instances {
			inst.stop()
		}
		delete(m.pods, uid)
	}
}

func (inst *instance) stop() {
	for _, w := range inst.workers {
		w.stopOnce.Do(func() { close(w.stop) })
	}
}

// Status says whether a running container instance has started (passed
// its startup probe, or has none) and is ready (started, and passed its
// readiness probe or has none). A container the manager has not seen yet
// counts as not started when it has a startup probe and not ready when it
// has a readiness probe.
func (m *Manager) Status(uid types.UID, c *v1.Container, containerID string) (started, ready bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var inst *instance
	if pp := m.pods[uid]; pp != nil {
		inst = pp.instances[containerID]
	}
	published := func(k Kind) Result {
		if inst == nil {
			return Unknown
		}
		return inst.results[k]
	}
	started = c.StartupProbe == nil || published(Startup) == Success
	ready = started && (c.ReadinessProbe == nil || published(Readiness) == Success)
	return started, ready
}

// Failed reports whether a container instance failed its liveness or
// startup probe (and so must be killed), with the probe that failed.
func (m *Manager) Failed(uid types.UID, containerID string) (Kind, *v1.Probe, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[uid]
	if pp == nil {
		return 0, nil, false
	}
	inst := pp.instances[containerID]
	if inst == nil {
		return 0, nil, false
	}
	for _, k := range []Kind{Liveness, Startup} {
		if inst.has[k] && inst.results[k] == Failure {
			return k, k.Spec(inst.spec), true
		}
	}
	return 0, nil, false
}

// target is what a worker probes, as of now (the pod IP may have changed).
func (m *Manager) target(w *worker) (Target, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[w.uid]
	if pp == nil {
		return Target{}, false
	}
	return Target{Pod: pp.pod, Container: w.inst.spec, ContainerID: w.inst.id, PodIP: pp.podIP}, true
}

// started says whether the worker's container passed its startup probe.
func (m *Manager) started(w *worker) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !w.inst.has[Startup] || w.inst.results[Startup] == Success
}

// publish stores a worker's new result and tells the kubelet. A startup
// success wakes the instance's other probes.
func (m *Manager) publish(w *worker, r Result) {
	m.mu.Lock()
	w.inst.results[w.kind] = r
	var wake []*worker
	if w.kind == Startup && r == Success {
		wake = w.inst.workers
	}
	m.mu.Unlock()
	for _, o := range wake {
		if o != w {
			o.wake()
		}
	}
	m.cfg.Changed(w.uid)
}

// worker runs one probe of one container instance.
type worker struct {
	m        *Manager
	uid      types.UID
	inst     *instance
	kind     Kind
	state    *state // owned by the worker's goroutine
	trigger  chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

func (w *worker) wake() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// maxRetries is how often a probe that errors is retried at once.
const maxRetries = 3

func (w *worker) run(ctx context.Context) {
	defer w.m.wg.Done()
	next := w.state.firstAt()
	for {
		if !w.wait(ctx, next.Sub(w.m.clock.Now())) {
			return
		}
		probe, at := w.state.decide(w.m.clock.Now(), w.m.started(w))
		if at.IsZero() {
			return
		}
		next = at
		if !probe {
			continue
		}
		t, ok := w.m.target(w)
		if !ok {
			return
		}
		result, ok := w.probeOnce(ctx, t)
		if !ok {
			continue
		}
		if w.state.observe(result) {
			w.m.publish(w, w.state.result)
		}
		if w.state.done {
			return
		}
	}
}

// wait waits d (or for a wake-up) and reports whether the worker is to
// go on.
func (w *worker) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-ctx.Done():
			return false
		case <-w.stop:
			return false
		default:
			return true
		}
	}
	timer := w.m.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	case <-w.trigger:
	case <-timer.C():
	}
	return true
}

// probeOnce runs the probe (retrying errors) and reports the outcome as
// upstream's events do. ok is false when the probe errored or the worker
// was stopped meanwhile: such an outcome does not count.
func (w *worker) probeOnce(ctx context.Context, t Target) (Result, bool) {
	spec := &w.state.probe
	var (
		result Result
		output string
		err    error
	)
	for range maxRetries {
		result, output, err = w.m.handlers.probe(ctx, spec, t)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	select {
	case <-w.stop:
		return Unknown, false
	case <-ctx.Done():
		return Unknown, false
	default:
	}
	name := t.Container.Name
	switch {
	case err != nil:
		slog.Debug("probe errored", "pod", t.Pod.Namespace+"/"+t.Pod.Name, "container", name, "probe", w.kind, "err", err)
		w.m.cfg.Event(t.Pod, name, v1.EventTypeWarning, "Unhealthy",
			w.kind.String()+" probe errored and resulted in "+Unknown.String()+" state: "+err.Error())
		return Unknown, false
	case result == Failure:
		w.m.cfg.Event(t.Pod, name, v1.EventTypeWarning, "Unhealthy", w.kind.String()+" probe failed: "+output)
	case result == Warning:
		w.m.cfg.Event(t.Pod, name, v1.EventTypeWarning, "ProbeWarning", w.kind.String()+" probe warning: "+output)
	}
	return result, true
}
