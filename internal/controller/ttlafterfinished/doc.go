// Package ttlafterfinished is the TTL-after-finished controller: it
// deletes Jobs spec.ttlSecondsAfterFinished seconds after they finished,
// and their pods with them.
//
//	Job (informer) ──► Expiry (pure): finished? when did it finish
//	   │                (lastTransitionTime of its Complete/Failed
//	   │                condition)? expired at now?
//	   ├─ not yet ──► look again when it expires
//	   └─ expired ──► re-read the Job from the server, check again, delete
//	                  it with propagationPolicy Foreground and its UID as
//	                  precondition
//
// A Job without ttlSecondsAfterFinished, not finished, or already being
// deleted is left alone. Foreground deletion makes the garbage collector
// remove the pods before the Job disappears. No events, as upstream.
package ttlafterfinished
