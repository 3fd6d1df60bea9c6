package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the time stamped on every file and on the image, so builds are
// reproducible.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of the image's single layer.
type File struct {
	// Path in the image, absolute ("/bin/sh").
	Path string
	// Source is a host file to copy; Data is used when Source is empty.
	Source string
	Data   []byte
	// Link makes the entry a symbolic link to Link.
	Link string
	// Dir makes the entry an (empty) directory.
	Dir bool
	// Mode defaults to 0755 for directories and for Sources that are
	// executable on the host, 0644 otherwise.
	Mode os.FileMode
}

// Config is the image configuration a container starts from.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	// ExposedPorts like "8080/tcp".
	ExposedPorts []string
	User         string
	Labels       map[string]string
}

// Spec describes one image.
type Spec struct {
	// Ref is the name the image is tagged with, e.g. "localhost/echo:1".
	Ref    string
	Files  []File
	Config Config
}

// Build assembles the one-layer image described by spec.
func Build(spec Spec) (v1.Image, error) {
	layerTar, err := layerTar(spec.Files)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", spec.Ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("build %s: layer: %w", spec.Ref, err)
	}

	cfg := v1.Config{
		Entrypoint: spec.Config.Entrypoint,
		Cmd:        spec.Config.Cmd,
		Env:        spec.Config.Env,
		WorkingDir: spec.Config.WorkingDir,
		User:       spec.Config.User,
		Labels:     spec.Config.Labels,
	}
	if len(spec.Config.ExposedPorts) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.Config.ExposedPorts {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("build %s: config: %w", spec.Ref, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "kedge images build", Comment: spec.Ref},
	})
	if err != nil {
		return nil, fmt.Errorf("build %s: append layer: %w", spec.Ref, err)
	}
	return img, nil
}

// WriteArchive writes img as a docker-archive tarball at path, tagged ref.
// The file is replaced atomically.
func WriteArchive(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// BuildArchive builds spec and writes it to path.
func BuildArchive(path string, spec Spec) error {
	img, err := Build(spec)
	if err != nil {
		return err
	}
	return WriteArchive(path, spec.Ref, img)
}

// layerTar renders the files as a tar stream, parents first, each
// directory once, sorted by path.
func layerTar(files []File) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return nil, errors.New("file with empty path")
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("%s listed twice", p)
		}
		f.Path = p
		entries[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d, Dir: true}
			}
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := entries[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			ModTime: epoch,
		}
		var data []byte
		switch {
		case f.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			hdr.Mode = tarMode(f.Mode, 0o755)
		case f.Link != "":
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = f.Link
			hdr.Mode = 0o777
		default:
			mode := f.Mode
			data = f.Data
			if f.Source != "" {
				b, err := os.ReadFile(f.Source)
				if err != nil {
					return nil, err
				}
				data = b
				if mode == 0 {
					if st, err := os.Stat(f.Source); err == nil && st.Mode()&0o111 != 0 {
						mode = 0o755
					}
				}
			}
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = tarMode(mode, 0o644)
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if len(data) > 0 {
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarMode encodes a file mode the way tar headers do (permission bits
// plus 04000 setuid, 02000 setgid, 01000 sticky), using def when m is 0.
func tarMode(m, def os.FileMode) int64 {
	if m == 0 {
		m = def
	}
	out := int64(m.Perm())
	if m&os.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}
