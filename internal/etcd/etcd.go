// Package etcd runs kedge's embedded etcd member. The API server is its only
// client: it gets an in-process clientv3 that skips the network entirely.
package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Config says where the member keeps its data and where it listens.
type Config struct {
	DataDir    string // member data, e.g. <data-dir>/server/db/etcd
	Name       string // member name
	ClientURL  string // e.g. http://127.0.0.1:2379; empty: no client listener
	PeerURL    string // e.g. http://127.0.0.1:2380
	QuotaBytes int64
}

// Member is a running embedded etcd member.
type Member struct {
	etcd   *embed.Etcd
	client *clientv3.Client
}

// Start starts the member and waits until it serves.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.DataDir), 0o700); err != nil {
		return nil, err
	}
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	if ec.Name == "" {
		ec.Name = "default"
	}
	ec.Dir = cfg.DataDir
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	peer := cfg.PeerURL
	if peer == "" {
		peer = "http://127.0.0.1:2380"
	}
	pu, err := url.Parse(peer)
	if err != nil {
		return nil, fmt.Errorf("etcd peer url: %w", err)
	}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = ec.Name + "=" + pu.String()
	if cfg.ClientURL != "" {
		cu, err := url.Parse(cfg.ClientURL)
		if err != nil {
			return nil, fmt.Errorf("etcd client url: %w", err)
		}
		ec.ListenClientUrls = []url.URL{*cu}
		ec.AdvertiseClientUrls = []url.URL{*cu}
	} else {
		ec.ListenClientUrls = nil
		ec.AdvertiseClientUrls = nil
	}
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "5m"
	if cfg.QuotaBytes > 0 {
		ec.QuotaBackendBytes = cfg.QuotaBytes
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd did not become ready within 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	slog.Info("etcd member ready", "name", ec.Name, "dir", cfg.DataDir)
	return &Member{etcd: e, client: v3client.New(e.Server)}, nil
}

// Client is an in-process client of the member.
func (m *Member) Client() *clientv3.Client { return m.client }

// Close stops the member.
func (m *Member) Close() {
	m.client.Close()
	m.etcd.Close()
}
