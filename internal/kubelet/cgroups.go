package kubelet

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cgroupManager creates and removes pod-level cgroups on the cgroupfs
// driver (runc removes only container cgroups). The layout is upstream's
// below a per-node root, so two nodes on one kernel never touch each
// other's pods:
//
//	<root>/kubepods/pod<uid>             Guaranteed
//	<root>/kubepods/burstable/pod<uid>   Burstable
//	<root>/kubepods/besteffort/pod<uid>  BestEffort
type cgroupManager struct {
	root   string   // e.g. /kedge/node1
	mounts []string // hierarchy mount points (v1 controllers, name=systemd, unified)
}

func newCgroupManager(root string) (*cgroupManager, error) {
	mounts, err := cgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return &cgroupManager{root: root, mounts: mounts}, nil
}

// cgroupMounts lists the mount points of cgroup (v1) and cgroup2 file
// systems.
func cgroupMounts(mountinfo string) ([]string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint opts ... - fstype source superopts
		line := s.Text()
		sep := strings.Index(line, " - ")
		if sep < 0 {
			continue
		}
		fields, tail := strings.Fields(line[:sep]), strings.Fields(line[sep+3:])
		if len(fields) < 5 || len(tail) < 1 {
			continue
		}
		if tail[0] == "cgroup" || tail[0] == "cgroup2" {
			out = append(out, fields[4])
		}
	}
	return out, s.Err()
}

// podCgroup returns the cgroup parent of a pod (an absolute cgroup path).
func (m *cgroupManager) podCgroup(pod *v1.Pod) string {
	return m.podCgroupFor(qosClass(pod), pod.UID)
}

func (m *cgroupManager) podCgroupFor(qos v1.PodQOSClass, uid types.UID) string {
	base := filepath.Join("/", m.root, "kubepods")
	switch qos {
	case v1.PodQOSBurstable:
		base = filepath.Join(base, "burstable")
	case v1.PodQOSBestEffort:
		base = filepath.Join(base, "besteffort")
	}
	return filepath.Join(base, "pod"+string(uid))
}

// ensure creates the pod cgroup in every hierarchy and applies pod-level
// limits (cpu shares from requests, quota and memory limit when every
// container has one).
func (m *cgroupManager) ensure(pod *v1.Pod) error {
	path := m.podCgroup(pod)
	for _, mnt := range m.mounts {
		dir := filepath.Join(mnt, path)
		if err := mkdirCgroup(mnt, dir); err != nil {
			return fmt.Errorf("create pod cgroup %s: %w", dir, err)
		}
	}
	shares, quota, memory := podLimits(pod)
	m.write(path, "cpu", "cpu.shares", strconv.FormatInt(shares, 10))
	if quota > 0 {
		m.write(path, "cpu", "cpu.cfs_period_us", "100000")
		m.write(path, "cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
	}
	if memory > 0 {
		m.write(path, "memory", "memory.limit_in_bytes", strconv.FormatInt(memory, 10))
	}
	return nil
}

// write sets a v1 controller file, best effort (absent on cgroup v2).
func (m *cgroupManager) write(path, controller, file, value string) {
	for _, mnt := range m.mounts {
		if !strings.Contains(","+filepath.Base(mnt)+",", ","+controller+",") {
			continue
		}
		os.WriteFile(filepath.Join(mnt, path, file), []byte(value), 0o644)
	}
}

// mkdirCgroup creates dir and its parents below mnt; in cpuset hierarchies
// each new directory inherits cpus and mems from its parent (v1 leaves
// them empty, and an empty cpuset cannot hold tasks).
func mkdirCgroup(mnt, dir string) error {
	rel, err := filepath.Rel(mnt, dir)
	if err != nil {
		return err
	}
	cur := mnt
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		parent := cur
		cur = filepath.Join(cur, part)
		if err := os.Mkdir(cur, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(parent, f)); err == nil {
				os.WriteFile(filepath.Join(cur, f), v, 0o644)
			}
		}
	}
	return nil
}

// remove deletes the pod cgroup (all QoS placements) from every hierarchy,
// including container cgroups runc left behind. It fails while tasks
// remain.
func (m *cgroupManager) remove(uid types.UID) error {
	var errs []error
	for _, qos := range []v1.PodQOSClass{v1.PodQOSGuaranteed, v1.PodQOSBurstable, v1.PodQOSBestEffort} {
		path := m.podCgroupFor(qos, uid)
		for _, mnt := range m.mounts {
			dir := filepath.Join(mnt, path)
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if e.IsDir() {
					if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
						errs = append(errs, err)
					}
				}
			}
			if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// list returns the UIDs of the pod cgroups present under this node's root.
func (m *cgroupManager) list() []types.UID {
	seen := map[types.UID]bool{}
	var out []types.UID
	for _, mnt := range m.mounts {
		for _, sub := range []string{"", "burstable", "besteffort"} {
			entries, err := os.ReadDir(filepath.Join(mnt, m.root, "kubepods", sub))
			if err != nil {
				continue
			}
			for _, e := range entries {
				if uid, ok := strings.CutPrefix(e.Name(), "pod"); ok && e.IsDir() && !seen[types.UID(uid)] {
					seen[types.UID(uid)] = true
					out = append(out, types.UID(uid))
				}
			}
		}
	}
	return out
}

// podLimits sums container requests and limits into pod-level cgroup
// values: cpu shares, CFS quota (0: none) and memory limit (0: none).
func podLimits(pod *v1.Pod) (shares, quota, memory int64) {
	var cpuReq, cpuLim, memLim int64
	allCPU, allMem := true, true
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests[v1.ResourceCPU]; ok {
			cpuReq += q.MilliValue()
		}
		if q, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
			cpuLim += q.MilliValue()
		} else {
			allCPU = false
		}
		if q, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
			memLim += q.Value()
		} else {
			allMem = false
		}
	}
	shares = max(2, cpuReq*1024/1000)
	if allCPU && cpuLim > 0 {
		quota = max(1000, cpuLim*100000/1000)
	}
	if allMem && memLim > 0 {
		memory = memLim
	}
	return shares, quota, memory
}
