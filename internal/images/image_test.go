package images

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type entry struct {
	typ  byte
	mode int64
	data string
	link string
}

// readArchive checks the docker-archive's manifest names exactly ref, and
// returns the image's config and the files of its single layer.
func readArchive(t *testing.T, path, ref string) (*v1.ConfigFile, map[string]entry) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s: no manifest.json", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || !reflect.DeepEqual(m[0].RepoTags, []string{ref}) {
			t.Fatalf("%s: manifest RepoTags = %+v, want [%s]", path, m, ref)
		}
		break
	}

	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]entry{}
	lr := tar.NewReader(rc)
	for {
		h, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(lr)
		files[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, data: string(b), link: h.Linkname}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: uid %d gid %d mtime %v; want root and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
	}
	return cfg, files
}

func TestBuildArchive(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "server")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Ref: "localhost/demo:7",
		Files: []File{
			{Path: "/usr/local/bin/server", Source: src},
			{Path: "etc/demo.conf", Data: []byte("a=1\n")},
			{Path: "/bin/alias", Link: "/usr/local/bin/server"},
			{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		},
		Config: Config{
			Entrypoint:   []string{"/usr/local/bin/server"},
			Cmd:          []string{"--flag"},
			Env:          []string{"A=b"},
			WorkingDir:   "/work",
			ExposedPorts: []string{"8080/tcp"},
			User:         "1000:1000",
		},
	}
	out := filepath.Join(dir, "out", "demo.tar")
	if err := BuildArchive(out, spec); err != nil {
		t.Fatal(err)
	}
	cfg, files := readArchive(t, out, "localhost/demo:7")

	c := cfg.Config
	if !reflect.DeepEqual(c.Entrypoint, spec.Config.Entrypoint) || !reflect.DeepEqual(c.Cmd, spec.Config.Cmd) ||
		!reflect.DeepEqual(c.Env, spec.Config.Env) || c.WorkingDir != "/work" || c.User != "1000:1000" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v", c.ExposedPorts)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" || cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config file = %+v", cfg)
	}

	want := map[string]entry{
		"bin/":                 {typ: tar.TypeDir, mode: 0o755},
		"bin/alias":            {typ: tar.TypeSymlink, mode: 0o777, link: "/usr/local/bin/server"},
		"etc/":                 {typ: tar.TypeDir, mode: 0o755},
		"etc/demo.conf":        {typ: tar.TypeReg, mode: 0o644, data: "a=1\n"},
		"tmp/":                 {typ: tar.TypeDir, mode: 0o1777},
		"usr/":                 {typ: tar.TypeDir, mode: 0o755},
		"usr/local/":           {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/":       {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/server": {typ: tar.TypeReg, mode: 0o755, data: "#!binary"},
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("layer files:\n got %+v\nwant %+v", files, want)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	spec := Spec{Ref: "localhost/x:1", Files: []File{{Path: "/a", Data: []byte("a")}, {Path: "/b/c", Data: []byte("c")}}}
	var digests []v1.Hash
	for i := 0; i < 2; i++ {
		img, err := Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Fatalf("digests differ: %v", digests)
	}
}

func TestBuildRejectsDuplicatesAndBadRefs(t *testing.T) {
	if _, err := Build(Spec{Ref: "x", Files: []File{{Path: "/a"}, {Path: "a"}}}); err == nil {
		t.Error("duplicate path accepted")
	}
	img, err := Build(Spec{Ref: "x", Files: []File{{Path: "/a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(filepath.Join(t.TempDir(), "x.tar"), "Bad Ref", img); err == nil {
		t.Error("bad reference accepted")
	}
}

func TestBuildAll(t *testing.T) {
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skipf("no %s (apt-get install busybox-static)", busybox)
	}
	dir := t.TempDir()
	bin := func(n string) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(n), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := filepath.Join(dir, "images")
	err := BuildAll(out, Inputs{
		Pause:   bin("pause"),
		Busybox: busybox,
		Echo:    map[string]string{"1": bin("echo-1"), "2": bin("echo-2")},
	})
	if err != nil {
		t.Fatal(err)
	}

	cfg, files := readArchive(t, filepath.Join(out, "pause.tar"), "localhost/pause:3.10")
	if !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/pause"}) || files["pause"].data != "pause" || files["pause"].mode != 0o755 {
		t.Errorf("pause image: %+v %+v", cfg.Config, files)
	}

	for _, v := range []string{"1", "2"} {
		cfg, files := readArchive(t, filepath.Join(out, "echo-"+v+".tar"), "localhost/echo:"+v)
		if files["echo"].data != "echo-"+v || !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/echo"}) {
			t.Errorf("echo %s image: %+v", v, cfg.Config)
		}
		if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("echo %s: ports %v", v, cfg.Config.ExposedPorts)
		}
	}

	cfg, files = readArchive(t, filepath.Join(out, "busybox.tar"), "localhost/busybox:1.36")
	if files["bin/busybox"].typ != tar.TypeReg || files["bin/busybox"].mode != 0o755 {
		t.Errorf("bin/busybox = %+v", files["bin/busybox"])
	}
	for _, applet := range []string{"bin/sh", "bin/ls", "bin/cat", "bin/sleep", "usr/bin/nc", "bin/echo"} {
		if e := files[applet]; e.typ != tar.TypeSymlink || e.link != "/bin/busybox" {
			t.Errorf("%s = %+v, want symlink to /bin/busybox", applet, e)
		}
	}
	if files["tmp/"].mode != 0o1777 || files["etc/passwd"].data == "" {
		t.Errorf("tmp %+v passwd %q", files["tmp/"], files["etc/passwd"].data)
	}
	if !reflect.DeepEqual(cfg.Config.Cmd, []string{"sh"}) {
		t.Errorf("busybox cmd = %v", cfg.Config.Cmd)
	}
}
