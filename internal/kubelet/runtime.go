package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const maxTerminationMessage = 4096

// podRuntime fetches what the runtime holds for a pod.
func (k *Kubelet) podRuntime(ctx context.Context, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sb, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel},
	})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes of pod %s: %w", uid, err)
	}
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: sel},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s: %w", uid, err)
	}
	rt := &podRuntime{Sandboxes: sb.Items, Messages: map[string]string{}}
	for _, c := range cs.Containers {
		st, err := k.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
		if err != nil || st.Status == nil {
			continue // removed meanwhile
		}
		s := st.Status
		labels := map[string]string{sandboxIDKey: c.PodSandboxId}
		for k, v := range s.Labels {
			labels[k] = v
		}
		s.Labels = labels
		rt.Containers = append(rt.Containers, s)
		if exited(s) {
			rt.Messages[s.Id] = k.terminationMessage(s)
		}
	}
	rt.sort()
	if len(rt.Sandboxes) > 0 {
		st, err := k.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: rt.Sandboxes[0].Id})
		if err == nil {
			rt.Sandbox = st.Status
		}
	}
	return rt, nil
}

// terminationMessage reads (once per container) what an exited container
// wrote to its termination message file, or the tail of its log when the
// policy says FallbackToLogsOnError and it failed.
func (k *Kubelet) terminationMessage(s *runtimeapi.ContainerStatus) string {
	k.mu.Lock()
	msg, ok := k.messages[s.Id]
	k.mu.Unlock()
	if ok {
		return msg
	}
	path := s.Annotations[annotationTerminationMessagePath]
	for _, m := range s.Mounts {
		if path != "" && m.ContainerPath == path {
			msg = readLimited(m.HostPath, maxTerminationMessage)
		}
	}
	if msg == "" && s.ExitCode != 0 && s.Annotations[annotationTerminationPolicy] == "FallbackToLogsOnError" {
		msg = logTail(s.LogPath, 80, 2048)
	}
	k.mu.Lock()
	k.messages[s.Id] = msg
	k.mu.Unlock()
	return msg
}

func readLimited(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, n)
	m, _ := f.Read(buf)
	return string(buf[:m])
}

// logTail returns the last lines of a CRI log file, message text only.
func logTail(path string, lines, maxBytes int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		// <RFC3339Nano> <stream> <P|F> <text>
		parts := strings.SplitN(l, " ", 4)
		if len(parts) == 4 {
			out = append(out, parts[3])
		}
	}
	if len(out) > lines {
		out = out[len(out)-lines:]
	}
	s := strings.Join(out, "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}

// restartCountFromLogs is the next restart count when the runtime has no
// container of that name left: one more than the newest <n>.log.
func restartCountFromLogs(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	next := 0
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "%d.log", &n); err == nil && n+1 > next {
			next = n + 1
		}
	}
	return next
}

// relistLoop is the PLEG: every second it lists sandboxes and containers
// and queues every pod whose runtime state changed (a container exited, a
// sandbox died), including pods the API no longer knows.
func (k *Kubelet) relistLoop(ctx context.Context) {
	prev := map[types.UID]string{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if cur, err := k.relist(ctx); err == nil {
			for uid, fp := range cur {
				if prev[uid] != fp {
					k.queue.Add(uid)
				}
			}
			for uid := range prev {
				if _, ok := cur[uid]; !ok {
					k.queue.Add(uid)
				}
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *Kubelet) relist(ctx context.Context) (map[types.UID]string, error) {
	sb, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, err
	}
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, err
	}
	parts := map[types.UID][]string{}
	for _, s := range sb.Items {
		uid := types.UID(s.Labels[labelPodUID])
		if uid == "" {
			continue
		}
		parts[uid] = append(parts[uid], "s"+s.Id+s.State.String())
	}
	for _, c := range cs.Containers {
		uid := types.UID(c.Labels[labelPodUID])
		if uid == "" {
			continue
		}
		parts[uid] = append(parts[uid], "c"+c.Id+c.State.String())
	}
	out := map[types.UID]string{}
	for uid, p := range parts {
		sort.Strings(p)
		out[uid] = strings.Join(p, ",")
	}
	return out, nil
}

// housekeeping removes what no pod owns any more: pod cgroups and pod
// directories of pods with neither an API object nor a sandbox, and dead
// containers beyond the newest two attempts per container name.
func (k *Kubelet) housekeeping(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.ensureGuard(); err != nil {
			slog.Error("repair traffic guard", "err", err)
		}
		sb, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			continue
		}
		live := map[types.UID]bool{}
		for _, s := range sb.Items {
			live[types.UID(s.Labels[labelPodUID])] = true
		}
		for _, uid := range k.cgroups.list() {
			if !live[uid] && k.podByUID(uid) == nil {
				k.cgroups.remove(uid)
			}
		}
		entries, _ := os.ReadDir(filepath.Join(k.cfg.DataDir, "pods"))
		for _, e := range entries {
			uid := types.UID(e.Name())
			if !live[uid] && k.podByUID(uid) == nil {
				k.tearDownVolumes(uid)
			}
		}
		k.gcContainers(ctx)
		k.gcSandboxes(ctx, sb.Items)
	}
}

// gcSandboxes removes stopped sandboxes that are not their pod's newest.
func (k *Kubelet) gcSandboxes(ctx context.Context, items []*runtimeapi.PodSandbox) {
	sort.Slice(items, func(i, j int) bool { return items[i].CreatedAt > items[j].CreatedAt })
	newest := map[string]bool{}
	for _, s := range items {
		uid := s.Labels[labelPodUID]
		if !newest[uid] {
			newest[uid] = true
			continue
		}
		if s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			k.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
		}
	}
}

// gcContainers keeps, per pod and container name, the newest two
// containers (the current one and the previous one, for lastState and
// logs --previous) and removes older exited ones.
func (k *Kubelet) gcContainers(ctx context.Context) {
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return
	}
	sort.Slice(cs.Containers, func(i, j int) bool { return cs.Containers[i].CreatedAt > cs.Containers[j].CreatedAt })
	seen := map[string]int{}
	for _, c := range cs.Containers {
		key := c.Labels[labelPodUID] + "/" + c.Labels[labelContainerName]
		seen[key]++
		if seen[key] > 2 && c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			k.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id})
			k.mu.Lock()
			delete(k.messages, c.Id)
			k.mu.Unlock()
		}
	}
}
