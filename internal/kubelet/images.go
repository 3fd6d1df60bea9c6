package kubelet

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
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
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, reasonErrImageNeverPull, "%s", msg)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reasonErrImageNeverPull)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonErrImageNeverPull, Message: msg})
		return "", 30 * time.Second, fmt.Errorf("%s", msg)
	}

	key := string(pod.UID) + "/image/" + c.Image
	now := time.Now()
	if wait := k.pullBackoff.waitSinceLast(key, now); wait > 0 {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "BackOff", "%s", msg)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reasonImagePullBackOff)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonImagePullBackOff, Message: msg})
		return "", wait, fmt.Errorf("%s", msg)
	}
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	resp, err := k.runtime.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec, SandboxConfig: sb})
	if err != nil {
		delay := k.pullBackoff.next(key, time.Now())
		msg := grpcMessage(err)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", c.Image, msg)
		k.containerEvent(pod, kind, c.Name, v1.EventTypeWarning, "Failed", "Error: %s", reasonErrImagePull)
		k.setWait(pod.UID, c.Name, &waitState{Reason: reasonErrImagePull, Message: msg})
		return "", delay, err
	}
	took := time.Since(start).Round(time.Millisecond)
	var size uint64
	if st, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec}); err == nil && st.Image != nil {
		size = st.Image.GetSize()
	}
	k.containerEvent(pod, kind, c.Name, v1.EventTypeNormal, "Pulled",
		"Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", c.Image, took, took, size)
	return resp.ImageRef, 0, nil
}
