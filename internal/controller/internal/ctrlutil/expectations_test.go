package ctrlutil

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	type step struct {
		do            func(e *Expectations)
		advance       time.Duration
		wantSatisfied bool
	}
	const key = "ns/owner"
	tests := []struct {
		name  string
		steps []step
	}{
		{"unknown key is satisfied", []step{
			{do: func(*Expectations) {}, wantSatisfied: true},
		}},
		{"creations are counted down", []step{
			{do: func(e *Expectations) { e.Expect(key, 2, nil) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true}, // never below zero
		}},
		{"deletions are ticked off by pod key, twice is harmless", []step{
			{do: func(e *Expectations) { e.Expect(key, 0, []string{"ns/a", "ns/b"}) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantSatisfied: false},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantSatisfied: false},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/b") }, wantSatisfied: true},
		}},
		{"creations and deletions together", []step{
			{do: func(e *Expectations) { e.Expect(key, 1, []string{"ns/a"}) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.DeletionObserved(key, "ns/a") }, wantSatisfied: false},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true},
		}},
		{"a new record replaces the old one", []step{
			{do: func(e *Expectations) { e.Expect(key, 0, []string{"ns/a"}) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.Expect(key, 1, nil) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.CreationObserved(key) }, wantSatisfied: true},
		}},
		{"expired records do not block forever", []step{
			{do: func(e *Expectations) { e.Expect(key, 1, []string{"ns/a"}) }, wantSatisfied: false},
			{do: func(*Expectations) {}, advance: ExpectationsTTL, wantSatisfied: false},
			{do: func(*Expectations) {}, advance: time.Second, wantSatisfied: true},
		}},
		{"forget drops the record", []step{
			{do: func(e *Expectations) { e.Expect(key, 3, nil) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.Forget(key) }, wantSatisfied: true},
		}},
		{"observations for other keys do not count", []step{
			{do: func(e *Expectations) { e.Expect(key, 1, []string{"ns/a"}) }, wantSatisfied: false},
			{do: func(e *Expectations) { e.CreationObserved("ns/other"); e.DeletionObserved("ns/other", "ns/a") }, wantSatisfied: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			e := NewExpectations(func() time.Time { return now })
			for i, s := range tt.steps {
				s.do(e)
				now = now.Add(s.advance)
				if got := e.Satisfied(key); got != s.wantSatisfied {
					t.Fatalf("step %d: Satisfied = %v, want %v", i, got, s.wantSatisfied)
				}
			}
		})
	}
}
