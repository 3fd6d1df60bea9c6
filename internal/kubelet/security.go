package kubelet

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// effectiveRunAsNonRoot and effectiveRunAsUser are the container's
// securityContext values, defaulted from the pod's.
func effectiveRunAsNonRoot(pod *v1.Pod, c *v1.Container) bool {
	if csc := c.SecurityContext; csc != nil && csc.RunAsNonRoot != nil {
		return *csc.RunAsNonRoot
	}
	if psc := pod.Spec.SecurityContext; psc != nil && psc.RunAsNonRoot != nil {
		return *psc.RunAsNonRoot
	}
	return false
}

func effectiveRunAsUser(pod *v1.Pod, c *v1.Container) *int64 {
	if csc := c.SecurityContext; csc != nil && csc.RunAsUser != nil {
		return csc.RunAsUser
	}
	if psc := pod.Spec.SecurityContext; psc != nil && psc.RunAsUser != nil {
		return psc.RunAsUser
	}
	return nil
}

// verifyRunAsNonRoot enforces runAsNonRoot as upstream's kubelet does:
// the user the container will run as (runAsUser, else the image's user,
// root when the image names none) must not be root. imageUID and
// imageUser are what the runtime reports for the image (the numeric user,
// or else the user name). The error text is upstream's; it becomes the
// container's CreateContainerConfigError message.
func verifyRunAsNonRoot(pod *v1.Pod, c *v1.Container, imageUID *int64, imageUser string) error {
	if !effectiveRunAsNonRoot(pod, c) {
		return nil
	}
	if uid := effectiveRunAsUser(pod, c); uid != nil {
		if *uid == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podFormat(pod), c.Name)
		}
		return nil
	}
	switch {
	case imageUID != nil && *imageUID == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podFormat(pod), c.Name)
	case imageUID == nil && imageUser != "":
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)",
			imageUser, podFormat(pod), c.Name)
	}
	return nil
}

// imageUser asks the runtime which user an image runs as: its numeric
// uid, else its user name; an image naming no user runs as root (uid 0).
func imageUser(img *runtimeapi.Image) (*int64, string) {
	if img == nil {
		return ptr(int64(0)), ""
	}
	if img.Uid != nil {
		return ptr(img.Uid.Value), ""
	}
	if img.Username != "" {
		return nil, img.Username
	}
	return ptr(int64(0)), ""
}

// checkRunAsNonRoot looks the image's user up (only when the container
// asks for runAsNonRoot) and verifies it.
func (k *Kubelet) checkRunAsNonRoot(ctx context.Context, pod *v1.Pod, c *v1.Container, imageRef string) error {
	if !effectiveRunAsNonRoot(pod, c) || effectiveRunAsUser(pod, c) != nil {
		return verifyRunAsNonRoot(pod, c, nil, "")
	}
	st, err := k.runtime.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: imageRef}})
	if err != nil {
		return fmt.Errorf("failed to get image user of %q: %w", c.Image, err)
	}
	uid, name := imageUser(st.GetImage())
	return verifyRunAsNonRoot(pod, c, uid, name)
}
