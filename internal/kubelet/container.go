package kubelet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kedge-dev/kedge/internal/kubelet/volume"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerConfig builds the CRI config of one container: command and
// args with $(VAR) expansion, resolved environment, mounts (volumes,
// /etc/hosts, termination message file), resources and security.
func (k *Kubelet) containerConfig(ctx context.Context, pod *v1.Pod, c *v1.Container, restartCount int, imageRef string, podIPs []string) (*runtimeapi.ContainerConfig, error) {
	k.mu.Lock()
	allocatable := k.allocatable.DeepCopy()
	k.mu.Unlock()
	if err := k.checkRunAsNonRoot(ctx, pod, c, imageRef); err != nil {
		return nil, err
	}
	env, err := makeEnv(c, envContext{
		Pod: pod, PodIPs: podIPs, HostIPs: k.hostIPs, Services: k.serviceList(), Allocatable: allocatable,
	}, apiEnvSource{ctx: ctx, k: k})
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	for _, e := range env {
		values[e.Name] = e.Value
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	var command, args []string
	for _, s := range c.Command {
		command = append(command, expand(s, lookup))
	}
	for _, s := range c.Args {
		args = append(args, expand(s, lookup))
	}
	mounts, err := k.mounts(pod, c, podIPs, values)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(podLogDir(k.cfg.PodLogsDir, pod), c.Name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("create container log directory for container %s failed: %w", c.Name, err)
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restartCount)},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     command,
		Args:        args,
		WorkingDir:  c.WorkingDir,
		Labels:      containerLabels(pod, c),
		Annotations: containerAnnotations(pod, c, restartCount),
		Mounts:      mounts,
		LogPath:     filepath.Join(c.Name, fmt.Sprintf("%d.log", restartCount)),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       containerResources(pod, c, k.memoryCapacity, k.minOOMScoreAdj),
			SecurityContext: containerSecurity(pod, c),
		},
	}
	for _, e := range env {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	return cfg, nil
}

// serviceList is the services used for service link variables.
func (k *Kubelet) serviceList() []*v1.Service {
	if k.services == nil {
		return nil
	}
	svcs, _ := k.services.List(labels.Everything())
	return svcs
}

// apiEnvSource reads ConfigMaps and Secrets for env from the API.
type apiEnvSource struct {
	ctx context.Context
	k   *Kubelet
}

func (s apiEnvSource) configMap(ns, name string) (*v1.ConfigMap, error) {
	return s.k.client.CoreV1().ConfigMaps(ns).Get(s.ctx, name, metav1.GetOptions{})
}

func (s apiEnvSource) secret(ns, name string) (*v1.Secret, error) {
	return s.k.client.CoreV1().Secrets(ns).Get(s.ctx, name, metav1.GetOptions{})
}

// mounts translates volume mounts into CRI mounts of the volumes the
// volume manager set up (types it does not support are skipped), with
// subPath and subPathExpr (expanded from env) resolved inside the volume,
// plus /etc/hosts and the termination message file.
func (k *Kubelet) mounts(pod *v1.Pod, c *v1.Container, podIPs []string, env map[string]string) ([]*runtimeapi.Mount, error) {
	podDir := k.podDir(pod.UID)
	specs := map[string]bool{}
	for i := range pod.Spec.Volumes {
		specs[pod.Spec.Volumes[i].Name] = true
	}
	volumes := k.volumes.Mounts(pod.UID)
	var out []*runtimeapi.Mount
	hasHosts := false
	for _, vm := range c.VolumeMounts {
		if !specs[vm.Name] {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		vol, ok := volumes[vm.Name]
		if !ok {
			continue // a volume type not supported yet (logged by the volume manager)
		}
		host := vol.HostPath
		subPath := vm.SubPath
		if vm.SubPathExpr != "" {
			var err error
			if subPath, err = volume.ExpandSubPathExpr(vm.SubPathExpr, env); err != nil {
				return nil, err
			}
		}
		if subPath != "" {
			var err error
			if host, err = volume.ResolveSubPath(host, subPath, vm.Name, c.Name); err != nil {
				return nil, err
			}
		}
		if vm.MountPath == "/etc/hosts" {
			hasHosts = true
		}
		m := &runtimeapi.Mount{ContainerPath: vm.MountPath, HostPath: host, Readonly: vm.ReadOnly || vol.ReadOnly}
		if vm.MountPropagation != nil {
			switch *vm.MountPropagation {
			case v1.MountPropagationBidirectional:
				m.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			case v1.MountPropagationHostToContainer:
				m.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			}
		}
		out = append(out, m)
	}
	if err := os.MkdirAll(podDir, 0o755); err != nil {
		return nil, fmt.Errorf("create pod dir: %w", err)
	}
	if !pod.Spec.HostNetwork && !hasHosts {
		hosts := filepath.Join(podDir, "etc-hosts")
		if err := os.WriteFile(hosts, hostsFile(pod, podIPs, k.cfg.ClusterDomain), 0o644); err != nil {
			return nil, fmt.Errorf("write etc-hosts: %w", err)
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: hosts})
	}
	if c.TerminationMessagePath != "" {
		dir := filepath.Join(podDir, "containers", c.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("termination message dir: %w", err)
		}
		b := make([]byte, 4)
		rand.Read(b)
		file := filepath.Join(dir, hex.EncodeToString(b))
		if err := os.WriteFile(file, nil, 0o666); err != nil {
			return nil, fmt.Errorf("termination message file: %w", err)
		}
		os.Chmod(file, 0o666)
		out = append(out, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: file})
	}
	return out, nil
}
