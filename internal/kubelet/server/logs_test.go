package server

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		line, stream, msg string
		partial, bad      bool
	}{
		{line: "2024-05-01T10:00:00.123456789Z stdout F hello world\n", stream: "stdout", msg: "hello world"},
		{line: "2024-05-01T10:00:00.1Z stderr P part", stream: "stderr", msg: "part", partial: true},
		{line: "2024-05-01T10:00:00+02:00 stdout F \n", stream: "stdout", msg: ""},
		{line: "2024-05-01T10:00:00Z stdout F", stream: "stdout", msg: ""},
		{line: "2024-05-01T10:00:00Z stdout F:x spaces  kept ", stream: "stdout", msg: "spaces  kept "},
		{line: "not-a-time stdout F x", bad: true},
		{line: "2024-05-01T10:00:00Z stdin F x", bad: true},
		{line: "2024-05-01T10:00:00Z stdout X x", bad: true},
		{line: "garbage", bad: true},
	} {
		l, err := parseLogLine([]byte(tc.line))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: want an error", tc.line)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if l.stream != tc.stream || string(l.msg) != tc.msg || l.partial != tc.partial {
			t.Errorf("%q: got %s %q partial=%v", tc.line, l.stream, l.msg, l.partial)
		}
	}
}

func writeLog(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTailStart(t *testing.T) {
	for _, tc := range []struct {
		content string
		n       int64
		want    string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"", 5, ""},
		{strings.Repeat("x\n", 10000), 3, "x\nx\nx\n"},
	} {
		path := writeLog(t, tc.content)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		off, err := tailStart(f, tc.n)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.content[off:]; got != tc.want {
			t.Errorf("tail %d of %.20q: got %q, want %q", tc.n, tc.content, got, tc.want)
		}
	}
}

var sampleLog = []string{
	"2024-05-01T10:00:00.000000001Z stdout F one\n",
	"2024-05-01T10:00:01.5Z stderr F two\n",
	"2024-05-01T10:00:02Z stdout P thr\n",
	"2024-05-01T10:00:02.5Z stdout F ee\n",
	"garbage line\n",
	"2024-05-01T10:00:03Z stdout F four\n",
}

func TestCopyLogs(t *testing.T) {
	path := writeLog(t, sampleLog...)
	since := time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC)
	for _, tc := range []struct {
		name string
		opts logOptions
		want string
	}{
		{"all", logOptions{tail: -1}, "one\ntwo\nthree\nfour\n"},
		{"tail counts file lines", logOptions{tail: 2}, "four\n"},
		{"tail 3", logOptions{tail: 3}, "ee\nfour\n"},
		{"tail 0", logOptions{tail: 0}, ""},
		{"timestamps once per line", logOptions{tail: -1, timestamps: true},
			"2024-05-01T10:00:00.000000001Z one\n2024-05-01T10:00:01.500000000Z two\n2024-05-01T10:00:02.000000000Z three\n2024-05-01T10:00:03.000000000Z four\n"},
		{"since", logOptions{tail: -1, since: since}, "two\nthree\nfour\n"},
		{"limit cuts", logOptions{tail: -1, limit: 6}, "one\ntw"},
		{"limit exact", logOptions{tail: -1, limit: 4}, "one\n"},
		{"stderr only", logOptions{tail: -1, stream: streamStderr}, "two\n"},
		{"stdout only", logOptions{tail: -1, stream: streamStdout}, "one\nthree\nfour\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := copyLogs(context.Background(), path, tc.opts, &out, func() {}, func() bool { return false }, defaultFollow)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestCopyLogsMissingFile(t *testing.T) {
	err := copyLogs(context.Background(), "/nonexistent/0.log", logOptions{tail: -1}, &bytes.Buffer{}, func() {}, nil, defaultFollow)
	if err == nil || !strings.Contains(err.Error(), "failed to open log file") {
		t.Errorf("got %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCopyLogsFollow(t *testing.T) {
	path := writeLog(t, sampleLog[0])
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	flushes := atomic.Int32{}
	done := make(chan error, 1)
	timing := followTiming{poll: 5 * time.Millisecond, stateCheck: 10 * time.Millisecond}
	go func() {
		done <- copyLogs(context.Background(), path, logOptions{tail: -1, follow: true}, &out,
			func() { flushes.Add(1) }, running.Load, timing)
	}()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for out.String() != want {
			if time.Now().After(deadline) {
				t.Fatalf("got %q, want %q", out.String(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("one\n")
	// A line written in two pieces is only handed out once complete.
	f.WriteString("2024-05-01T10:00:05Z stdout F fi")
	time.Sleep(30 * time.Millisecond)
	if got := out.String(); got != "one\n" {
		t.Fatalf("half a line was handed out: %q", got)
	}
	f.WriteString("ve\n")
	waitFor("one\nfive\n")
	// The container exits after writing its last line: following ends
	// once it is read.
	f.WriteString("2024-05-01T10:00:06Z stderr F six\n")
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end after the container stopped")
	}
	if got := out.String(); got != "one\nfive\nsix\n" {
		t.Errorf("got %q", got)
	}
	if flushes.Load() == 0 {
		t.Error("never flushed while following")
	}
}

func TestCopyLogsFollowEndsWithContext(t *testing.T) {
	path := writeLog(t, sampleLog[0])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- copyLogs(ctx, path, logOptions{tail: -1, follow: true}, &syncBuffer{}, func() {}, func() bool { return true },
			followTiming{poll: 5 * time.Millisecond, stateCheck: time.Millisecond})
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end with its context")
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		query   string
		want    logOptions
		wantErr string
	}{
		{query: "", want: logOptions{tail: -1}},
		{query: "follow=true&timestamps=1&previous=true&tailLines=5&limitBytes=10", want: logOptions{tail: 5, limit: 10, follow: true, timestamps: true, previous: true}},
		{query: "follow=false", want: logOptions{tail: -1}},
		{query: "tail=3", want: logOptions{tail: 3}},
		{query: "tail=all", want: logOptions{tail: -1}},
		{query: "sinceSeconds=60", want: logOptions{tail: -1, since: now.Add(-time.Minute)}},
		{query: "sinceTime=2024-05-01T11:00:00Z", want: logOptions{tail: -1, since: now.Add(-time.Hour)}},
		{query: "stream=Stderr", want: logOptions{tail: -1, stream: streamStderr}},
		{query: "tailLines=-1", wantErr: "tailLines must be greater than or equal to 0"},
		{query: "limitBytes=0", wantErr: "limitBytes must be greater than 0"},
		{query: "sinceSeconds=0", wantErr: "sinceSeconds must be greater than 0"},
		{query: "sinceSeconds=1&sinceTime=2024-05-01T11:00:00Z", wantErr: "at most one of `sinceTime` or `sinceSeconds` may be specified"},
		{query: "stream=Both", wantErr: "stream"},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := parseLogOptions(q, now)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got error %v, want %q", tc.query, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if !got.since.Equal(tc.want.since) {
			t.Errorf("%q: since %v, want %v", tc.query, got.since, tc.want.since)
		}
		got.since, tc.want.since = time.Time{}, time.Time{}
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

func TestLogContainerID(t *testing.T) {
	term := func(id string) *v1.ContainerStateTerminated {
		return &v1.ContainerStateTerminated{ContainerID: id, FinishedAt: metav1.Now()}
	}
	pod := func(st v1.ContainerStatus) *v1.Pod {
		st.Name = "c"
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{st}}}
	}
	for _, tc := range []struct {
		name     string
		pod      *v1.Pod
		previous bool
		want     string
		wantErr  string
	}{
		{name: "running", pod: pod(v1.ContainerStatus{ContainerID: "containerd://abc", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}), want: "abc"},
		{name: "creating", pod: pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}),
			wantErr: `container "c" in pod "web" is waiting to start: ContainerCreating`},
		{name: "image pull", pod: pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}),
			wantErr: `container "c" in pod "web" is waiting to start: trying and failing to pull image`},
		{name: "crash loop shows the last run", pod: pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: v1.ContainerState{Terminated: term("containerd://old")}}), want: "old"},
		{name: "previous", previous: true, pod: pod(v1.ContainerStatus{ContainerID: "containerd://new", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}},
			LastTerminationState: v1.ContainerState{Terminated: term("containerd://old")}}), want: "old"},
		{name: "no previous", previous: true, pod: pod(v1.ContainerStatus{ContainerID: "containerd://new", State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}),
			wantErr: `previous terminated container "c" in pod "web" not found`},
		{name: "terminated", pod: pod(v1.ContainerStatus{State: v1.ContainerState{Terminated: term("containerd://done")}}), want: "done"},
		{name: "no status yet", pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, wantErr: `container "c" in pod "web" is not available`},
	} {
		got, err := logContainerID(tc.pod, "c", tc.previous)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: got error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
