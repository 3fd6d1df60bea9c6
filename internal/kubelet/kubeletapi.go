package kubelet

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"

	"github.com/kedge-dev/kedge/internal/kubelet/server"
)

// serveAPI runs the kubelet API (package server) until ctx ends; without
// its certificate or the cluster CA the node runs pods without it.
func (k *Kubelet) serveAPI(ctx context.Context) {
	if k.cfg.Port < 0 {
		return
	}
	port := k.cfg.Port
	if port == 0 {
		port = server.DefaultPort
	}
	cert, key := k.cfg.TLSCertFile, k.cfg.TLSKeyFile
	if cert == "" {
		cert = filepath.Join(k.cfg.DataDir, "tls", "serving-kubelet.crt")
	}
	if key == "" {
		key = filepath.Join(k.cfg.DataDir, "tls", "serving-kubelet.key")
	}
	pool, err := k.clusterCA()
	if err != nil {
		slog.Error("kubelet API not served", "err", err)
		return
	}
	srv, err := server.New(server.Config{
		Addr: fmt.Sprintf(":%d", port), CertFile: cert, KeyFile: key, ClientCA: pool, Auth: k.client,
		NodeName: k.cfg.NodeName, Host: apiHost{k}, Runtime: k.runtime,
		RootDir: k.cfg.DataDir, CgroupRoot: k.cfg.CgroupRoot, PodLogsDir: k.cfg.PodLogsDir,
	})
	if err == nil {
		err = srv.Run(ctx)
	}
	if err != nil {
		slog.Error("kubelet API not served", "err", err)
	}
}

// clusterCA is the CA of the kubelet's API client configuration: client
// certificates of the kubelet API must chain to it.
func (k *Kubelet) clusterCA() (*x509.CertPool, error) {
	rc := k.cfg.RestConfig
	if rc == nil {
		return nil, errors.New("no API client configuration to take the cluster CA from")
	}
	data := rc.TLSClientConfig.CAData
	if len(data) == 0 && rc.TLSClientConfig.CAFile != "" {
		var err error
		if data, err = os.ReadFile(rc.TLSClientConfig.CAFile); err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("the kubeconfig has no cluster CA certificate")
	}
	return pool, nil
}

// apiHost shows the kubelet API the pods of the informer, with static
// pods in place of their mirror pods (whose UIDs the runtime does not
// know).
type apiHost struct{ k *Kubelet }

func (h apiHost) Pods() []*v1.Pod {
	objs := h.k.pods.List()
	out := make([]*v1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*v1.Pod); ok && !isMirrorPod(p) {
			out = append(out, p)
		}
	}
	return append(out, h.k.static.list()...)
}

func (h apiHost) Pod(namespace, name string) (*v1.Pod, bool) {
	if p := h.k.static.byName(namespace, name); p != nil {
		return p, true
	}
	obj, ok, err := h.k.pods.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	p, ok := obj.(*v1.Pod)
	return p, ok && !isMirrorPod(p)
}
