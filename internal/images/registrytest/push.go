// Package registrytest pushes an image to a registry with the
// distribution API's monolithic uploads, for tests that run a registry on
// loopback (go-containerregistry's remote package would pull docker/cli
// into go.mod).
package registrytest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
)

// Push uploads img's layers, config and manifest as repo:tag to the
// registry at base (e.g. "http://127.0.0.1:5000"), with auth (if not nil)
// applied to every request, and returns the manifest's digest.
func Push(base, repo, tag string, img ggcrv1.Image, auth func(*http.Request)) (string, error) {
	do := func(method, path, contentType string, body []byte) error {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if auth != nil {
			auth(req)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("push %s:%s: %w", repo, tag, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("push %s:%s: %s %s: %s %s", repo, tag, method, path, resp.Status, msg)
		}
		return nil
	}
	blob := func(digest ggcrv1.Hash, data []byte) error {
		return do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest.String(), "application/octet-stream", data)
	}
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return "", err
		}
		rc, err := l.Compressed()
		if err != nil {
			return "", err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		if err := blob(d, data); err != nil {
			return "", err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return "", err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	if err := blob(cfgName, cfg); err != nil {
		return "", err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return "", err
	}
	mt, err := img.MediaType()
	if err != nil {
		return "", err
	}
	if err := do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, string(mt), manifest); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
