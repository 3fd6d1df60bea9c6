package storage

import (
	"context"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// Batch is one response of a progress watch. Either way every change under
// the prefix up to Rev has been delivered: Rev is the last event's revision,
// or, for a progress notification (no Events), the store's revision.
type Batch struct {
	Events []Event
	Rev    int64
}

// ProgressWatch is a watch whose progress can be asked for. Batches closes
// when the watch ends; Err then holds why (nothing when its context ended).
type ProgressWatch struct {
	Batches <-chan Batch
	Err     <-chan error
	// RequestProgress asks etcd for a progress notification on every
	// progress watch. etcd ignores the request while a watch on the shared
	// stream is still catching up: ask again later.
	RequestProgress func() error
}

// WatchProgress is Watch with progress notifications: changes under prefix
// after fromRev (exclusive), and a Batch without events whenever
// RequestProgress is answered. All progress watches of a Store share one
// etcd watch stream, apart from the streams of Watch, so that a progress
// request answers all of them at once.
func (s *Store) WatchProgress(ctx context.Context, prefix string, fromRev int64) *ProgressWatch {
	out := make(chan Batch, 16)
	errc := make(chan error, 1)
	wctx := clientv3.WithRequireLeader(metadata.AppendToOutgoingContext(ctx, "kedge-watch-stream", "progress"))
	wch := s.c.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(fromRev+1), clientv3.WithPrevKV())
	go func() {
		defer close(out)
		for resp := range wch {
			if resp.CompactRevision != 0 {
				errc <- ErrCompacted
				return
			}
			if err := resp.Err(); err != nil {
				errc <- wrap(err)
				return
			}
			b := Batch{Rev: resp.Header.Revision}
			if len(resp.Events) > 0 {
				b.Events = make([]Event, 0, len(resp.Events))
				for _, e := range resp.Events {
					ev := Event{KV: fromKV(e.Kv)}
					if e.PrevKv != nil {
						p := fromKV(e.PrevKv)
						ev.Prev = &p
					}
					if e.Type == mvccpb.DELETE {
						ev.Type = Deleted
					} else {
						ev.Created = e.Kv.CreateRevision == e.Kv.ModRevision
					}
					b.Events = append(b.Events, ev)
				}
				// The header of a catching-up watch may be ahead of what
				// it has sent: only the events vouch for progress.
				b.Rev = b.Events[len(b.Events)-1].KV.Rev
			} else if !resp.IsProgressNotify() {
				continue
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return &ProgressWatch{
		Batches:         out,
		Err:             errc,
		RequestProgress: func() error { return s.c.RequestProgress(wctx) },
	}
}
