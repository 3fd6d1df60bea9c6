// Package watchcache serves the API server's watches (and lists) from
// memory, so that any number of watchers of a resource cost one etcd watch.
//
//	etcd ── one progress watch per resource ──▶ cache ─┬─▶ state: the current objects, decoded
//	                                                    ├─▶ ring: the recent events, decoded
//	                                                    └─▶ fan-out ─▶ Watcher (bounded queue) ─▶ HTTP
//
// A cache starts on the first request for its resource: it lists the
// resource's keys and watches them from the list's revision. Every change is
// decoded once; its JSON is encoded once, on first use, and shared by every
// watcher (objects handed out are shared: never modify them).
//
// Words:
//
//   - revision: etcd's revision, an object's resourceVersion.
//   - window: the revisions a watch may resume from, (oldest-1, now]; the ring
//     holds every change inside it. A watch from before the window is too
//     old: upstream's 410 Gone "too old resource version".
//   - fresh: the cache has seen every change up to a revision. Changes of a
//     resource prove it while it is busy, etcd progress notifications while
//     it is idle. A consistent read waits until the cache is fresh up to the
//     etcd revision of the moment it was asked.
//   - bookmark: an event that says only "you have everything up to revision
//     N"; sent about once a minute to watchers that asked for them.
//   - slow watcher: one whose queue stays full longer than the dispatch
//     timeout. It is closed, as upstream does, and resumes from its last
//     revision; the others never wait for it beyond that.
//
// Selector-aware translation: a watcher sees an object that starts matching
// its selector as ADDED, one that stops matching as DELETED (with the new
// object), and one that is deleted as DELETED with its last state at the
// deletion's revision.
package watchcache
