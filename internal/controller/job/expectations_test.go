package job

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := t0
	e := newExpectations(func() time.Time { return now })
	if !e.satisfied("ns/job") {
		t.Fatal("unknown key must be satisfied")
	}
	e.expect("ns/job", 2, []string{"ns/a"})
	e.creationObserved("ns/job")
	e.deletionObserved("ns/job", "ns/a")
	if e.satisfied("ns/job") {
		t.Fatal("one creation outstanding")
	}
	e.creationObserved("ns/job")
	if !e.satisfied("ns/job") {
		t.Fatal("all observed")
	}
	e.expect("ns/job", 1, nil)
	now = now.Add(expectationsTTL + time.Second)
	if !e.satisfied("ns/job") {
		t.Fatal("expired expectations must not block forever")
	}
}

func TestRemovals(t *testing.T) {
	now := t0
	r := newRemovals(func() time.Time { return now })
	r.expect("ns/job", "a")
	r.expect("ns/job", "b")
	r.observed("ns/job", "a")
	if p := r.pending("ns/job"); len(p) != 1 || !p["b"] {
		t.Errorf("pending = %v, want b", p)
	}
	now = now.Add(removalTTL + time.Second)
	if p := r.pending("ns/job"); len(p) != 0 {
		t.Errorf("pending after TTL = %v", p)
	}
}

func TestVersions(t *testing.T) {
	v := newVersions()
	if v.newer("ns/job", "5") {
		t.Error("nothing written yet")
	}
	v.record("ns/job", "10")
	v.record("ns/job", "7") // an older answer arriving late
	if !v.newer("ns/job", "9") || v.newer("ns/job", "10") || v.newer("ns/job", "11") || v.newer("ns/job", "") {
		t.Error("newer must compare with the latest write")
	}
	v.forget("ns/job")
	if v.newer("ns/job", "1") {
		t.Error("forgotten")
	}
}
