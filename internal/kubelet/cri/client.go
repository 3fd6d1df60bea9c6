package cri

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxMsgSize matches what upstream's kubelet allows for CRI responses
// (ListContainers on a busy node is large).
const maxMsgSize = 16 << 20

// Client talks CRI v1 to a runtime. Both services share one connection.
type Client struct {
	runtimeapi.RuntimeServiceClient
	runtimeapi.ImageServiceClient
	conn *grpc.ClientConn
}

// Endpoint turns a socket path or a unix:// URL into the absolute unix://
// target gRPC needs (a relative path fails with "invalid authority").
func Endpoint(s string) (string, error) {
	path := strings.TrimPrefix(s, "unix://")
	if path == "" {
		return "", fmt.Errorf("empty CRI endpoint")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("CRI endpoint %q: %w", s, err)
	}
	return "unix://" + abs, nil
}

// Dial creates a client for endpoint (a socket path or unix:// URL). The
// connection is lazy: use WaitReady to know the runtime answers.
func Dial(endpoint string) (*Client, error) {
	target, err := Endpoint(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial CRI %s: %w", target, err)
	}
	return &Client{
		RuntimeServiceClient: runtimeapi.NewRuntimeServiceClient(conn),
		ImageServiceClient:   runtimeapi.NewImageServiceClient(conn),
		conn:                 conn,
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// WaitReady polls Version until the runtime answers or ctx ends.
func (c *Client) WaitReady(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := c.Version(callCtx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CRI runtime not ready: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
