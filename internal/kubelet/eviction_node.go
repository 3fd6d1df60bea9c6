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
			obs[signalNodeFsInodesFree] = signalObservation{Available: int64(st.Ffree), Capacity: int64(st.Files)}
		}
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

// nodePressure is the node's current pressure, for its conditions.
func (k *Kubelet) nodePressure() nodePressure {
	return pressureOf(thresholdsMet(defaultEvictionThresholds(), k.observeSignals()))
}

// evictionLoop evicts one pod per round while memory.available is below
// its threshold, as upstream's eviction manager does: the pod using most
// beyond its request (lower priority first) is stopped and reported
// Failed with reason Evicted. Disk pressure only sets the node condition.
func (k *Kubelet) evictionLoop(ctx context.Context) {
	t := time.NewTicker(evictionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, met := range thresholdsMet(defaultEvictionThresholds(), k.observeSignals()) {
			if met.Threshold.Signal == signalMemoryAvailable {
				k.evictOne(ctx, met)
				break
			}
		}
	}
}

// evictOne stops the first pod in eviction order and writes its status.
func (k *Kubelet) evictOne(ctx context.Context, met thresholdMet) {
	var candidates []*v1.Pod
	usage := map[string]podUsage{}
	for _, obj := range k.pods.List() {
		pod, ok := obj.(*v1.Pod)
		if !ok || pod.Spec.NodeName != k.cfg.NodeName || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			continue
		}
		candidates = append(candidates, pod)
		usage[string(pod.UID)] = k.podMemoryUsage(pod)
	}
	if len(candidates) == 0 {
		return
	}
	victim := rankForEviction(candidates, v1.ResourceMemory, usage)[0]
	msg := evictionMessage(victim, met, usage[string(victim.UID)])
	slog.Warn("evicting pod: node low on memory", "pod", podFormat(victim), "available", met.Available.String())
	k.recorder.Event(victim, v1.EventTypeWarning, reasonEvicted, msg)
	// The Failed status goes first, so syncs of the pod stop it rather
	// than restart what is being killed.
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
	if err := k.killPod(ctx, victim, rt, 0); err != nil {
		slog.Error("eviction: stop pod", "pod", podFormat(victim), "err", err)
	}
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
