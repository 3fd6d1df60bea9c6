package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Directories of the volume plugins under <pod dir>/volumes, as upstream
// names them.
const (
	dirEmptyDir    = "kubernetes.io~empty-dir"
	dirConfigMap   = "kubernetes.io~configmap"
	dirSecret      = "kubernetes.io~secret"
	dirDownwardAPI = "kubernetes.io~downward-api"
	dirProjected   = "kubernetes.io~projected"
)

// Config configures a Manager.
type Config struct {
	// PodsDir holds one directory per pod UID; a pod's volumes live in
	// <PodsDir>/<uid>/volumes/<plugin>/<volume name>.
	PodsDir string
	// Client reads ConfigMaps and Secrets and requests tokens.
	Client kubernetes.Interface
	// Allocatable returns the node's allocatable resources: the value of
	// unset limits in the downward API and the ceiling of memory-backed
	// volumes. May be nil.
	Allocatable func() v1.ResourceList
	// Changed is called with the UID of a pod whose volumes' content
	// changed at the source (a ConfigMap or Secret it projects): the pod
	// should be synced (SetUp again) soon.
	Changed func(types.UID)
	// Mounter mounts tmpfs; nil mounts in this process's mount namespace.
	Mounter Mounter
	// RequestToken requests ServiceAccount tokens; nil uses Client.
	RequestToken RequestToken
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Mount is a set-up volume as containers mount it.
type Mount struct {
	// HostPath is the volume's directory (or, for hostPath, the path).
	HostPath string
	// ReadOnly volumes (configMap, secret, downwardAPI, projected) are
	// always mounted read-only.
	ReadOnly bool
}

// Result is the outcome of setting up a pod's volumes.
type Result struct {
	// Mounts holds the volumes that are set up, by name (also those that
	// failed to update this time but were set up before).
	Mounts map[string]Mount
	// Errors are this attempt's failures, one per volume.
	Errors []*SetUpError
	// Unmounted names the volumes that are not set up: containers must
	// not start while it is not empty.
	Unmounted []string
	// RefreshIn is when a projected token is due for renewal (0: none).
	RefreshIn time.Duration
}

// SetUpError is the failure of one volume, worded as upstream's kubelet
// reports it in FailedMount events.
type SetUpError struct {
	Volume string
	Err    error
}

func (e *SetUpError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *SetUpError) Unwrap() error { return e.Err }

// Manager sets up and tears down the volumes of the node's pods.
type Manager struct {
	cfg     Config
	mounter Mounter
	objects *objects
	tokens  *tokens
	stop    context.CancelFunc

	mu   sync.Mutex
	pods map[types.UID]*podState
}

type podState struct {
	mounts  map[string]Mount
	skipped map[string]bool // unsupported volumes already logged
}

// New builds a Manager. Its watches run until Run's context ends.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Allocatable == nil {
		cfg.Allocatable = func() v1.ResourceList { return nil }
	}
	if cfg.Changed == nil {
		cfg.Changed = func(types.UID) {}
	}
	m := &Manager{cfg: cfg, mounter: cfg.Mounter, pods: map[types.UID]*podState{}}
	if m.mounter == nil {
		m.mounter = hostMounter{}
	}
	request := cfg.RequestToken
	if request == nil {
		request = func(ctx context.Context, ns, sa string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
			return cfg.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
		}
	}
	m.tokens = newTokens(request, cfg.Now)
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.objects = newObjects(ctx, cfg.Client, cfg.Changed)
	return m
}

// Run returns when ctx ends, closing every watch. Volumes stay mounted.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.stop()
	return nil
}

// PodDir is the directory of a pod's files.
func (m *Manager) PodDir(uid types.UID) string { return filepath.Join(m.cfg.PodsDir, string(uid)) }

func (m *Manager) volumeDir(uid types.UID, plugin, name string) string {
	return filepath.Join(m.PodDir(uid), "volumes", plugin, name)
}

// Mounts returns the pod's volumes set up by the last SetUp.
func (m *Manager) Mounts(uid types.UID) map[string]Mount {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Mount{}
	if st := m.pods[uid]; st != nil {
		for k, v := range st.mounts {
			out[k] = v
		}
	}
	return out
}

// SetUp makes every volume of the pod present and current: directories
// and tmpfs mounts, hostPath checks, and the content of configMap,
// secret, downwardAPI and projected volumes (rewritten atomically when it
// changed). Volume types not supported here are skipped.
func (m *Manager) SetUp(ctx context.Context, pod *v1.Pod) Result {
	m.objects.register(pod.UID, podReferences(pod))
	m.mu.Lock()
	st := m.pods[pod.UID]
	if st == nil {
		st = &podState{mounts: map[string]Mount{}, skipped: map[string]bool{}}
		m.pods[pod.UID] = st
	}
	m.mu.Unlock()

	res := Result{Mounts: map[string]Mount{}}
	var refreshAt time.Time
	allocatable := m.cfg.Allocatable()
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		mount, next, supported, err := m.setUpVolume(ctx, pod, vol, allocatable)
		if !supported {
			m.mu.Lock()
			if !st.skipped[vol.Name] {
				st.skipped[vol.Name] = true
				slog.Warn("volume type not supported yet; mounts of it are skipped", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name)
			}
			m.mu.Unlock()
			continue
		}
		if !next.IsZero() && (refreshAt.IsZero() || next.Before(refreshAt)) {
			refreshAt = next
		}
		if err != nil {
			res.Errors = append(res.Errors, &SetUpError{Volume: vol.Name, Err: err})
			m.mu.Lock()
			prev, ok := st.mounts[vol.Name]
			m.mu.Unlock()
			if !ok && mount.HostPath != "" && setUpBefore(mount.HostPath) {
				prev, ok = mount, true // set up by an earlier kubelet
			}
			if ok {
				res.Mounts[vol.Name] = prev
			} else {
				res.Unmounted = append(res.Unmounted, vol.Name)
			}
			continue
		}
		res.Mounts[vol.Name] = mount
	}
	m.mu.Lock()
	st.mounts = res.Mounts
	m.mu.Unlock()
	if !refreshAt.IsZero() {
		res.RefreshIn = max(time.Second, refreshAt.Sub(m.cfg.Now()))
	}
	return res
}

// setUpBefore reports whether an atomic volume's directory holds data
// from an earlier set-up.
func setUpBefore(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, dataLink))
	return err == nil
}

// setUpVolume sets up one volume. mount.HostPath is set whenever the
// volume's location is known, even on error.
func (m *Manager) setUpVolume(ctx context.Context, pod *v1.Pod, vol *v1.Volume, allocatable v1.ResourceList) (mount Mount, refreshAt time.Time, supported bool, err error) {
	switch {
	case vol.EmptyDir != nil:
		dir := m.volumeDir(pod.UID, dirEmptyDir, vol.Name)
		switch vol.EmptyDir.Medium {
		case v1.StorageMediumDefault:
			err = m.plainDir(dir)
		case v1.StorageMediumMemory:
			err = m.tmpfsDir(dir, MemoryVolumeSize(pod, vol.EmptyDir.SizeLimit, allocatable))
		default:
			err = fmt.Errorf("emptyDir medium %q is not supported", vol.EmptyDir.Medium)
		}
		if gid := podFSGroup(pod); err == nil && gid != nil && !ownedBy(dir, *gid) {
			err = SetOwnership(dir, *gid, false)
		}
		return Mount{HostPath: dir}, time.Time{}, true, err

	case vol.HostPath != nil:
		return Mount{HostPath: vol.HostPath.Path}, time.Time{}, true, CheckHostPath(vol.HostPath)

	case vol.ConfigMap != nil:
		dir := m.volumeDir(pod.UID, dirConfigMap, vol.Name)
		mount = Mount{HostPath: dir, ReadOnly: true}
		cm, err := m.objects.configMap(ctx, pod.Namespace, vol.ConfigMap.Name)
		if err != nil {
			return mount, time.Time{}, true, err
		}
		payload, err := ConfigMapPayload(vol.ConfigMap, cm)
		if err != nil {
			return mount, time.Time{}, true, err
		}
		return mount, time.Time{}, true, m.write(dir, payload, 0, false, podFSGroup(pod))

	case vol.Secret != nil:
		dir := m.volumeDir(pod.UID, dirSecret, vol.Name)
		mount = Mount{HostPath: dir, ReadOnly: true}
		s, err := m.objects.secret(ctx, pod.Namespace, vol.Secret.SecretName)
		if err != nil {
			return mount, time.Time{}, true, err
		}
		payload, err := SecretPayload(vol.Secret, s)
		if err != nil {
			return mount, time.Time{}, true, err
		}
		return mount, time.Time{}, true, m.write(dir, payload, MemoryVolumeSize(pod, nil, allocatable), true, podFSGroup(pod))

	case vol.DownwardAPI != nil:
		dir := m.volumeDir(pod.UID, dirDownwardAPI, vol.Name)
		mount = Mount{HostPath: dir, ReadOnly: true}
		payload, err := DownwardAPIPayload(vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode, pod, allocatable)
		if err != nil {
			return mount, time.Time{}, true, err
		}
		return mount, time.Time{}, true, m.write(dir, payload, MemoryVolumeSize(pod, nil, allocatable), true, podFSGroup(pod))

	case vol.Projected != nil:
		dir := m.volumeDir(pod.UID, dirProjected, vol.Name)
		mount = Mount{HostPath: dir, ReadOnly: true}
		src := &projectedSources{ctx: ctx, m: m, pod: pod}
		payload, err := ProjectedPayload(vol.Projected, pod, allocatable, src)
		if err != nil {
			return mount, src.refreshAt, true, err
		}
		return mount, src.refreshAt, true, m.write(dir, payload, MemoryVolumeSize(pod, nil, allocatable), true, podFSGroup(pod))
	}
	return Mount{}, time.Time{}, false, nil
}

// write prepares an atomic volume's directory (on a tmpfs when memory is
// set) and writes the payload into it; with an fsGroup the files get
// that group and group read permission.
func (m *Manager) write(dir string, payload Payload, size int64, memory bool, fsGroup *int64) error {
	var err error
	if memory {
		err = m.tmpfsDir(dir, size)
	} else {
		err = m.plainDir(dir)
	}
	if err != nil {
		return err
	}
	if fsGroup != nil {
		payload = withGroupBits(payload, fsGroupReadOnlyMask)
	}
	changed, err := WriteAtomic(dir, payload, m.cfg.Now())
	if err == nil && fsGroup != nil && (changed || !ownedBy(dir, *fsGroup)) {
		err = SetOwnership(dir, *fsGroup, true)
	}
	return err
}

// plainDir is an emptyDir on the node's disk: mode 0777.
func (m *Manager) plainDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	return chmodIfNeeded(dir, 0o777)
}

// tmpfsDir is a directory with a tmpfs mounted on it (once: a directory
// that already is a mount point, e.g. after a kubelet restart, is kept).
func (m *Manager) tmpfsDir(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	mounted, err := m.mounter.IsMountPoint(dir)
	if err != nil {
		return err
	}
	if !mounted {
		if err := m.mounter.MountTmpfs(dir, size); err != nil {
			if !errors.Is(err, syscall.EPERM) {
				return err
			}
			// Not allowed to mount (an unprivileged kubelet): keep the
			// volume on disk rather than fail every pod.
			slog.Warn("cannot mount tmpfs; memory-backed volume kept on disk", "dir", dir, "err", err)
		}
	}
	return chmodIfNeeded(dir, 0o777)
}

// chmodIfNeeded sets the permission bits unless they already match (a
// fresh tmpfs is 1777 and keeps its sticky bit, as upstream's do).
func chmodIfNeeded(dir string, perm os.FileMode) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if info.Mode().Perm() != perm {
		return os.Chmod(dir, perm)
	}
	return nil
}

// TearDown releases what the manager holds for a pod (watches, tokens)
// and unmounts and removes the pod's directory.
func (m *Manager) TearDown(uid types.UID) error {
	m.objects.release(uid)
	m.tokens.forget(uid)
	m.mu.Lock()
	delete(m.pods, uid)
	m.mu.Unlock()
	dir := m.PodDir(uid)
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	if err := m.mounter.UnmountUnder(dir); err != nil {
		// Never remove files through a mount that is still there.
		return fmt.Errorf("tear down volumes of pod %s: %w", uid, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod directory %s: %w", dir, err)
	}
	return nil
}

// projectedSources reads what projected volumes need for one pod.
type projectedSources struct {
	ctx       context.Context
	m         *Manager
	pod       *v1.Pod
	refreshAt time.Time
}

func (s *projectedSources) ConfigMap(name string) (*v1.ConfigMap, error) {
	return s.m.objects.configMap(s.ctx, s.pod.Namespace, name)
}

func (s *projectedSources) Secret(name string) (*v1.Secret, error) {
	return s.m.objects.secret(s.ctx, s.pod.Namespace, name)
}

func (s *projectedSources) Token(p *v1.ServiceAccountTokenProjection) (string, error) {
	token, at, err := s.m.tokens.get(s.ctx, s.pod, p)
	if err != nil {
		return "", err
	}
	if s.refreshAt.IsZero() || at.Before(s.refreshAt) {
		s.refreshAt = at
	}
	return token, nil
}

// MemoryVolumeSize is the size of a memory-backed volume, as upstream
// sizes them: the node's allocatable memory, lowered to the pod's memory
// limit when it has one, lowered to sizeLimit when set. 0 means unknown
// (the kernel's default applies).
func MemoryVolumeSize(pod *v1.Pod, sizeLimit *resource.Quantity, allocatable v1.ResourceList) int64 {
	size := int64(0)
	if q, ok := allocatable[v1.ResourceMemory]; ok {
		size = q.Value()
	}
	lower := func(v int64) {
		if v > 0 && (size == 0 || v < size) {
			size = v
		}
	}
	lower(podMemoryLimit(pod))
	if sizeLimit != nil {
		lower(sizeLimit.Value())
	}
	return size
}

// podMemoryLimit is the pod's memory limit: the pod-level limit, else the
// sum of its containers' limits (at least the largest init container's)
// when every container has one; 0 when unlimited.
func podMemoryLimit(pod *v1.Pod) int64 {
	if r := pod.Spec.Resources; r != nil {
		if q, ok := r.Limits[v1.ResourceMemory]; ok {
			return q.Value()
		}
	}
	var sum int64
	for _, c := range pod.Spec.Containers {
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok {
			return 0
		}
		sum += q.Value()
	}
	for _, c := range pod.Spec.InitContainers {
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok {
			return 0
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum += q.Value() // a sidecar runs beside the app containers
			continue
		}
		sum = max(sum, q.Value())
	}
	return sum
}
