package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// RunHook runs a lifecycle handler (postStart or preStop) against a
// running container until it ends or ctx does. On failure it returns
// upstream's message for the container's waiting state and logs, e.g.
// `Exec lifecycle hook ([sh -c exit 1]) for Container "c" in Pod
// "p_ns(uid)" failed - error: command 'sh -c exit 1' exited with 1: ,
// message: ""`. An httpGet hook fails only when no response comes; its
// status code does not matter.
func (m *Manager) RunHook(ctx context.Context, t Target, h *v1.LifecycleHandler) (string, error) {
	return m.handlers.hook(ctx, t, h, m.cfg.Event)
}

func (h *handlers) hook(ctx context.Context, t Target, lh *v1.LifecycleHandler, event func(*v1.Pod, string, string, string, string)) (string, error) {
	name, pod := t.Container.Name, podFormat(t.Pod)
	switch {
	case lh.Exec != nil:
		stdout, stderr, code, err := h.exec(ctx, t.ContainerID, lh.Exec.Command, 0)
		if err == nil && code != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(lh.Exec.Command, " "), code, stderr)
		}
		if err != nil {
			output := append(append([]byte{}, stdout...), stderr...)
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				lh.Exec.Command, name, pod, err, string(output)), err
		}
		return "", nil
	case lh.HTTPGet != nil:
		if err := h.httpHook(ctx, t, lh.HTTPGet, event); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				lh.HTTPGet.Path, name, pod, err), err
		}
		return "", nil
	case lh.Sleep != nil:
		timer := time.NewTimer(time.Duration(lh.Sleep.Seconds) * time.Second)
		defer timer.Stop()
		select {
		case <-timer.C:
			return "", nil
		case <-ctx.Done():
			err := errors.New("container terminated before sleep hook finished")
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v",
				lh.Sleep.Seconds, name, pod, err), err
		}
	}
	err := fmt.Errorf("invalid handler: %v", lh)
	return fmt.Sprintf("Cannot run handler: %v", err), err
}

// httpHook sends the hook's GET; an HTTPS hook answered in plain HTTP is
// retried over HTTP, as upstream does.
func (h *handlers) httpHook(ctx context.Context, t Target, a *v1.HTTPGetAction, event func(*v1.Pod, string, string, string, string)) error {
	req, err := newHTTPRequest(ctx, a, t.Container, t.PodIP, "lifecycle")
	if err != nil {
		return err
	}
	client := &http.Client{Transport: h.transport, CheckRedirect: sameHostRedirects}
	resp, err := client.Do(req)
	discard(resp)
	var uerr *url.Error
	if err != nil && errors.As(err, &uerr) && strings.Contains(uerr.Err.Error(), "server gave HTTP response to HTTPS client") {
		retry := req.Clone(ctx)
		retry.URL.Scheme = "http"
		retry.Header.Del("Authorization")
		resp, herr := client.Do(retry)
		discard(resp)
		if herr == nil {
			event(t.Pod, "", v1.EventTypeWarning, "LifecycleHTTPFallback",
				fmt.Sprintf("request to HTTPS lifecycle hook %s got HTTP response, retry with HTTP succeeded", retry.URL.Host))
			err = nil
		}
	}
	return err
}

func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxOutput))
	resp.Body.Close()
}

// podFormat is how upstream names a pod in messages: name_namespace(uid).
func podFormat(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
