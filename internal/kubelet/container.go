package kubelet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

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
	mounts, err := k.mounts(pod, c, podIPs)
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

// mounts translates volume mounts. Supported volume types: emptyDir and
// hostPath; mounts of other types are skipped with a warning for now.
func (k *Kubelet) mounts(pod *v1.Pod, c *v1.Container, podIPs []string) ([]*runtimeapi.Mount, error) {
	podDir := k.podDir(pod.UID)
	volumes := map[string]*v1.Volume{}
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []*runtimeapi.Mount
	hasHosts := false
	for _, vm := range c.VolumeMounts {
		vol, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		var host string
		switch {
		case vol.EmptyDir != nil:
			host = filepath.Join(podDir, "volumes/kubernetes.io~empty-dir", vol.Name)
			if err := os.MkdirAll(host, 0o777); err != nil {
				return nil, fmt.Errorf("emptyDir %s: %w", vol.Name, err)
			}
			os.Chmod(host, 0o777)
		case vol.HostPath != nil:
			host = vol.HostPath.Path
			if err := prepareHostPath(vol.HostPath); err != nil {
				return nil, err
			}
		default:
			slog.Warn("volume type not supported yet; mount skipped", "pod", podFormat(pod), "volume", vol.Name, "container", c.Name)
			continue
		}
		if vm.SubPath != "" {
			host = filepath.Join(host, vm.SubPath)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				os.MkdirAll(host, 0o755)
			}
		}
		if vm.MountPath == "/etc/hosts" {
			hasHosts = true
		}
		m := &runtimeapi.Mount{ContainerPath: vm.MountPath, HostPath: host, Readonly: vm.ReadOnly}
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

func prepareHostPath(hp *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	switch t {
	case v1.HostPathDirectoryOrCreate:
		return os.MkdirAll(hp.Path, 0o755)
	case v1.HostPathFileOrCreate:
		if _, err := os.Stat(hp.Path); os.IsNotExist(err) {
			os.MkdirAll(filepath.Dir(hp.Path), 0o755)
			f, err := os.OpenFile(hp.Path, os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			f.Close()
		}
	case v1.HostPathDirectory, v1.HostPathFile, v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev:
		if _, err := os.Stat(hp.Path); err != nil {
			return fmt.Errorf("hostPath type check failed: %s is not a %s", hp.Path, strings.ToLower(string(t)))
		}
	}
	return nil
}
