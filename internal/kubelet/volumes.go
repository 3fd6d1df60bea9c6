package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's volume operation back-off (0.5 s doubling to 2 min 2 s) and
// how long a pod waits for its volumes before the kubelet says so in a
// FailedMount event (2 min 3 s).
const (
	mountBackoffInitial = 500 * time.Millisecond
	mountBackoffMax     = 2*time.Minute + 2*time.Second
	mountTimeout        = 2*time.Minute + 3*time.Second
)

// mountWait is when a pod started waiting for its volumes and when the
// timeout event was last sent.
type mountWait struct {
	since, reported time.Time
}

// setUpVolumes sets up (or refreshes) the pod's volumes and reports each
// failure as a FailedMount event. ready is false while a volume was never
// set up: containers must not start yet. requeue is when the pod wants
// its next sync for its volumes (a retry, a token renewal).
func (k *Kubelet) setUpVolumes(ctx context.Context, pod *v1.Pod) (ready bool, requeue time.Duration) {
	res := k.volumes.SetUp(ctx, pod)
	for _, e := range res.Errors {
		k.recorder.Event(pod, v1.EventTypeWarning, "FailedMount", e.Error())
	}
	key := string(pod.UID)
	now := time.Now()
	if len(res.Unmounted) == 0 {
		k.mu.Lock()
		delete(k.mountWaits, pod.UID)
		k.mu.Unlock()
		k.mountBackoff.forgetPrefix(key)
		return true, res.RefreshIn
	}
	k.mu.Lock()
	w, ok := k.mountWaits[pod.UID]
	if !ok {
		w = mountWait{since: now, reported: now}
	}
	timedOut := now.Sub(w.reported) >= mountTimeout
	if timedOut {
		w.reported = now
	}
	k.mountWaits[pod.UID] = w
	k.mu.Unlock()
	if timedOut {
		k.recorder.Event(pod, v1.EventTypeWarning, "FailedMount", mountTimeoutMessage(pod, res.Unmounted))
	}
	slog.Debug("waiting for volumes", "pod", podFormat(pod), "unmounted", res.Unmounted)
	return false, k.mountBackoff.next(key, now)
}

// mountTimeoutMessage is upstream's message when a pod's volumes are
// still not mounted after the wait.
func mountTimeoutMessage(pod *v1.Pod, unmounted []string) string {
	all := make([]string, 0, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		all = append(all, v.Name)
	}
	sort.Strings(all)
	um := append([]string(nil), unmounted...)
	sort.Strings(um)
	return fmt.Sprintf("Unable to attach or mount volumes: unmounted volumes=[%s], unattached volumes=[%s], failed to process volumes=[]: context deadline exceeded",
		strings.Join(um, " "), strings.Join(all, " "))
}

// tearDownVolumes unmounts and removes the pod's volumes and directory.
func (k *Kubelet) tearDownVolumes(uid types.UID) {
	k.mu.Lock()
	delete(k.mountWaits, uid)
	k.mu.Unlock()
	k.mountBackoff.forgetPrefix(string(uid))
	if err := k.volumes.TearDown(uid); err != nil {
		slog.Warn("tear down pod volumes (housekeeping retries)", "uid", uid, "err", err)
	}
}

// earliest is the sooner of two requeue delays (0 means none).
func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}
