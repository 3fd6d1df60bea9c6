package kubelet

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Upstream's defaults for non-privileged containers (containerd applies
// none when the kubelet sends none).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// podLogDir is upstream's log directory of a pod: <root>/<ns>_<name>_<uid>.
func podLogDir(root string, pod *v1.Pod) string {
	return filepath.Join(root, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// podFormat is upstream's way of naming a pod in messages: name_ns(uid).
func podFormat(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// podHostname is the pod's hostname: spec.hostname, or the pod name cut
// to 63 characters.
func podHostname(pod *v1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	h := pod.Name
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// sandboxParams is the node-level input of sandboxConfig.
type sandboxParams struct {
	LogRoot       string
	CgroupParent  string
	ClusterDNS    []string
	ClusterDomain string
}

// sandboxConfig translates a pod into the CRI sandbox config.
func sandboxConfig(pod *v1.Pod, attempt uint32, p sandboxParams) *runtimeapi.PodSandboxConfig {
	labels := map[string]string{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	labels[labelPodName] = pod.Name
	labels[labelPodNamespace] = pod.Namespace
	labels[labelPodUID] = string(pod.UID)
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt,
		},
		Hostname:     podHostname(pod),
		LogDirectory: podLogDir(p.LogRoot, pod),
		DnsConfig:    dnsConfig(pod, p.ClusterDNS, p.ClusterDomain),
		Labels:       labels,
		Annotations:  annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    p.CgroupParent,
			SecurityContext: sandboxSecurity(pod),
		},
	}
	if pod.Spec.HostNetwork {
		cfg.Hostname = ""
	}
	for _, c := range pod.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort <= 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol:      protocol(port.Protocol),
				ContainerPort: port.ContainerPort,
				HostPort:      port.HostPort,
				HostIp:        port.HostIP,
			})
		}
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		cfg.Linux.Sysctls = map[string]string{}
		for _, s := range sc.Sysctls {
			cfg.Linux.Sysctls[s.Name] = s.Value
		}
	}
	return cfg
}

func protocol(p v1.Protocol) runtimeapi.Protocol {
	switch p {
	case v1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case v1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

// dnsConfig follows the pod's dnsPolicy. nil lets containerd copy the
// host's resolv.conf (policy Default, or ClusterFirst without cluster DNS).
func dnsConfig(pod *v1.Pod, clusterDNS []string, domain string) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = v1.DNSClusterFirst
	}
	var cfg *runtimeapi.DNSConfig
	switch {
	case policy == v1.DNSNone:
		cfg = &runtimeapi.DNSConfig{}
	case len(clusterDNS) > 0 && (policy == v1.DNSClusterFirstWithHostNet ||
		(policy == v1.DNSClusterFirst && !pod.Spec.HostNetwork)):
		if domain == "" {
			domain = "cluster.local"
		}
		cfg = &runtimeapi.DNSConfig{
			Servers:  append([]string{}, clusterDNS...),
			Searches: []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain},
			Options:  []string{"ndots:5"},
		}
	}
	if d := pod.Spec.DNSConfig; d != nil {
		if cfg == nil {
			cfg = &runtimeapi.DNSConfig{}
		}
		cfg.Servers = append(cfg.Servers, d.Nameservers...)
		cfg.Searches = append(cfg.Searches, d.Searches...)
		for _, o := range d.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = mergeOption(cfg.Options, opt)
		}
	}
	return cfg
}

func mergeOption(opts []string, opt string) []string {
	name := strings.SplitN(opt, ":", 2)[0]
	for i, o := range opts {
		if strings.SplitN(o, ":", 2)[0] == name {
			opts[i] = opt
			return opts
		}
	}
	return append(opts, opt)
}

func namespaceOptions(pod *v1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func seccomp(pod, container *v1.SeccompProfile) *runtimeapi.SecurityProfile {
	p := container
	if p == nil {
		p = pod
	}
	if p == nil {
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
	}
	switch p.Type {
	case v1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	case v1.SeccompProfileTypeLocalhost:
		ref := ""
		if p.LocalhostProfile != nil {
			ref = *p.LocalhostProfile
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: ref}
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
}

func sandboxSecurity(pod *v1.Pod) *runtimeapi.LinuxSandboxSecurityContext {
	sc := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			sc.Privileged = true
		}
	}
	var podSeccomp *v1.SeccompProfile
	if psc := pod.Spec.SecurityContext; psc != nil {
		podSeccomp = psc.SeccompProfile
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	sc.Seccomp = seccomp(podSeccomp, nil)
	return sc
}

func containerSecurity(pod *v1.Pod, c *v1.Container) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	var podSeccomp, cSeccomp *v1.SeccompProfile
	if psc := pod.Spec.SecurityContext; psc != nil {
		podSeccomp = psc.SeccompProfile
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	if csc := c.SecurityContext; csc != nil {
		cSeccomp = csc.SeccompProfile
		if csc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		sc.Privileged = csc.Privileged != nil && *csc.Privileged
		sc.ReadonlyRootfs = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		if csc.AllowPrivilegeEscalation != nil {
			sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
		}
		if caps := csc.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, cp := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(cp))
			}
			for _, cp := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(cp))
			}
		}
	}
	sc.Seccomp = seccomp(podSeccomp, cSeccomp)
	unmasked := c.SecurityContext != nil && c.SecurityContext.ProcMount != nil && *c.SecurityContext.ProcMount == v1.UnmaskedProcMount
	if !sc.Privileged && !unmasked {
		sc.MaskedPaths = defaultMaskedPaths
		sc.ReadonlyPaths = defaultReadonlyPaths
	}
	return sc
}

// containerResources maps requests and limits to cgroup settings as
// upstream does (cpu shares from requests, CFS quota from limits), with
// oom_score_adj by QoS class, never below minOOMScoreAdj (what this
// process may set).
func containerResources(pod *v1.Pod, c *v1.Container, memoryCapacity int64, minOOMScoreAdj int) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	if q, ok := c.Resources.Requests[v1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	} else if q, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	}
	if q, ok := c.Resources.Limits[v1.ResourceCPU]; ok && !q.IsZero() {
		r.CpuPeriod = 100000
		r.CpuQuota = max(1000, q.MilliValue()*100000/1000)
	}
	if q, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = q.Value()
	}
	r.OomScoreAdj = int64(max(oomScoreAdj(pod, c, memoryCapacity), minOOMScoreAdj))
	return r
}

func oomScoreAdj(pod *v1.Pod, c *v1.Container, memoryCapacity int64) int {
	switch qosClass(pod) {
	case v1.PodQOSGuaranteed:
		return -997
	case v1.PodQOSBestEffort:
		return 1000
	}
	req := c.Resources.Requests[v1.ResourceMemory]
	if memoryCapacity <= 0 {
		return 999
	}
	adj := 1000 - int(1000*req.Value()/memoryCapacity)
	if isSidecar(c) {
		// A sidecar is no likelier to be killed than the regular
		// container requesting least memory.
		adj = min(adj, 1000-int(1000*minRegularMemoryRequest(pod)/memoryCapacity))
	}
	if adj < 3 {
		return 3
	}
	if adj >= 1000 {
		return 999
	}
	return adj
}

// containerLabels and containerAnnotations are what adoption and status
// read back from the runtime.
func containerLabels(pod *v1.Pod, c *v1.Container) map[string]string {
	return map[string]string{
		labelPodName:       pod.Name,
		labelPodNamespace:  pod.Namespace,
		labelPodUID:        string(pod.UID),
		labelContainerName: c.Name,
	}
}

func containerAnnotations(pod *v1.Pod, c *v1.Container, restartCount int) map[string]string {
	a := map[string]string{
		annotationContainerHash:          containerHash(c),
		annotationRestartCount:           strconv.Itoa(restartCount),
		annotationTerminationMessagePath: c.TerminationMessagePath,
		annotationTerminationPolicy:      string(c.TerminationMessagePolicy),
	}
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	a[annotationGracePeriod] = strconv.FormatInt(grace, 10)
	if len(c.Ports) > 0 {
		data, _ := json.Marshal(c.Ports)
		a[annotationContainerPorts] = string(data)
	}
	return a
}

// hostsFile is the /etc/hosts the kubelet gives pods on the pod network.
func hostsFile(pod *v1.Pod, podIPs []string, domain string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	if pod.Spec.Subdomain != "" {
		fqdn := fmt.Sprintf("%s.%s.%s.svc.%s", host, pod.Spec.Subdomain, pod.Namespace, domain)
		host = fqdn + "\t" + host
	}
	for _, ip := range podIPs {
		fmt.Fprintf(&b, "%s\t%s\n", ip, host)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return []byte(b.String())
}
