package kubelet

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	b := newBackoff(backoffInitial, backoffMax)
	t0 := time.Unix(1000, 0)
	key := "uid/c"

	// First crash: restart at once.
	if w := b.wait(key, t0, t0); w != 0 {
		t.Fatalf("first restart waits %v, want 0", w)
	}
	if d := b.next(key, t0); d != 10*time.Second {
		t.Fatalf("delay after first restart = %v, want 10s", d)
	}
	// Second crash 1 s after the restart: wait the remaining 9 s.
	crash := t0.Add(time.Second)
	if w := b.wait(key, crash, crash); w != 10*time.Second {
		t.Errorf("second restart waits %v, want 10s", w)
	}
	if w := b.wait(key, crash, crash.Add(4*time.Second)); w != 6*time.Second {
		t.Errorf("4 s later waits %v, want 6s", w)
	}
	if w := b.wait(key, crash, crash.Add(10*time.Second)); w != 0 {
		t.Errorf("10 s later waits %v, want 0", w)
	}
	// The delay doubles up to 5 min.
	want := []time.Duration{20, 40, 80, 160, 300, 300}
	now := crash.Add(10 * time.Second)
	for i, w := range want {
		if d := b.next(key, now); d != w*time.Second {
			t.Errorf("delay #%d = %v, want %vs", i+2, d, w)
		}
		now = now.Add(time.Second)
	}
	// Untouched for twice the cap: start over.
	later := now.Add(11 * time.Minute)
	if w := b.wait(key, later, later); w != 0 {
		t.Errorf("expired entry waits %v, want 0", w)
	}
	if d := b.next(key, later); d != 10*time.Second {
		t.Errorf("expired entry delay = %v, want 10s", d)
	}
	b.forgetPrefix("uid/")
	if d := b.current(key); d != 0 {
		t.Errorf("after forget: %v", d)
	}
}
