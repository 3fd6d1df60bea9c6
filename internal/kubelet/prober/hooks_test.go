package prober

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestExecHook(t *testing.T) {
	var timeout time.Duration = -1
	exec := func(code int32) ExecFunc {
		return func(_ context.Context, _ string, cmd []string, to time.Duration) ([]byte, []byte, int32, error) {
			timeout = to
			return []byte("out\n"), []byte("boom\n"), code, nil
		}
	}
	c := &v1.Container{Name: "c"}
	pod := probePod(*c)
	target := Target{Pod: pod, Container: c, ContainerID: "id1"}
	hook := &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", "exit 3"}}}

	m := New(Config{Exec: exec(0)})
	if msg, err := m.RunHook(context.Background(), target, hook); err != nil || msg != "" {
		t.Errorf("exit 0: %q %v", msg, err)
	}
	if timeout != 0 {
		t.Errorf("hooks run without an exec timeout; got %v", timeout)
	}
	m = New(Config{Exec: exec(3)})
	msg, err := m.RunHook(context.Background(), target, hook)
	want := `Exec lifecycle hook ([sh -c exit 3]) for Container "c" in Pod "p_ns(uid-1)" failed - error: command 'sh -c exit 3' exited with 3: boom
, message: "out\nboom\n"`
	if err == nil || msg != want {
		t.Errorf("exit 3:\n got %q\nwant %q", msg, want)
	}
}

func TestHTTPHook(t *testing.T) {
	paths := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path + " " + r.Header.Get("User-Agent")
		w.WriteHeader(500) // the status of a hook's response does not matter
	}))
	defer srv.Close()
	host, port := hostPort(t, srv.URL)
	c := &v1.Container{Name: "c", Ports: []v1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	target := Target{Pod: probePod(*c), Container: c, ContainerID: "id1", PodIP: host}
	m := New(Config{})
	msg, err := m.RunHook(context.Background(), target, &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/stop", Port: intstr.FromString("web")}})
	if err != nil || msg != "" {
		t.Errorf("hook: %q %v", msg, err)
	}
	if got := <-paths; got != "/stop kube-lifecycle/1.37" {
		t.Errorf("request %q", got)
	}

	closed := closedPort(t)
	msg, err = m.RunHook(context.Background(), target, &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/stop", Port: intstr.FromInt32(int32(closed))}})
	want := fmt.Sprintf(`HTTP lifecycle hook (/stop) for Container "c" in Pod "p_ns(uid-1)" failed - error: Get "http://127.0.0.1:%d/stop": dial tcp 127.0.0.1:%d: connect: connection refused`, closed, closed)
	if err == nil || msg != want {
		t.Errorf("refused:\n got %q\nwant %q", msg, want)
	}

	// An HTTPS hook answered in plain HTTP is retried over HTTP.
	var events []string
	m = New(Config{Event: func(_ *v1.Pod, container, typ, reason, message string) {
		events = append(events, reason+": "+message)
	}})
	msg, err = m.RunHook(context.Background(), target, &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Path: "/s", Port: intstr.FromInt32(int32(port)), Scheme: v1.URISchemeHTTPS}})
	if err != nil || msg != "" {
		t.Errorf("https fallback: %q %v", msg, err)
	}
	if got := <-paths; !strings.HasPrefix(got, "/s ") {
		t.Errorf("fallback request %q", got)
	}
	if len(events) != 1 || events[0] != fmt.Sprintf("LifecycleHTTPFallback: request to HTTPS lifecycle hook %s:%d got HTTP response, retry with HTTP succeeded", host, port) {
		t.Errorf("events %q", events)
	}
}

func TestSleepHook(t *testing.T) {
	c := &v1.Container{Name: "c"}
	target := Target{Pod: probePod(*c), Container: c}
	m := New(Config{})
	start := time.Now()
	if _, err := m.RunHook(context.Background(), target, &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 1}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 2*time.Second {
		t.Errorf("slept %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	msg, err := m.RunHook(ctx, target, &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 30}})
	want := `Sleep lifecycle hook (30) for Container "c" in Pod "p_ns(uid-1)" failed - error: container terminated before sleep hook finished`
	if err == nil || msg != want {
		t.Errorf("interrupted sleep: %q %v", msg, err)
	}
}
