// Package storage is the API server's view of etcd: keys hold the JSON of one
// object each, a key's ModRevision is the object's resourceVersion, and a
// watch is an etcd watch from a revision. Nothing but the API server uses it.
//
// Keys are <prefix>/<resource>/<namespace>/<name> (cluster-scoped objects
// omit the namespace). Extra "claim" keys let a write reserve unique values
// (a ClusterIP, a NodePort) in the same transaction as the object.
package storage

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	ErrNotFound  = errors.New("not found")
	ErrExists    = errors.New("already exists")
	ErrConflict  = errors.New("revision conflict")
	ErrCompacted = errors.New("revision compacted")
	// ErrClaimed means one of the claim keys of a create is already held.
	ErrClaimed = errors.New("claim already held")
)

// KV is one stored object.
type KV struct {
	Key       string
	Value     []byte
	Rev       int64 // ModRevision: the resourceVersion
	CreateRev int64
}

// Store reads and writes objects in etcd.
type Store struct {
	c *clientv3.Client
}

// New wraps an etcd client.
func New(c *clientv3.Client) *Store { return &Store{c: c} }

// Get reads one key.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	resp, err := s.c.Get(ctx, key)
	if err != nil {
		return KV{}, wrap(err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, ErrNotFound
	}
	return fromKV(resp.Kvs[0]), nil
}

// CurrentRev is the store's newest revision.
func (s *Store) CurrentRev(ctx context.Context) (int64, error) {
	resp, err := s.c.Get(ctx, "/", clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return 0, wrap(err)
	}
	return resp.Header.Revision, nil
}

// ListResult is one page of a prefix listing.
type ListResult struct {
	Items []KV
	Rev   int64 // the revision the page was read at
	More  bool  // keys remain after the last item
	Count int64 // keys remaining after this page (if More)
}

// List reads keys under prefix at rev (0: newest), starting at startKey (empty:
// from the beginning), at most limit keys (0: all).
func (s *Store) List(ctx context.Context, prefix string, rev, limit int64, startKey string) (ListResult, error) {
	from := prefix
	if startKey != "" {
		from = startKey
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	resp, err := s.c.Get(ctx, from, opts...)
	if err != nil {
		return ListResult{}, wrap(err)
	}
	out := ListResult{Rev: resp.Header.Revision, More: resp.More}
	if out.More {
		out.Count = resp.Count - int64(len(resp.Kvs))
	}
	out.Items = make([]KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out.Items[i] = fromKV(kv)
	}
	return out, nil
}

// Create writes key if it does not exist, together with the claim keys
// (each must be free). It returns the new revision.
func (s *Store) Create(ctx context.Context, key string, val []byte, claims map[string]string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
	for k, v := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		ops = append(ops, clientv3.OpPut(k, v))
	}
	resp, err := s.c.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, wrap(err)
	}
	if !resp.Succeeded {
		if len(resp.Responses) > 0 && len(resp.Responses[0].GetResponseRange().Kvs) > 0 {
			return 0, ErrExists
		}
		return 0, ErrClaimed
	}
	return resp.Header.Revision, nil
}

// Update replaces key if its ModRevision is still expectRev. New claims are
// taken and released claims deleted in the same transaction.
func (s *Store) Update(ctx context.Context, key string, val []byte, expectRev int64, claims map[string]string, release []string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", expectRev)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
	for k, v := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		ops = append(ops, clientv3.OpPut(k, v))
	}
	for _, k := range release {
		ops = append(ops, clientv3.OpDelete(k))
	}
	resp, err := s.c.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, wrap(err)
	}
	if !resp.Succeeded {
		rr := resp.Responses[0].GetResponseRange()
		if len(rr.Kvs) == 0 {
			return 0, ErrNotFound
		}
		if rr.Kvs[0].ModRevision != expectRev {
			return 0, ErrConflict
		}
		return 0, ErrClaimed
	}
	return resp.Header.Revision, nil
}

// Delete removes key if its ModRevision is still expectRev (0: any), and the
// release keys with it. It returns the deletion revision.
func (s *Store) Delete(ctx context.Context, key string, expectRev int64, release []string) (int64, error) {
	var cmps []clientv3.Cmp
	if expectRev > 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", expectRev))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), ">", 0))
	}
	ops := []clientv3.Op{clientv3.OpDelete(key)}
	for _, k := range release {
		ops = append(ops, clientv3.OpDelete(k))
	}
	resp, err := s.c.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return 0, wrap(err)
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
			return 0, ErrNotFound
		}
		return 0, ErrConflict
	}
	return resp.Header.Revision, nil
}

// EventType is what happened to a key.
type EventType int

const (
	Put EventType = iota
	Deleted
)

// Event is one change seen by a watch. For a Put of an existing key and for
// a Delete, Prev holds the value before.
type Event struct {
	Type    EventType
	KV      KV
	Prev    *KV
	Created bool // a Put that created the key
}

// Watch streams changes under prefix after fromRev (exclusive). The channel
// closes when ctx ends or the watch fails; a failure is reported through
// errc (ErrCompacted when fromRev is too old).
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan []Event, <-chan error) {
	out := make(chan []Event, 16)
	errc := make(chan error, 1)
	wctx := clientv3.WithRequireLeader(ctx)
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
			evs := make([]Event, 0, len(resp.Events))
			for _, e := range resp.Events {
				ev := Event{KV: fromKV(e.Kv)}
				if e.PrevKv != nil {
					p := fromKV(e.PrevKv)
					ev.Prev = &p
				}
				if e.Type == mvccpb.DELETE {
					ev.Type = Deleted
					ev.KV.Rev = e.Kv.ModRevision
				} else {
					ev.Created = e.Kv.CreateRevision == e.Kv.ModRevision
				}
				evs = append(evs, ev)
			}
			select {
			case out <- evs:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}

func fromKV(kv *mvccpb.KeyValue) KV {
	return KV{Key: string(kv.Key), Value: kv.Value, Rev: kv.ModRevision, CreateRev: kv.CreateRevision}
}

func wrap(err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrGRPCCompacted) {
		return ErrCompacted
	}
	if errors.Is(err, rpctypes.ErrFutureRev) || errors.Is(err, rpctypes.ErrGRPCFutureRev) {
		return fmt.Errorf("%w: future revision", ErrNotFound)
	}
	return fmt.Errorf("etcd: %w", err)
}
