package prober

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Kind is the kind of a probe.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

var kinds = []Kind{Liveness, Readiness, Startup}

// String is the word upstream's events start with ("Liveness probe failed").
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	}
	return "Startup"
}

// Spec returns the container's probe of kind k (nil if none).
func (k Kind) Spec(c *v1.Container) *v1.Probe {
	switch k {
	case Liveness:
		return c.LivenessProbe
	case Readiness:
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

// withDefaults fills in what the API server defaults, for probes that come
// from elsewhere (tests, old objects).
func withDefaults(p *v1.Probe) v1.Probe {
	out := *p
	if out.TimeoutSeconds <= 0 {
		out.TimeoutSeconds = 1
	}
	if out.PeriodSeconds <= 0 {
		out.PeriodSeconds = 10
	}
	if out.SuccessThreshold <= 0 {
		out.SuccessThreshold = 1
	}
	if out.FailureThreshold <= 0 {
		out.FailureThreshold = 3
	}
	return out
}

// state is one probe of one container instance: when to probe and what
// the outcomes so far publish. It is pure; a worker drives it.
type state struct {
	kind      Kind
	probe     v1.Probe // defaults applied
	startedAt time.Time

	result Result // published
	last   Result // the latest outcome
	run    int    // how many outcomes in a row equal last
	// done: no more probes for this instance (liveness or startup
	// failed, or startup succeeded).
	done bool
}

func newState(kind Kind, p *v1.Probe, startedAt time.Time) *state {
	s := &state{kind: kind, probe: withDefaults(p), startedAt: startedAt}
	switch kind {
	case Readiness:
		s.result = Failure // not ready until it says so
	case Liveness:
		s.result = Success // alive until it says otherwise
	default:
		s.result = Unknown
	}
	return s
}

func (s *state) period() time.Duration {
	return time.Duration(s.probe.PeriodSeconds) * time.Second
}

// firstAt is when probing may begin: initialDelaySeconds after the
// container started.
func (s *state) firstAt() time.Time {
	return s.startedAt.Add(time.Duration(s.probe.InitialDelaySeconds) * time.Second)
}

// decide says, at now, whether to probe, and when to look again. started
// is whether the container has passed its startup probe (true when it has
// none). A zero next time means never: the worker is done.
func (s *state) decide(now time.Time, started bool) (probe bool, next time.Time) {
	switch {
	case s.done:
		return false, time.Time{}
	case now.Before(s.firstAt()):
		return false, s.firstAt()
	case s.kind == Startup && started:
		s.done = true
		return false, time.Time{}
	case s.kind != Startup && !started:
		// Gated until the startup probe succeeds (which wakes us).
		return false, now.Add(s.period())
	}
	return true, now.Add(s.period())
}

// observe records one outcome and reports whether the published result
// changed. It takes failureThreshold failures (successThreshold successes)
// in a row to change it.
func (s *state) observe(r Result) (changed bool) {
	if r == Warning {
		r = Success
	}
	if r != Success && r != Failure {
		return false
	}
	if r == s.last {
		s.run++
	} else {
		s.last, s.run = r, 1
	}
	threshold := int(s.probe.FailureThreshold)
	if r == Success {
		threshold = int(s.probe.SuccessThreshold)
	}
	if s.run < threshold {
		return false
	}
	changed = s.result != r
	s.result = r
	switch {
	case r == Failure && (s.kind == Liveness || s.kind == Startup):
		// The container will be killed: no more probes of this instance.
		s.done = true
	case r == Success && s.kind == Startup:
		s.done = true
	}
	return changed
}
