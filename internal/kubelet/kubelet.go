package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/kubelet/cri"
	"github.com/kedge-dev/kedge/internal/kubelet/images"
	"github.com/kedge-dev/kedge/internal/kubelet/prober"
	"github.com/kedge-dev/kedge/internal/kubelet/volume"
	"github.com/kedge-dev/kedge/internal/network"
	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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
	"k8s.io/client-go/util/workqueue"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Config configures a kubelet.
type Config struct {
	// NodeName defaults to os.Hostname().
	NodeName string
	// NodeIP is the node's InternalIP; detected from the default route
	// when empty.
	NodeIP string
	// DataDir is the agent's directory (e.g. /var/lib/kedge/agent): the
	// containerd root, CNI config and IPAM state, image tarballs
	// (DataDir/images/*.tar), per-pod files.
	DataDir string
	// RunDir is a short directory for sockets and runtime state
	// (cluster.RunDir(DataDir) when empty).
	RunDir string
	// RuntimeEndpoint is a CRI socket; empty starts a private containerd
	// as a child process.
	RuntimeEndpoint string
	// RestConfig reaches the API server. Client, if set, is used instead.
	RestConfig *rest.Config
	Client     kubernetes.Interface
	// ClusterCIDR and ServiceCIDR are the cluster's address ranges.
	ClusterCIDR, ServiceCIDR string
	// NodeLabels are added to the node's labels, e.g.
	// node-role.kubernetes.io/control-plane="".
	NodeLabels map[string]string

	// ClusterDNS are the nameservers of pods with dnsPolicy ClusterFirst;
	// empty gives them the host's resolv.conf (as upstream does).
	ClusterDNS []string
	// ClusterDomain defaults to cluster.DefaultClusterDomain.
	ClusterDomain string
	// CgroupRoot is the cgroup pods are placed under; defaults to
	// /kedge/<node name>.
	CgroupRoot string
	// PodLogsDir defaults to /var/log/pods.
	PodLogsDir string
	// Port is the kubelet API's HTTPS port (logs, exec, attach,
	// port-forward, stats; the node's daemonEndpoints say it): 10250 by
	// default, negative turns the API off.
	Port int
	// TLSCertFile and TLSKeyFile are the API's serving certificate,
	// signed by the cluster CA (default <DataDir>/tls/serving-kubelet.crt
	// and .key). Client certificates must chain to the CA of RestConfig.
	TLSCertFile, TLSKeyFile string
	// EvictionHard are the hard eviction thresholds in upstream's flag
	// syntax ("memory.available<100Mi,nodefs.available<10%"); empty is
	// upstream's defaults.
	EvictionHard string
	// EvictionPressureTransitionPeriod is how long a pressure condition
	// stays true after its signal recovers (upstream's default: 5 min).
	EvictionPressureTransitionPeriod time.Duration
	// NoGuard leaves the traffic guard (network.EnsureGuard on ClusterCIDR
	// and ServiceCIDR, in the kubelet's network namespace) to the caller.
	// By default Run ensures it before running pods and repairs it
	// periodically.
	NoGuard bool
	// StaticPodPath is the directory of static pod manifests (default
	// <DataDir>/pod-manifests; see staticpods.go).
	StaticPodPath string
}

// runtimeService is the part of CRI the kubelet uses (cri.Client).
type runtimeService interface {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
}

// Kubelet registers a node and runs the pods bound to it.
type Kubelet struct {
	cfg     Config
	client  kubernetes.Interface
	hostIPs []string

	runtime  runtimeService
	recorder record.EventRecorder
	cgroups  *cgroupManager

	pods     cache.Indexer
	services corelisters.ServiceLister
	queue    workqueue.TypedRateLimitingInterface[types.UID]

	restartBackoff *backoff
	pullBackoff    *backoff
	pullErrors     images.LastErrors
	registries     *images.Registries
	mountBackoff   *backoff
	volumes        *volume.Manager
	probes         *prober.Manager
	minOOMScoreAdj int
	memoryCapacity int64
	thresholds     []evictionThreshold
	pressureLast   map[string]time.Time // by kind: "memory", "disk", "pid"
	imageGC        *images.GC

	mu          sync.Mutex
	waits       map[types.UID]map[string]waitState
	mountWaits  map[types.UID]mountWait
	messages    map[string]string // termination messages by container ID
	allocatable v1.ResourceList
	nodeUID     types.UID

	runtimeVersion string
	cniConfigured  atomic.Bool
	statusNow      chan struct{}
	static         *staticPods
}

const podUIDIndex = "uid"

// New validates cfg, fills in defaults and builds the API client.
func New(cfg Config) (*Kubelet, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("kubelet: DataDir is required")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("kubelet: data dir: %w", err)
	}
	cfg.DataDir = abs
	if cfg.RunDir == "" {
		cfg.RunDir = cluster.RunDir(cfg.DataDir)
	}
	if cfg.NodeName == "" {
		if cfg.NodeName, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("kubelet: node name: %w", err)
		}
	}
	cfg.NodeName = strings.ToLower(cfg.NodeName)
	if cfg.NodeIP == "" {
		if cfg.NodeIP, err = defaultRouteIP(); err != nil {
			return nil, fmt.Errorf("kubelet: node IP not given and %w", err)
		}
	}
	if net.ParseIP(cfg.NodeIP) == nil {
		return nil, fmt.Errorf("kubelet: node IP %q is not an IP address", cfg.NodeIP)
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = cluster.DefaultClusterCIDR
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = cluster.DefaultServiceCIDR
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = cluster.DefaultClusterDomain
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/kedge/" + cfg.NodeName
	}
	if cfg.PodLogsDir == "" {
		cfg.PodLogsDir = "/var/log/pods"
	}
	client := cfg.Client
	if client == nil {
		if cfg.RestConfig == nil {
			return nil, errors.New("kubelet: RestConfig or Client is required")
		}
		rc := rest.CopyConfig(cfg.RestConfig)
		if rc.UserAgent == "" {
			rc.UserAgent = "kubelet/" + cfg.NodeName
		}
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("kubelet: API client: %w", err)
		}
	}
	thresholds, err := parseEvictionHard(cfg.EvictionHard)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if cfg.EvictionPressureTransitionPeriod == 0 {
		cfg.EvictionPressureTransitionPeriod = 5 * time.Minute
	}
	cg, err := newCgroupManager(cfg.CgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	k := &Kubelet{
		cfg:            cfg,
		client:         client,
		hostIPs:        []string{cfg.NodeIP},
		cgroups:        cg,
		thresholds:     thresholds,
		pressureLast:   map[string]time.Time{},
		restartBackoff: newBackoff(backoffInitial, backoffMax),
		pullBackoff:    newBackoff(backoffInitial, backoffMax),
		mountBackoff:   newBackoff(mountBackoffInitial, mountBackoffMax),
		waits:          map[types.UID]map[string]waitState{},
		mountWaits:     map[types.UID]mountWait{},
		messages:       map[string]string{},
		statusNow:      make(chan struct{}, 1),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "kubelet-pods"}),
	}
	if data, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		k.minOOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	k.memoryCapacity = memTotal()
	k.probes = k.newProber()
	k.static = newStaticPods(k.staticPodPath(), cfg.NodeName)
	k.volumes = volume.New(volume.Config{
		PodsDir:     filepath.Join(cfg.DataDir, "pods"),
		Client:      client,
		Allocatable: k.allocatableCopy,
		Changed:     func(uid types.UID) { k.queue.Add(uid) },
	})
	return k, nil
}

func (k *Kubelet) allocatableCopy() v1.ResourceList {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.allocatable.DeepCopy()
}

// defaultRouteIP is the source address of the IPv4 default route (a route
// lookup: nothing is sent).
func defaultRouteIP() (string, error) {
	routes, err := netlink.RouteGet(net.ParseIP("192.0.2.255"))
	if err == nil {
		for _, r := range routes {
			if r.Src != nil {
				return r.Src.String(), nil
			}
		}
	}
	routes, err = netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil && r.Gw != nil {
			link, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				continue
			}
			addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
			if err == nil && len(addrs) > 0 {
				return addrs[0].IP.String(), nil
			}
		}
	}
	return "", errors.New("no default route to take it from")
}

func (k *Kubelet) containerdConfig() cri.ContainerdConfig {
	d, r := k.cfg.DataDir, k.cfg.RunDir
	return cri.ContainerdConfig{
		ConfigPath:         filepath.Join(d, "etc/containerd/config.toml"),
		Root:               filepath.Join(d, "containerd"),
		State:              filepath.Join(r, "containerd"),
		Address:            filepath.Join(r, "containerd/containerd.sock"),
		OptPath:            filepath.Join(d, "containerd/opt"),
		RuncRoot:           filepath.Join(r, "runc"),
		CNIBinDir:          "/usr/lib/cni",
		CNIConfDir:         k.cniConfDir(),
		SandboxImage:       cluster.PauseImage,
		RegistryConfigPath: filepath.Join(d, "etc/containerd/certs.d"),
		LogPath:            filepath.Join(d, "containerd.log"),
	}
}

func (k *Kubelet) cniConfDir() string { return filepath.Join(k.cfg.DataDir, "etc/cni/net.d") }

// Run starts the runtime (unless given an endpoint), registers the node
// and runs pods until ctx ends. Pods keep running after Run returns.
func (k *Kubelet) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := slog.With("node", k.cfg.NodeName)
	if err := k.ensureGuard(); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}

	if err := k.loadRegistries(); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}

	endpoint := k.cfg.RuntimeEndpoint
	var containerd *cri.Containerd
	if endpoint == "" {
		containerd = cri.NewContainerd(k.containerdConfig())
		if err := containerd.Start(ctx); err != nil {
			return fmt.Errorf("kubelet: %w", err)
		}
		defer func() { cancel(); <-containerd.Stopped() }()
		endpoint = containerd.Address()
	}
	client, err := cri.Dial(endpoint)
	if err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	defer client.Close()
	k.runtime = client
	waitCtx, waitCancel := context.WithTimeout(ctx, 2*time.Minute)
	ver, err := client.WaitReady(waitCtx)
	waitCancel()
	if err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	k.runtimeVersion = ver.RuntimeName + "://" + ver.RuntimeVersion
	log.Info("container runtime ready", "runtime", k.runtimeVersion, "endpoint", endpoint)

	imgAddress := strings.TrimPrefix(endpoint, "unix://")
	if _, err := cri.ImportImages(ctx, cri.ImportOptions{
		Dir:        filepath.Join(k.cfg.DataDir, "images"),
		Address:    imgAddress,
		RecordPath: filepath.Join(k.cfg.DataDir, "images-imported.json"),
		Present:    k.imagePresent,
	}); err != nil {
		log.Error("import image tarballs", "err", err)
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})

	podFactory := informers.NewSharedInformerFactoryWithOptions(k.client, time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "spec.nodeName=" + k.cfg.NodeName
		}))
	podInformer := podFactory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{podUIDIndex: func(obj any) ([]string, error) {
		if pod, ok := obj.(*v1.Pod); ok {
			return []string{string(pod.UID)}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { k.enqueue(obj) },
		UpdateFunc: func(old, cur any) {
			if podChangeMatters(old, cur) {
				k.enqueue(cur)
			}
		},
		DeleteFunc: func(obj any) { k.enqueue(obj) },
	})
	k.pods = podInformer.GetIndexer()
	svcFactory := informers.NewSharedInformerFactory(k.client, 0)
	k.services = svcFactory.Core().V1().Services().Lister()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer k.queue.ShutDown()
	podFactory.Start(ctx.Done())
	svcFactory.Start(ctx.Done())
	defer podFactory.Shutdown()
	defer svcFactory.Shutdown()

	wg.Add(2)
	go func() { defer wg.Done(); k.nodeLoop(ctx) }()
	go func() { defer wg.Done(); k.volumes.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); k.serveAPI(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); k.probes.Run(ctx) }()
	wg.Add(1)
	k.imageGC = k.newImageGC()
	go func() { defer wg.Done(); k.imageGC.Run(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); k.evictionLoop(ctx) }()

	if !cache.WaitForCacheSync(ctx.Done(), podInformer.HasSynced, svcFactory.Core().V1().Services().Informer().HasSynced) {
		return nil // ctx ended
	}
	log.Info("kubelet synced pods; running them")
	k.scanStatic() // static pods are known before the first relist
	wg.Add(1)
	go func() { defer wg.Done(); k.staticLoop(ctx) }()
	// Pods start in parallel, as upstream's per-pod workers do: CRI calls
	// mostly wait on containerd and runc, not on this process.
	const workers = 32
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k.processNext(ctx) {
			}
		}()
	}
	wg.Add(2)
	go func() { defer wg.Done(); k.relistLoop(ctx) }()
	go func() { defer wg.Done(); k.housekeeping(ctx) }()
	<-ctx.Done()
	log.Info("kubelet stopping; pods keep running")
	return nil
}

// podChangeMatters reports whether a pod update asks for a sync: a
// resync (same object), or a change to anything but the status. The
// kubelet's own status writes come back as updates and, as upstream's
// pod config, it does not sync again for them (which would double the
// syncs of every start, and cut a waiting reason like ErrImagePull short).
func podChangeMatters(old, cur any) bool {
	o, ok1 := old.(*v1.Pod)
	c, ok2 := cur.(*v1.Pod)
	if !ok1 || !ok2 || o.ResourceVersion == c.ResourceVersion {
		return true
	}
	return !apiequality.Semantic.DeepEqual(o.Spec, c.Spec) ||
		!apiequality.Semantic.DeepEqual(o.Labels, c.Labels) ||
		!apiequality.Semantic.DeepEqual(o.Annotations, c.Annotations) ||
		!apiequality.Semantic.DeepEqual(o.DeletionTimestamp, c.DeletionTimestamp) ||
		!apiequality.Semantic.DeepEqual(o.DeletionGracePeriodSeconds, c.DeletionGracePeriodSeconds) ||
		o.Generation != c.Generation
}

func (k *Kubelet) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*v1.Pod); ok {
		k.queue.Add(queueKey(pod))
	}
}

// podByUID returns the pod to run as uid: a static pod or an API pod
// (never a mirror pod, which only shows a static pod's status).
func (k *Kubelet) podByUID(uid types.UID) *v1.Pod {
	if pod := k.staticPod(uid); pod != nil {
		return pod
	}
	objs, err := k.pods.ByIndex(podUIDIndex, string(uid))
	if err != nil || len(objs) == 0 || isMirrorPod(objs[0].(*v1.Pod)) {
		return nil
	}
	return objs[0].(*v1.Pod)
}

func (k *Kubelet) processNext(ctx context.Context) bool {
	uid, shutdown := k.queue.Get()
	if shutdown {
		return false
	}
	defer k.queue.Done(uid)
	after, err := k.syncPod(ctx, uid)
	if err != nil {
		if ctx.Err() == nil {
			slog.Error("sync pod", "uid", uid, "err", err)
		}
		k.queue.AddRateLimited(uid)
		return true
	}
	k.queue.Forget(uid)
	if after > 0 {
		k.queue.AddAfter(uid, after)
	}
	return true
}

func (k *Kubelet) imagePresent(ctx context.Context, ref string) (bool, error) {
	r, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return false, err
	}
	return r.Image != nil, nil
}

func (k *Kubelet) ensureGuard() error {
	if k.cfg.NoGuard {
		return nil
	}
	return network.EnsureGuard(k.cfg.ClusterCIDR, k.cfg.ServiceCIDR)
}

// poke asks the node loop for a status update now.
func (k *Kubelet) poke() {
	select {
	case k.statusNow <- struct{}{}:
	default:
	}
}
