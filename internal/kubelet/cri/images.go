package cri

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ImportOptions says where image tarballs come from and go to.
type ImportOptions struct {
	// Dir is searched for *.tar (docker-archive or OCI archive) files.
	Dir string
	// Address is containerd's socket; images land in namespace k8s.io.
	Address string
	// RecordPath remembers what was imported (name, size, mtime).
	RecordPath string
	// Present reports whether an image reference is already in the
	// runtime (CRI ImageStatus). A tarball is skipped only when it is
	// recorded unchanged and all its tags are present.
	Present func(ctx context.Context, ref string) (bool, error)
	// Ctr defaults to "ctr" on PATH.
	Ctr string
}

type importRecord map[string]string // file name -> "size:mtime"

// ImportImages imports every tarball in o.Dir that is new or changed and
// returns the files it imported. A missing directory is not an error.
func ImportImages(ctx context.Context, o ImportOptions) ([]string, error) {
	entries, err := os.ReadDir(o.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import images: %w", err)
	}
	if o.Ctr == "" {
		o.Ctr = "ctr"
	}
	rec := importRecord{}
	if data, err := os.ReadFile(o.RecordPath); err == nil {
		json.Unmarshal(data, &rec)
	}
	var imported []string
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tar") {
			continue
		}
		path := filepath.Join(o.Dir, e.Name())
		info, err := e.Info()
		if err != nil {
			continue
		}
		stamp := fmt.Sprintf("%d:%d", info.Size(), info.ModTime().UnixNano())
		if rec[e.Name()] == stamp && o.allPresent(ctx, path) {
			continue
		}
		cmd := exec.CommandContext(ctx, o.Ctr, "--address", o.Address, "-n", "k8s.io",
			"images", "import", "--snapshotter", "overlayfs", path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("import %s: %w: %s", path, err, strings.TrimSpace(string(out))))
			continue
		}
		slog.Info("imported image tarball", "file", path)
		rec[e.Name()] = stamp
		imported = append(imported, path)
	}
	if len(imported) > 0 {
		data, _ := json.Marshal(rec)
		if err := os.WriteFile(o.RecordPath, data, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("import images: record: %w", err))
		}
	}
	return imported, errors.Join(errs...)
}

func (o ImportOptions) allPresent(ctx context.Context, path string) bool {
	if o.Present == nil {
		return true
	}
	tags, err := ArchiveTags(path)
	if err != nil || len(tags) == 0 {
		return false
	}
	for _, t := range tags {
		ok, err := o.Present(ctx, t)
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// ArchiveTags returns the image references a docker-archive (manifest.json
// RepoTags) or OCI archive (index.json ref.name annotations) names.
func ArchiveTags(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var tags []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			var m []struct{ RepoTags []string }
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return nil, fmt.Errorf("%s: manifest.json: %w", path, err)
			}
			for _, e := range m {
				tags = append(tags, e.RepoTags...)
			}
		case "index.json":
			var idx struct {
				Manifests []struct{ Annotations map[string]string }
			}
			if err := json.NewDecoder(tr).Decode(&idx); err != nil {
				return nil, fmt.Errorf("%s: index.json: %w", path, err)
			}
			for _, m := range idx.Manifests {
				if n := m.Annotations["io.containerd.image.name"]; n != "" {
					tags = append(tags, n)
				}
			}
		}
	}
	sort.Strings(tags)
	return tags, nil
}
