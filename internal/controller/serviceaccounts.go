package controller

import (
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kedge-dev/kedge/internal/controller/rootcacert"
	satokens "github.com/kedge-dev/kedge/internal/controller/serviceaccount"
	"github.com/kedge-dev/kedge/internal/pki"
	"github.com/kedge-dev/kedge/internal/serviceaccount"
)

// addServiceAccountControllers adds the controllers that need the cluster
// CA or the ServiceAccount signing key: the root CA publisher and the
// tokens controller (each only when it has what it needs).
func addServiceAccountControllers(cfg Config, client kubernetes.Interface, f informers.SharedInformerFactory, add func(string, runner, error) error) error {
	if len(cfg.RootCA) > 0 {
		rc, err := rootcacert.New(rootcacert.Options{Client: client, Informers: f, RootCA: cfg.RootCA, Workers: cfg.Workers})
		if err := add(rootcacert.Name, rc, err); err != nil {
			return err
		}
	} else {
		slog.Warn("no root CA: kube-root-ca.crt is not published", "controller", rootcacert.Name)
	}
	if cfg.ServiceAccountKeyFile == "" {
		return nil
	}
	tc, err := newTokensController(cfg, client, f)
	return add(satokens.TokensName, tc, err)
}

func newTokensController(cfg Config, client kubernetes.Interface, f informers.SharedInformerFactory) (*satokens.TokensController, error) {
	key, err := pki.LoadPrivateKey(cfg.ServiceAccountKeyFile)
	if err != nil {
		return nil, err
	}
	iss, err := serviceaccount.NewIssuer("", key)
	if err != nil {
		return nil, err
	}
	return satokens.NewTokens(satokens.TokensOptions{Client: client, Informers: f, Tokens: iss, RootCA: cfg.RootCA, Workers: cfg.Workers})
}

// restConfigCA is the CA a REST config trusts, as upstream's controller
// manager falls back to when it has no --root-ca-file.
func restConfigCA(rc *rest.Config) []byte {
	c := rest.CopyConfig(rc)
	if err := rest.LoadTLSFiles(c); err != nil {
		return nil
	}
	return c.TLSClientConfig.CAData
}
