package kubelet

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kedge-dev/kedge/internal/kubelet/server"
)

// evictionInterval is how often the eviction loop observes the node
// (upstream's housekeeping interval).
const evictionInterval = 10 * time.Second

// observeSignals measures the eviction signals: memory.available as
// upstream computes it (capacity minus the root cgroup's working set,
// falling back to MemAvailable), and the file system holding the data
// directory (pods, logs, and the images of a kedge-run containerd) as
// both nodefs and imagefs.
func (k *Kubelet) observeSignals() map[string]signalObservation {
	obs := map[string]signalObservation{}
	if capacity := memTotal(); capacity > 0 {
		if avail, ok := memoryAvailable(capacity); ok {
			obs[signalMemoryAvailable] = signalObservation{Available: avail, Capacity: capacity}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(k.cfg.DataDir, &st); err == nil {
		bsize := int64(st.Bsize)
		fs := signalObservation{Available: int64(st.Bavail) * bsize, Capacity: int64(st.Blocks) * bsize}
		obs[signalNodeFsAvailable] = fs
		obs[signalImageFsAvailable] = fs
		if st.Files > 0 {
			inodes := signalObservation{Available: int64(st.Ffree), Capacity: int64(st.Files)}
			obs[signalNodeFsInodesFree] = inodes
			obs[signalImageFsInodesFree] = inodes
		}
	}
	if pidMax, procs, ok := server.PIDUsage(); ok {
		obs[signalPIDAvailable] = signalObservation{Available: pidMax - procs, Capacity: pidMax}
	}
	return obs
}

// memoryAvailable is capacity minus the working set (usage less inactive
// file pages) of the root memory cgroup (v1), else MemAvailable.
func memoryAvailable(capacity int64) (int64, bool) {
	usage, err1 := os.ReadFile("/sys/fs/cgroup/memory/memory.usage_in_bytes")
	stat, err2 := os.ReadFile("/sys/fs/cgroup/memory/memory.stat")
	if err1 == nil && err2 == nil {
		u, err := strconv.ParseInt(strings.TrimSpace(string(usage)), 10, 64)
		if inactive, ok := statValue(string(stat), "total_inactive_file"); err == nil && ok {
			ws := max(0, u-inactive)
			return max(0, capacity-ws), true
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// statValue reads one "key value" line of a cgroup stat file.
func statValue(stat, key string) (int64, bool) {
	for _, line := range strings.Split(stat, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// nodePressure is the node's pressure, for its conditions.
func (k *Kubelet) nodePressure() nodePressure {
	return k.notePressure(pressureOf(thresholdsMet(k.thresholds, k.observeSignals())), time.Now())
}

// notePressure records the pressure observed now and returns the one the
// node reports: a condition stays true for the transition period after
// its signal recovers, as upstream's does, so that the node does not
// flap. A pressure that is new makes the node loop post it at once.
func (k *Kubelet) notePressure(now nodePressure, at time.Time) nodePressure {
	k.mu.Lock()
	defer k.mu.Unlock()
	recent := func(kind string, observed bool) bool {
		last, seen := k.pressureLast[kind]
		if observed {
			k.pressureLast[kind] = at
			if !seen || at.Sub(last) >= k.cfg.EvictionPressureTransitionPeriod {
				k.poke()
			}
			return true
		}
		return seen && at.Sub(last) < k.cfg.EvictionPressureTransitionPeriod
	}
	return nodePressure{Memory: recent("memory", now.Memory), Disk: recent("disk", now.Disk), PID: recent("pid", now.PID)}
}

// evictionLoop is upstream's eviction manager, one round every
// evictionInterval: a pod over a local storage limit (emptyDir sizeLimit,
// ephemeral-storage limits) is evicted; otherwise, while memory.available
// is below its threshold, the pod using most beyond its memory request
// (lower priority first) is; while a disk signal is, unused images are
// removed first and, if that is not enough, the pod using most local
// storage beyond its request. Evicted pods are stopped and reported Failed
// with reason Evicted. PID pressure only sets the node condition.
func (k *Kubelet) evictionLoop(ctx context.Context) {
	t := time.NewTicker(evictionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.evictionRound(ctx)
	}
}

func (k *Kubelet) evictionRound(ctx context.Context) {
	pods := k.evictionCandidates()
	for _, pod := range pods {
		if !hasStorageLimit(pod) {
			continue // nothing to measure
		}
		if msg := storageLimitExceeded(pod, k.podStorageUse(ctx, pod)); msg != "" {
			k.evict(ctx, pod, msg)
			return
		}
	}
	met := thresholdsMet(k.thresholds, k.observeSignals())
	k.notePressure(pressureOf(met), time.Now())
	for _, m := range met {
		if m.Threshold.Signal == signalMemoryAvailable {
			usage := map[string]podUsage{}
			for _, pod := range pods {
				usage[string(pod.UID)] = k.podMemoryUsage(pod)
			}
			k.evictOne(ctx, pods, m, v1.ResourceMemory, usage)
			return
		}
	}
	for _, m := range met {
		if signalResource(m.Threshold.Signal) != v1.ResourceEphemeralStorage && signalResource(m.Threshold.Signal) != "inodes" {
			continue
		}
		// Node-level resources go first: unused images.
		if k.imageGC != nil {
			if err := k.imageGC.Collect(ctx); err != nil {
				slog.Warn("eviction: reclaim images", "err", err)
			}
		}
		still := thresholdsMet([]evictionThreshold{m.Threshold}, k.observeSignals())
		if len(still) == 0 {
			return
		}
		usage := map[string]podUsage{}
		for _, pod := range pods {
			usage[string(pod.UID)] = k.podStorageUse(ctx, pod).podUsage()
		}
		k.evictOne(ctx, pods, still[0], v1.ResourceEphemeralStorage, usage)
		return
	}
}

// evictionCandidates are the node's running pods; mirror pods stand for
// static pods, which are critical: never evicted.
func (k *Kubelet) evictionCandidates() []*v1.Pod {
	var out []*v1.Pod
	for _, obj := range k.pods.List() {
		pod, ok := obj.(*v1.Pod)
		if !ok || isMirrorPod(pod) || pod.Spec.NodeName != k.cfg.NodeName || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			continue
		}
		out = append(out, pod)
	}
	return out
}

// evictOne evicts the first pod in eviction order for the resource.
func (k *Kubelet) evictOne(ctx context.Context, pods []*v1.Pod, met thresholdMet, res v1.ResourceName, usage map[string]podUsage) {
	if len(pods) == 0 {
		return
	}
	victim := rankForEviction(pods, res, usage)[0]
	slog.Warn("evicting pod: node low on resource", "pod", podFormat(victim), "signal", met.Threshold.Signal, "available", met.Available.String())
	k.evict(ctx, victim, evictionMessage(victim, met, usage[string(victim.UID)]))
}

// evict reports a pod Failed with reason Evicted; its worker then stops
// it without grace (stopFinished), so nothing else races the stop.
func (k *Kubelet) evict(ctx context.Context, victim *v1.Pod, msg string) {
	k.recorder.Event(victim, v1.EventTypeWarning, reasonEvicted, msg)
	rt, err := k.podRuntime(ctx, victim.UID)
	if err != nil {
		slog.Error("eviction", "pod", podFormat(victim), "err", err)
		return
	}
	st := computePodStatus(victim, k.statusInput(victim, rt, true))
	if err := k.writeStatus(ctx, victim, evictedStatus(victim, st, msg, time.Now())); err != nil {
		slog.Error("eviction: pod status", "pod", podFormat(victim), "err", err)
		return
	}
	k.queue.Add(victim.UID)
}

// podStorageUse measures a pod's local ephemeral storage: each running
// container's writable layer (CRI ContainerStats) and log files, and each
// emptyDir on disk.
func (k *Kubelet) podStorageUse(ctx context.Context, pod *v1.Pod) storageUse {
	use := storageUse{Containers: map[string]int64{}, EmptyDirs: map[string]int64{}}
	rt, err := k.podRuntime(ctx, pod.UID)
	if err != nil {
		return use
	}
	logs := podLogDir(k.cfg.PodLogsDir, pod)
	for _, c := range rt.Containers {
		if !running(c) {
			continue
		}
		name := c.Metadata.GetName()
		logBytes, _ := server.DirUsage(filepath.Join(logs, name))
		n := int64(logBytes)
		if st, err := k.runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: c.Id}); err == nil {
			n += int64(st.GetStats().GetWritableLayer().GetUsedBytes().GetValue())
		}
		use.Containers[name] += n
	}
	for _, vol := range pod.Spec.Volumes {
		if vol.EmptyDir != nil && vol.EmptyDir.Medium != v1.StorageMediumMemory {
			used, _ := server.DirUsage(filepath.Join(k.podDir(pod.UID), "volumes", "kubernetes.io~empty-dir", vol.Name))
			use.EmptyDirs[vol.Name] = int64(used)
		}
	}
	return use
}

// podMemoryUsage is the working set of each container of the pod, read
// from the container cgroups below the pod cgroup (v1 memory hierarchy).
func (k *Kubelet) podMemoryUsage(pod *v1.Pod) podUsage {
	out := podUsage{}
	rt, err := k.podRuntime(context.Background(), pod.UID)
	if err != nil {
		return out
	}
	base := filepath.Join("/sys/fs/cgroup/memory", k.cgroups.podCgroup(pod))
	for _, c := range rt.Containers {
		if !running(c) {
			continue
		}
		dir := filepath.Join(base, c.Id)
		usage, err := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes"))
		if err != nil {
			continue
		}
		u, err := strconv.ParseInt(strings.TrimSpace(string(usage)), 10, 64)
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(dir, "memory.stat")); err == nil {
			if inactive, ok := statValue(string(stat), "total_inactive_file"); ok {
				u = max(0, u-inactive)
			}
		}
		out[c.Metadata.GetName()] = *resource.NewQuantity(u, resource.BinarySI)
	}
	return out
}
