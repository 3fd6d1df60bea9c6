package prober

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestStateThresholds(t *testing.T) {
	S, F := Success, Failure
	for _, tc := range []struct {
		name      string
		kind      Kind
		success   int32
		failure   int32
		outcomes  []Result
		published []Result // after each outcome
		done      bool
	}{
		{name: "readiness starts unready and one success makes it ready", kind: Readiness,
			outcomes: []Result{S}, published: []Result{S}},
		{name: "readiness needs successThreshold successes in a row", kind: Readiness, success: 3,
			outcomes: []Result{S, S, F, S, S, S}, published: []Result{F, F, F, F, F, S}},
		{name: "readiness needs failureThreshold failures in a row", kind: Readiness,
			outcomes: []Result{S, F, F, S, F, F, F}, published: []Result{S, S, S, S, S, S, F}},
		{name: "readiness recovers", kind: Readiness, failure: 1,
			outcomes: []Result{S, F, S}, published: []Result{S, F, S}},
		{name: "a warning counts as a success", kind: Readiness,
			outcomes: []Result{Warning}, published: []Result{S}},
		{name: "liveness starts alive; three failures kill", kind: Liveness,
			outcomes: []Result{F, F, F}, published: []Result{S, S, F}, done: true},
		{name: "liveness failures must be consecutive", kind: Liveness,
			outcomes: []Result{F, F, S, F, F}, published: []Result{S, S, S, S, S}},
		{name: "liveness failureThreshold 1", kind: Liveness, failure: 1,
			outcomes: []Result{F}, published: []Result{F}, done: true},
		{name: "startup is unknown until it succeeds", kind: Startup, failure: 30,
			outcomes: []Result{F, F, S}, published: []Result{Unknown, Unknown, S}, done: true},
		{name: "startup fails after failureThreshold", kind: Startup, failure: 2,
			outcomes: []Result{F, F}, published: []Result{Unknown, F}, done: true},
		{name: "unknown outcomes are ignored", kind: Readiness,
			outcomes: []Result{Unknown, S}, published: []Result{F, S}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(tc.kind, &v1.Probe{SuccessThreshold: tc.success, FailureThreshold: tc.failure}, t0)
			for i, o := range tc.outcomes {
				before := s.result
				changed := s.observe(o)
				if s.result != tc.published[i] {
					t.Fatalf("after outcome %d (%s): published %s, want %s", i, o, s.result, tc.published[i])
				}
				if changed != (before != s.result) {
					t.Errorf("after outcome %d: changed=%v but %s -> %s", i, changed, before, s.result)
				}
			}
			if s.done != tc.done {
				t.Errorf("done = %v, want %v", s.done, tc.done)
			}
		})
	}
}

func TestStateDefaults(t *testing.T) {
	s := newState(Liveness, &v1.Probe{}, t0)
	p := s.probe
	if p.PeriodSeconds != 10 || p.TimeoutSeconds != 1 || p.SuccessThreshold != 1 || p.FailureThreshold != 3 {
		t.Errorf("defaults: %+v", p)
	}
}

func TestStateDecide(t *testing.T) {
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	probe := &v1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 10}
	for _, tc := range []struct {
		name      string
		kind      Kind
		done      bool
		now       time.Time
		started   bool
		wantProbe bool
		wantNext  time.Time
	}{
		{"before the initial delay: wait for it", Liveness, false, sec(2), true, false, sec(5)},
		{"at the initial delay: probe, next a period later", Liveness, false, sec(5), true, true, sec(15)},
		{"later: every period", Readiness, false, sec(37), true, true, sec(47)},
		{"liveness gated until started", Liveness, false, sec(7), false, false, sec(17)},
		{"readiness gated until started", Readiness, false, sec(7), false, false, sec(17)},
		{"startup probes while not started", Startup, false, sec(7), false, true, sec(17)},
		{"startup stops once started", Startup, false, sec(7), true, false, time.Time{}},
		{"done: never again", Liveness, true, sec(7), true, false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(tc.kind, probe, t0)
			s.done = tc.done
			p, next := s.decide(tc.now, tc.started)
			if p != tc.wantProbe || !next.Equal(tc.wantNext) {
				t.Errorf("decide = %v, %v; want %v, %v", p, next, tc.wantProbe, tc.wantNext)
			}
		})
	}
}
