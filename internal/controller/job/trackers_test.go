package job

import (
	"testing"
	"time"
)

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
