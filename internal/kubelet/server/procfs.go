package server

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of /proc/stat times (USER_HZ, 100 on Linux).
const userHZ = 100

// procStat is what /proc/stat says of the machine: cumulative busy CPU
// time in nanoseconds and the boot time (seconds since the epoch).
func procStat(data []byte) (busyNanos uint64, bootTime int64, ok bool) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "cpu":
			// user nice system idle iowait irq softirq steal ...
			var busy uint64
			for i, v := range f[1:] {
				if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is inside user
					continue
				}
				n, _ := strconv.ParseUint(v, 10, 64)
				busy += n
			}
			busyNanos, ok = busy*(1e9/userHZ), true
		case "btime":
			if len(f) > 1 {
				bootTime, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return busyNanos, bootTime, ok
}

// keyValues parses "key value [unit]" lines (/proc/meminfo, /proc/vmstat,
// cgroup memory.stat and cpu.stat); meminfo's kB become bytes.
func keyValues(data []byte) map[string]uint64 {
	out := map[string]uint64{}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 2 && f[2] == "kB" {
			n *= 1024
		}
		out[strings.TrimSuffix(f[0], ":")] = n
	}
	return out
}

// netDev parses /proc/net/dev: the counters of each interface, but
// loopback and pods' veth ends, which cAdvisor leaves out too.
func netDev(data []byte) []InterfaceStats {
	var out []InterfaceStats
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if name == "lo" || strings.HasPrefix(name, "veth") || len(f) < 11 {
			continue
		}
		// rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs ...
		num := func(i int) *uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return &n }
		out = append(out, InterfaceStats{Name: name, RxBytes: num(0), RxErrors: num(2), TxBytes: num(8), TxErrors: num(10)})
	}
	return out
}

// networkStats picks the default interface (eth0 if there is one, as
// upstream does, else the first) for the inline counters.
func networkStats(ifaces []InterfaceStats) *NetworkStats {
	if len(ifaces) == 0 {
		return nil
	}
	n := &NetworkStats{Interfaces: ifaces, InterfaceStats: ifaces[0]}
	for _, i := range ifaces {
		if i.Name == "eth0" {
			n.InterfaceStats = i
		}
	}
	return n
}

// fsUsage is statfs of the file system holding path.
type fsUsage struct {
	capacity, available, used uint64
	inodes, inodesFree        uint64
}

func statFS(path string) (fsUsage, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsUsage{}, false
	}
	bs := uint64(st.Bsize)
	return fsUsage{
		capacity: st.Blocks * bs, available: st.Bavail * bs, used: (st.Blocks - st.Bfree) * bs,
		inodes: st.Files, inodesFree: st.Ffree,
	}, true
}

// PIDUsage is the kernel's pid_max and how many processes (threads
// included) run now: the node's rlimit stats and the kubelet's
// pid.available eviction signal.
func PIDUsage() (pidMax, running int64, ok bool) {
	max, ok := readUint("/proc/sys/kernel/pid_max")
	var si syscall.Sysinfo_t
	if !ok || syscall.Sysinfo(&si) != nil {
		return 0, 0, false
	}
	return int64(max), int64(si.Procs), true
}

// DirUsage is the bytes and inodes of the files under dir (the kubelet's
// local-storage eviction measures logs and emptyDirs with it too).
func DirUsage(dir string) (bytes, inodes uint64) {
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		inodes++
		if info, err := d.Info(); err == nil && d.Type().IsRegular() {
			bytes += uint64(info.Size())
		}
		return nil
	})
	return bytes, inodes
}

// cgroupFS locates the cgroup hierarchies the stats read.
type cgroupFS struct {
	unified               string // cgroup2 mount when the controllers live there
	cpuacct, memory, pids string // cgroup v1 controller mounts
}

// parseCgroupMounts reads /proc/self/mountinfo for cgroup mounts.
func parseCgroupMounts(mountinfo []byte) cgroupFS {
	var c cgroupFS
	s := bufio.NewScanner(bytes.NewReader(mountinfo))
	for s.Scan() {
		line := s.Text()
		sep := strings.Index(line, " - ")
		if sep < 0 {
			continue
		}
		fields, tail := strings.Fields(line[:sep]), strings.Fields(line[sep+3:])
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mnt := fields[4]
		switch tail[0] {
		case "cgroup2":
			if c.unified == "" {
				c.unified = mnt
			}
		case "cgroup":
			for _, o := range strings.Split(tail[2], ",") {
				switch o {
				case "cpuacct":
					c.cpuacct = mnt
				case "memory":
					c.memory = mnt
				case "pids":
					c.pids = mnt
				}
			}
		}
	}
	if c.cpuacct != "" || c.memory != "" {
		c.unified = "" // v1 (a cgroup2 mount beside it is systemd's)
	}
	return c
}

func readUint(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// cpuUsage is a cgroup's cumulative CPU time in nanoseconds.
func (c cgroupFS) cpuUsage(cg string) (uint64, bool) {
	if c.unified != "" {
		data, err := os.ReadFile(filepath.Join(c.unified, cg, "cpu.stat"))
		if err != nil {
			return 0, false
		}
		usec, ok := keyValues(data)["usage_usec"]
		return usec * 1000, ok
	}
	if c.cpuacct == "" {
		return 0, false
	}
	return readUint(filepath.Join(c.cpuacct, cg, "cpuacct.usage"))
}

// cgroupMemory is a cgroup's memory use.
type cgroupMemory struct {
	usage, workingSet, rss, pageFaults, majorPageFaults uint64
	limit                                               uint64 // 0: none
}

func (c cgroupFS) memoryUsage(cg string) (cgroupMemory, bool) {
	var m cgroupMemory
	var stat map[string]uint64
	var inactive uint64
	if c.unified != "" {
		dir := filepath.Join(c.unified, cg)
		usage, ok := readUint(filepath.Join(dir, "memory.current"))
		if !ok {
			return m, false
		}
		m.usage = usage
		m.limit, _ = readUint(filepath.Join(dir, "memory.max")) // "max" fails: no limit
		data, _ := os.ReadFile(filepath.Join(dir, "memory.stat"))
		stat = keyValues(data)
		inactive, m.rss = stat["inactive_file"], stat["anon"]
		m.pageFaults, m.majorPageFaults = stat["pgfault"], stat["pgmajfault"]
	} else {
		if c.memory == "" {
			return m, false
		}
		dir := filepath.Join(c.memory, cg)
		usage, ok := readUint(filepath.Join(dir, "memory.usage_in_bytes"))
		if !ok {
			return m, false
		}
		m.usage = usage
		if limit, ok := readUint(filepath.Join(dir, "memory.limit_in_bytes")); ok && limit < 1<<62 {
			m.limit = limit
		}
		data, _ := os.ReadFile(filepath.Join(dir, "memory.stat"))
		stat = keyValues(data)
		inactive, m.rss = stat["total_inactive_file"], stat["total_rss"]
		m.pageFaults, m.majorPageFaults = stat["total_pgfault"], stat["total_pgmajfault"]
	}
	m.workingSet = m.usage
	if inactive < m.workingSet {
		m.workingSet -= inactive
	} else {
		m.workingSet = 0
	}
	return m, true
}

// processes is the number of tasks in a cgroup (pids controller).
func (c cgroupFS) processes(cg string) (uint64, bool) {
	switch {
	case c.unified != "":
		return readUint(filepath.Join(c.unified, cg, "pids.current"))
	case c.pids != "":
		return readUint(filepath.Join(c.pids, cg, "pids.current"))
	}
	return 0, false
}
