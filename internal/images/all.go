package images

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kedge-dev/kedge/internal/cluster"
)

// References of the images BuildAll produces.
const (
	PauseImage   = cluster.PauseImage // localhost/pause:3.10
	BusyboxImage = "localhost/busybox:1.36"
	echoRepo     = "localhost/echo"
)

// EchoImage is the reference of the echo test server of a version.
func EchoImage(version string) string { return echoRepo + ":" + version }

// Inputs are the host binaries BuildAll packs.
type Inputs struct {
	// Pause is the static pause binary (hack/images.mk builds it).
	Pause string
	// Busybox is a static busybox; default /bin/busybox (Debian's
	// busybox-static).
	Busybox string
	// Echo maps a version ("1", "2") to the echo server binary built with
	// -X main.version=<version>.
	Echo map[string]string
}

// BuildAll writes pause.tar, busybox.tar and echo-<version>.tar to outDir.
func BuildAll(outDir string, in Inputs) error {
	if in.Pause == "" {
		return fmt.Errorf("images: no pause binary given")
	}
	if in.Busybox == "" {
		in.Busybox = "/bin/busybox"
	}
	bb, err := BusyboxSpec(in.Busybox)
	if err != nil {
		return err
	}
	specs := map[string]Spec{
		"pause.tar":   PauseSpec(in.Pause),
		"busybox.tar": bb,
	}
	for v, bin := range in.Echo {
		specs["echo-"+v+".tar"] = EchoSpec(v, bin)
	}
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := BuildArchive(filepath.Join(outDir, n), specs[n]); err != nil {
			return err
		}
	}
	return nil
}

// PauseSpec is the sandbox image: /pause as entrypoint, run as 65535 like
// upstream's registry.k8s.io/pause.
func PauseSpec(binary string) Spec {
	return Spec{
		Ref:   PauseImage,
		Files: []File{{Path: "/pause", Source: binary, Mode: 0o755}},
		Config: Config{
			Entrypoint: []string{"/pause"},
			User:       "65535:65535",
		},
	}
}

// EchoSpec is the echo test server (test/images/echo) of one version.
func EchoSpec(version, binary string) Spec {
	return Spec{
		Ref:   EchoImage(version),
		Files: []File{{Path: "/echo", Source: binary, Mode: 0o755}},
		Config: Config{
			Entrypoint:   []string{"/echo"},
			ExposedPorts: []string{"8080/tcp"},
			Env:          []string{"PATH=/"},
		},
	}
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BusyboxSpec is a busybox image: the static binary at /bin/busybox, a
// symlink per applet at the path busybox itself lists (sh, ls, cat, sleep,
// nc, ...), minimal /etc/passwd and /etc/group, and /tmp. Like the Docker
// Hub image, it runs sh by default.
func BusyboxSpec(binary string) (Spec, error) {
	out, err := exec.Command(binary, "--list-full").Output()
	if err != nil {
		return Spec{}, fmt.Errorf("images: list busybox applets with %s --list-full: %w", binary, err)
	}
	files := []File{
		{Path: "/bin/busybox", Source: binary, Mode: 0o755},
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		{Path: "/root", Dir: true, Mode: 0o700},
	}
	seen := map[string]bool{"/bin/busybox": true}
	for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		p := "/" + strings.TrimSpace(line)
		if p == "/" || seen[p] {
			continue
		}
		seen[p] = true
		files = append(files, File{Path: p, Link: "/bin/busybox"})
	}
	return Spec{
		Ref:   BusyboxImage,
		Files: files,
		Config: Config{
			Cmd: []string{"sh"},
			Env: []string{defaultPath},
		},
	}, nil
}
