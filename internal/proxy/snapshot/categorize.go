package snapshot

import v1 "k8s.io/api/core/v1"

// Categories are a service port's endpoints sorted by the traffic that may
// use them.
type Categories struct {
	// Cluster is what traffic under the Cluster policy reaches: the ready
	// endpoints or, when none is ready, the serving terminating ones (so
	// connections keep working through a rolling update). Nil when no
	// traffic uses the Cluster policy.
	Cluster []Endpoint
	// Local is the same choice among this node's endpoints, for Local
	// policies. Nil when no traffic uses a Local policy.
	Local []Endpoint
	// Reachable is the union: every endpoint some traffic from this node
	// may reach.
	Reachable []Endpoint
	// Any is true when the port has a usable endpoint anywhere in the
	// cluster, even one no traffic from this node may reach. It tells
	// "no endpoints" (REJECT) from "no local endpoints" (DROP).
	Any bool
}

// Categorize sorts a service port's endpoints by traffic policy.
func Categorize(sp *ServicePort, eps []Endpoint) Categories {
	var c Categories
	if sp.UsesClusterEndpoints() {
		c.Cluster = usable(eps, false)
	}
	if sp.UsesLocalEndpoints() {
		c.Local = usable(eps, true)
	}
	c.Any = len(c.Cluster) > 0 || len(usable(eps, false)) > 0
	switch {
	case len(c.Local) == 0:
		c.Reachable = c.Cluster
	case len(c.Cluster) == 0:
		c.Reachable = c.Local
	default:
		in := map[string]bool{}
		for _, e := range c.Cluster {
			in[e.String()] = true
		}
		c.Reachable = append(c.Reachable, c.Cluster...)
		for _, e := range c.Local {
			if !in[e.String()] {
				c.Reachable = append(c.Reachable, e)
			}
		}
	}
	return c
}

func usable(eps []Endpoint, localOnly bool) []Endpoint {
	var ready, terminating []Endpoint
	for _, e := range eps {
		if localOnly && !e.Local {
			continue
		}
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

// StaleEndpoint is a backend that UDP flows may still be pinned to although
// the service no longer sends traffic there.
type StaleEndpoint struct {
	// Service is the port as it was when the endpoint was in use.
	Service  *ServicePort
	Endpoint Endpoint
}

// Stale is the conntrack state a sync from one snapshot to the next made
// wrong. Only UDP is tracked: TCP and SCTP connections end by themselves,
// but a UDP conntrack entry keeps steering a client's packets to the old
// destination for as long as the client keeps talking.
type Stale struct {
	// Endpoints that left a UDP service port.
	Endpoints []StaleEndpoint
	// Services are UDP service ports that had no endpoints and now have
	// some: entries created while their traffic was rejected must go.
	Services []*ServicePort
}

// Changes compares the snapshot programmed before with the one programmed
// now. With no previous snapshot (the first sync after a start) nothing is
// reported: flows made before the start are left alone.
func Changes(old, cur *Snapshot) Stale {
	var st Stale
	if old == nil {
		return st
	}
	reachable := func(s *Snapshot, name PortName) (*ServicePort, []Endpoint) {
		sp := s.Services[name]
		if sp == nil {
			return nil, nil
		}
		return sp, Categorize(sp, s.Endpoints[name]).Reachable
	}
	for _, name := range old.Names() {
		if name.Protocol != v1.ProtocolUDP {
			continue
		}
		oldSP, oldEps := reachable(old, name)
		_, curEps := reachable(cur, name)
		in := map[string]bool{}
		for _, e := range curEps {
			in[e.String()] = true
		}
		for _, e := range oldEps {
			if !in[e.String()] {
				st.Endpoints = append(st.Endpoints, StaleEndpoint{Service: oldSP, Endpoint: e})
			}
		}
	}
	for _, name := range cur.Names() {
		if name.Protocol != v1.ProtocolUDP {
			continue
		}
		sp, curEps := reachable(cur, name)
		_, oldEps := reachable(old, name)
		if len(curEps) > 0 && len(oldEps) == 0 {
			st.Services = append(st.Services, sp)
		}
	}
	return st
}
