package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sampleInterval is how often CPU counters are sampled for usage rates
// (usageNanoCores), as cAdvisor's housekeeping does.
const sampleInterval = 10 * time.Second

type cpuSample struct {
	at    time.Time
	usage uint64
}

// statsCollector gathers the summary: the node from /proc and statfs,
// pods and containers from CRI and the pod cgroups.
type statsCollector struct {
	cfg Config
	cg  cgroupFS

	mu sync.Mutex
	// cpu holds the last two samples per counter ("node", "pods",
	// "pod/<uid>", "ctr/<id>").
	cpu map[string][2]cpuSample
}

func newStatsCollector(cfg Config) *statsCollector {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	return &statsCollector{cfg: cfg, cg: parseCgroupMounts(mi), cpu: map[string][2]cpuSample{}}
}

// run samples CPU counters until ctx ends.
func (c *statsCollector) run(ctx context.Context) {
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	for {
		if _, err := c.summary(ctx, true); err != nil && ctx.Err() == nil {
			slog.Debug("kubelet server: sample stats", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rate is the CPU usage in nanocores between the last two samples of key;
// a sampling pass (record) first adds the current value.
func (c *statsCollector) rate(key string, now time.Time, usage uint64, record bool, seen map[string]bool) *uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.cpu[key]
	if record {
		s = [2]cpuSample{s[1], {at: now, usage: usage}}
		c.cpu[key] = s
		seen[key] = true
	}
	if s[0].at.IsZero() || !s[1].at.After(s[0].at) || s[1].usage < s[0].usage {
		return nil
	}
	nanos := uint64(float64(s[1].usage-s[0].usage) / s[1].at.Sub(s[0].at).Seconds())
	return &nanos
}

func (c *statsCollector) forget(seen map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.cpu {
		if !seen[k] {
			delete(c.cpu, k)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func fsStats(t metav1.Time, u fsUsage) *FsStats {
	return &FsStats{Time: t, CapacityBytes: ptr(u.capacity), AvailableBytes: ptr(u.available), UsedBytes: ptr(u.used),
		Inodes: ptr(u.inodes), InodesFree: ptr(u.inodesFree), InodesUsed: ptr(u.inodes - u.inodesFree)}
}

func memoryStats(t metav1.Time, m cgroupMemory) *MemoryStats {
	s := &MemoryStats{Time: t, UsageBytes: ptr(m.usage), WorkingSetBytes: ptr(m.workingSet), RSSBytes: ptr(m.rss),
		PageFaults: ptr(m.pageFaults), MajorPageFaults: ptr(m.majorPageFaults)}
	if m.limit > 0 && m.limit > m.workingSet {
		s.AvailableBytes = ptr(m.limit - m.workingSet)
	}
	return s
}

// summary collects the stats; record makes it a sampling pass.
func (c *statsCollector) summary(ctx context.Context, record bool) (*Summary, error) {
	now := time.Now()
	t := metav1.NewTime(now)
	seen := map[string]bool{}
	cpu := func(key string, usage uint64) *CPUStats {
		return &CPUStats{Time: t, UsageCoreNanoSeconds: ptr(usage), UsageNanoCores: c.rate(key, now, usage, record, seen)}
	}
	out := &Summary{Node: c.nodeStats(ctx, t, cpu), Pods: []PodStats{}}
	pods, err := c.podStats(ctx, t, cpu)
	if err != nil {
		return out, err
	}
	out.Pods = pods
	if record {
		c.forget(seen)
	}
	return out, nil
}

func (c *statsCollector) nodeStats(ctx context.Context, t metav1.Time, cpu func(string, uint64) *CPUStats) NodeStats {
	n := NodeStats{NodeName: c.cfg.NodeName}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		if busy, boot, ok := procStat(data); ok {
			n.CPU = cpu("node", busy)
			n.StartTime = metav1.NewTime(time.Unix(boot, 0))
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		mi := keyValues(data)
		vm := map[string]uint64{}
		if data, err := os.ReadFile("/proc/vmstat"); err == nil {
			vm = keyValues(data)
		}
		total := mi["MemTotal"]
		usage := total - min(total, mi["MemFree"])
		ws := usage - min(usage, mi["Inactive(file)"])
		n.Memory = &MemoryStats{Time: t, AvailableBytes: ptr(total - ws), UsageBytes: ptr(usage), WorkingSetBytes: ptr(ws),
			RSSBytes: ptr(mi["AnonPages"]), PageFaults: ptr(vm["pgfault"]), MajorPageFaults: ptr(vm["pgmajfault"])}
		if st := mi["SwapTotal"]; st > 0 {
			n.Swap = &SwapStats{Time: t, SwapAvailableBytes: ptr(mi["SwapFree"]), SwapUsageBytes: ptr(st - min(st, mi["SwapFree"]))}
		}
	}
	if data, err := os.ReadFile("/proc/net/dev"); err == nil {
		if ns := networkStats(netDev(data)); ns != nil {
			ns.Time = t
			n.Network = ns
		}
	}
	if u, ok := statFS(c.cfg.RootDir); ok {
		n.Fs = fsStats(t, u)
	}
	if img := c.imageFs(ctx, t); img != nil {
		n.Runtime = &RuntimeStats{ImageFs: img, ContainerFs: img}
	}
	rl := &RlimitStats{Time: t}
	if max, running, ok := PIDUsage(); ok {
		rl.MaxPID, rl.NumOfRunningProcesses = ptr(max), ptr(running)
	}
	n.Rlimit = rl
	pods := filepath.Join(c.cfg.CgroupRoot, "kubepods")
	if usage, ok := c.cg.cpuUsage(pods); ok {
		sc := ContainerStats{Name: "pods", StartTime: n.StartTime, CPU: cpu("pods", usage)}
		if m, ok := c.cg.memoryUsage(pods); ok {
			sc.Memory = memoryStats(t, m)
		}
		n.SystemContainers = []ContainerStats{sc}
	}
	return n
}

// imageFs is the runtime's image file system: usage from CRI, size from
// statfs of its mount point.
func (c *statsCollector) imageFs(ctx context.Context, t metav1.Time) *FsStats {
	resp, err := c.cfg.Runtime.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(resp.ImageFilesystems) == 0 {
		return nil
	}
	fs := resp.ImageFilesystems[0]
	out := &FsStats{Time: t}
	if fs.UsedBytes != nil {
		out.UsedBytes = ptr(fs.UsedBytes.Value)
	}
	if fs.InodesUsed != nil {
		out.InodesUsed = ptr(fs.InodesUsed.Value)
	}
	if fs.FsId != nil {
		if u, ok := statFS(fs.FsId.Mountpoint); ok {
			out.CapacityBytes, out.AvailableBytes = ptr(u.capacity), ptr(u.available)
			out.Inodes, out.InodesFree = ptr(u.inodes), ptr(u.inodesFree)
		}
	}
	return out
}

// podCgroup finds a pod's cgroup below the node's root, whatever its QoS
// class.
func (c *statsCollector) podCgroup(uid string) (string, bool) {
	for _, qos := range []string{"", "burstable", "besteffort"} {
		cg := filepath.Join(c.cfg.CgroupRoot, "kubepods", qos, "pod"+uid)
		if _, ok := c.cg.cpuUsage(cg); ok {
			return cg, true
		}
	}
	return "", false
}

func (c *statsCollector) podStats(ctx context.Context, t metav1.Time, cpu func(string, uint64) *CPUStats) ([]PodStats, error) {
	rt := c.cfg.Runtime
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
	if err != nil {
		return nil, fmt.Errorf("list pod sandboxes: %w", err)
	}
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	cstats, err := rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list container stats: %w", err)
	}
	byID := map[string]*runtimeapi.ContainerStats{}
	for _, s := range cstats.Stats {
		if s.Attributes != nil {
			byID[s.Attributes.Id] = s
		}
	}
	sbStats := map[string]*runtimeapi.PodSandboxStats{}
	if resp, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{}); err == nil {
		for _, s := range resp.Stats {
			if s.Attributes != nil {
				sbStats[s.Attributes.Id] = s
			}
		}
	}
	inSandbox := map[string][]*runtimeapi.Container{}
	for _, ctr := range ctrs.Containers {
		inSandbox[ctr.PodSandboxId] = append(inSandbox[ctr.PodSandboxId], ctr)
	}
	var nodefs *fsUsage
	if u, ok := statFS(c.cfg.RootDir); ok {
		nodefs = &u
	}
	sort.Slice(sbs.Items, func(i, j int) bool { return sbs.Items[i].CreatedAt > sbs.Items[j].CreatedAt })
	done := map[string]bool{}
	var out []PodStats
	for _, sb := range sbs.Items {
		ref := PodReference{Name: sb.Labels["io.kubernetes.pod.name"], Namespace: sb.Labels["io.kubernetes.pod.namespace"], UID: sb.Labels["io.kubernetes.pod.uid"]}
		if ref.UID == "" || done[ref.UID] {
			continue
		}
		done[ref.UID] = true
		ps := PodStats{PodRef: ref, StartTime: metav1.NewTime(time.Unix(0, sb.CreatedAt)), Containers: []ContainerStats{}}
		var sumCPU, sumMem uint64
		var haveCPU, haveMem bool
		eph := &FsStats{Time: t, UsedBytes: ptr(uint64(0)), InodesUsed: ptr(uint64(0))}
		if nodefs != nil {
			eph.CapacityBytes, eph.AvailableBytes = ptr(nodefs.capacity), ptr(nodefs.available)
			eph.Inodes, eph.InodesFree = ptr(nodefs.inodes), ptr(nodefs.inodesFree)
		}
		for _, ctr := range inSandbox[sb.Id] {
			name := ctr.GetMetadata().GetName()
			cs := ContainerStats{Name: name, StartTime: metav1.NewTime(time.Unix(0, ctr.CreatedAt))}
			if st := byID[ctr.Id]; st != nil {
				if u := st.GetCpu().GetUsageCoreNanoSeconds(); u != nil {
					cs.CPU = cpu("ctr/"+ctr.Id, u.Value)
					sumCPU, haveCPU = sumCPU+u.Value, true
				}
				if m := st.GetMemory(); m != nil {
					cs.Memory = &MemoryStats{Time: t}
					set := func(dst **uint64, v *runtimeapi.UInt64Value) {
						if v != nil {
							*dst = ptr(v.Value)
						}
					}
					set(&cs.Memory.WorkingSetBytes, m.WorkingSetBytes)
					if m.AvailableBytes.GetValue() > 0 { // 0: no limit
						set(&cs.Memory.AvailableBytes, m.AvailableBytes)
					}
					set(&cs.Memory.UsageBytes, m.UsageBytes)
					set(&cs.Memory.RSSBytes, m.RssBytes)
					set(&cs.Memory.PageFaults, m.PageFaults)
					set(&cs.Memory.MajorPageFaults, m.MajorPageFaults)
					if m.WorkingSetBytes != nil {
						sumMem, haveMem = sumMem+m.WorkingSetBytes.Value, true
					}
				}
				if wl := st.GetWritableLayer(); wl != nil {
					cs.Rootfs = &FsStats{Time: t}
					if wl.UsedBytes != nil {
						cs.Rootfs.UsedBytes = ptr(wl.UsedBytes.Value)
						*eph.UsedBytes += wl.UsedBytes.Value
					}
					if wl.InodesUsed != nil {
						cs.Rootfs.InodesUsed = ptr(wl.InodesUsed.Value)
						*eph.InodesUsed += wl.InodesUsed.Value
					}
				}
			}
			if c.cfg.PodLogsDir != "" {
				dir := filepath.Join(c.cfg.PodLogsDir, fmt.Sprintf("%s_%s_%s", ref.Namespace, ref.Name, ref.UID), name)
				used, inodes := DirUsage(dir)
				cs.Logs = &FsStats{Time: t, UsedBytes: ptr(used), InodesUsed: ptr(inodes)}
				if nodefs != nil {
					cs.Logs.CapacityBytes, cs.Logs.AvailableBytes = ptr(nodefs.capacity), ptr(nodefs.available)
				}
				*eph.UsedBytes += used
				*eph.InodesUsed += inodes
			}
			ps.Containers = append(ps.Containers, cs)
		}
		sort.Slice(ps.Containers, func(i, j int) bool { return ps.Containers[i].Name < ps.Containers[j].Name })
		if cg, ok := c.podCgroup(ref.UID); ok {
			if usage, ok := c.cg.cpuUsage(cg); ok {
				ps.CPU = cpu("pod/"+ref.UID, usage)
			}
			if m, ok := c.cg.memoryUsage(cg); ok {
				ps.Memory = memoryStats(t, m)
			}
			if n, ok := c.cg.processes(cg); ok {
				ps.ProcessStats = &ProcessStats{ProcessCount: ptr(n)}
			}
		}
		if ps.CPU == nil && haveCPU {
			ps.CPU = cpu("pod/"+ref.UID, sumCPU)
		}
		if ps.Memory == nil && haveMem {
			ps.Memory = &MemoryStats{Time: t, WorkingSetBytes: ptr(sumMem)}
		}
		if net := sbStats[sb.Id].GetLinux().GetNetwork(); net != nil {
			ps.Network = sandboxNetwork(t, net)
		}
		ps.EphemeralStorage = eph
		out = append(out, ps)
	}
	return out, nil
}

func sandboxNetwork(t metav1.Time, n *runtimeapi.NetworkUsage) *NetworkStats {
	conv := func(i *runtimeapi.NetworkInterfaceUsage) InterfaceStats {
		s := InterfaceStats{Name: i.Name}
		if i.RxBytes != nil {
			s.RxBytes = ptr(i.RxBytes.Value)
		}
		if i.RxErrors != nil {
			s.RxErrors = ptr(i.RxErrors.Value)
		}
		if i.TxBytes != nil {
			s.TxBytes = ptr(i.TxBytes.Value)
		}
		if i.TxErrors != nil {
			s.TxErrors = ptr(i.TxErrors.Value)
		}
		return s
	}
	out := &NetworkStats{Time: t}
	if n.DefaultInterface != nil {
		out.InterfaceStats = conv(n.DefaultInterface)
	}
	for _, i := range n.Interfaces {
		out.Interfaces = append(out.Interfaces, conv(i))
	}
	return out
}

func (s *Server) serveSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.stats.summary(r.Context(), false)
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("Internal Error: failed to get summary stats: %v", err))
		return
	}
	if onlyCPUAndMemory(r) {
		sum = cpuAndMemory(sum)
	}
	writeJSON(w, sum)
}

// onlyCPUAndMemory: ?only_cpu_and_memory=true trims the summary, as
// metrics-server asks.
func onlyCPUAndMemory(r *http.Request) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get("only_cpu_and_memory"))
	return v
}

func cpuAndMemory(s *Summary) *Summary {
	out := &Summary{Node: NodeStats{NodeName: s.Node.NodeName, StartTime: s.Node.StartTime, CPU: s.Node.CPU, Memory: s.Node.Memory}, Pods: []PodStats{}}
	for _, sc := range s.Node.SystemContainers {
		out.Node.SystemContainers = append(out.Node.SystemContainers, ContainerStats{Name: sc.Name, StartTime: sc.StartTime, CPU: sc.CPU, Memory: sc.Memory})
	}
	for _, p := range s.Pods {
		np := PodStats{PodRef: p.PodRef, StartTime: p.StartTime, CPU: p.CPU, Memory: p.Memory, Containers: []ContainerStats{}}
		for _, c := range p.Containers {
			np.Containers = append(np.Containers, ContainerStats{Name: c.Name, StartTime: c.StartTime, CPU: c.CPU, Memory: c.Memory})
		}
		out.Pods = append(out.Pods, np)
	}
	return out
}
