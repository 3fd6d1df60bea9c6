package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kedge-dev/kedge/internal/cluster"
	"github.com/kedge-dev/kedge/internal/kubelet/images"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// pullPolicy is the container's policy, defaulted as the API does:
// Always for :latest or untagged images, IfNotPresent otherwise.
func pullPolicy(c *v1.Container) v1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	image := c.Image
	if i := strings.Index(image, "@"); i >= 0 {
		return v1.PullIfNotPresent
	}
	tag := ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		tag = image[i+1:]
	}
	if tag == "" || tag == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

// ensureImage makes the container's image present according to its pull
// policy and returns the image reference to create the container from.
// Failures become the container's waiting reason; the duration says when
// to try again.
func (k *Kubelet) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container, kind string, sb *runtimeapi.PodSandboxConfig) (string, time.Duration, error) {
	spec := &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image}
	policy := pullPolicy(c)
	status, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		msg := fmt.Sprintf("Failed to inspect image %q: %v", c.Image, grpcMessage(err))
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "InspectFailed", "%s", msg)
		k.setWait(pod.UID, c.Name, &waitState{Reason: "ImageInspectError", Message: msg})
		return "", 5 * time.Second, err
	}
	present := status.Image != nil
	if present && policy != v1.PullAlways {
		k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine and can be accessed by the pod", c.Image)
		return status.Image.Id, 0, nil
	}
	if !present && policy == v1.PullNever {
		msg := images.NeverPullMessage(c.Image)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, reasonErrImageNeverPull, "%s", msg)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reasonErrImageNeverPull)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonErrImageNeverPull, Message: msg})
		return "", 30 * time.Second, fmt.Errorf("%s", msg)
	}

	key := string(pod.UID) + "/image/" + c.Image
	now := time.Now()
	if wait := k.pullBackoff.waitSinceLast(key, now); wait > 0 {
		lastReason, lastMsg := k.pullErrors.Get(key)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reasonImagePullBackOff)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonImagePullBackOff, Message: images.BackOffMessage(c.Image, lastReason, lastMsg)})
		return "", wait, fmt.Errorf("back-off pulling image %q", c.Image)
	}
	auths := k.pullAuths(ctx, pod, c.Image)
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	var resp *runtimeapi.PullImageResponse
	for _, auth := range auths {
		resp, err = k.runtime.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec, Auth: auth, SandboxConfig: sb})
		if err == nil {
			break
		}
	}
	if err != nil {
		delay := k.pullBackoff.next(key, time.Now())
		text, reason, msg := images.PullError(c.Image, err)
		k.pullErrors.Set(key, reason, msg)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", c.Image, text)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reason)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reason, Message: msg})
		return "", delay, err
	}
	k.pullErrors.Forget(key)
	took := time.Since(start).Truncate(time.Millisecond)
	var size uint64
	if st, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec}); err == nil && st.Image != nil {
		size = st.Image.GetSize()
	}
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Pulled",
		"Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", c.Image, took, took, size)
	return resp.ImageRef, 0, nil
}

// pullAuths are the credentials to try for image, in order: those of the
// pod's pull secrets matching the image's registry, else the registry's
// from registries.yaml, else none (one anonymous pull: a nil entry).
func (k *Kubelet) pullAuths(ctx context.Context, pod *v1.Pod, image string) []*runtimeapi.AuthConfig {
	keyring := &images.Keyring{}
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			missing = append(missing, ref.Name)
			continue
		}
		if err := keyring.Add(s); err != nil {
			slog.Warn("image pull secret", "pod", podFormat(pod), "err", err)
		}
	}
	if len(missing) > 0 {
		k.recorder.Eventf(pod, v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
	}
	if auths := keyring.Lookup(image); len(auths) > 0 {
		return auths
	}
	host, _ := images.Repository(image)
	return []*runtimeapi.AuthConfig{k.registries.Auth(host)}
}

// registriesPath is the k3s-style registries.yaml (mirrors, plain-HTTP
// and TLS settings, credentials).
func (k *Kubelet) registriesPath() string { return filepath.Join(k.cfg.DataDir, "registries.yaml") }

// loadRegistries reads registries.yaml and writes containerd's hosts.toml
// files for it (containerd reads them at each pull).
func (k *Kubelet) loadRegistries() error {
	r, err := images.LoadRegistries(k.registriesPath())
	if err != nil {
		return err
	}
	if err := images.WriteHostsDir(k.containerdConfig().RegistryConfigPath, r); err != nil {
		return err
	}
	k.registries = r
	return nil
}

// newImageGC builds the image garbage collector: upstream's default
// policy over the filesystem holding the runtime's root.
func (k *Kubelet) newImageGC() *images.GC {
	root := k.containerdConfig().Root
	if _, err := os.Stat(root); err != nil {
		root = k.cfg.DataDir
	}
	return images.NewGC(images.GCConfig{
		Runtime:   k.runtime,
		Protected: []string{cluster.PauseImage},
		Usage: func() (images.Usage, error) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(root, &st); err != nil {
				return images.Usage{}, err
			}
			return images.Usage{Capacity: int64(st.Blocks) * st.Bsize, Available: int64(st.Bavail) * st.Bsize}, nil
		},
		Event: func(eventType, reason, message string) {
			k.recorder.Event(k.nodeRef(), eventType, reason, message)
		},
	})
}
