//go:build tools

// Package hack pins the modules kedge is built from so that `go mod tidy`
// keeps them even before every package uses them.
package hack

import (
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/vishvananda/netlink"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/util/strategicpatch"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/tools/leaderelection"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
)
