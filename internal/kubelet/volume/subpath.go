package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ExpandSubPathExpr expands $(VAR) references of a subPathExpr from the
// container's environment ($$ is a literal $). A reference to a variable
// that is unset or empty is an error, as upstream has it.
func ExpandSubPathExpr(expr string, env map[string]string) (string, error) {
	missing := map[string]bool{}
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		if expr[i] != '$' || i+1 >= len(expr) {
			b.WriteByte(expr[i])
			continue
		}
		switch expr[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(expr[i+2:], ')')
			if end < 0 {
				b.WriteString(expr[i:])
				i = len(expr)
				continue
			}
			name := expr[i+2 : i+2+end]
			v := env[name]
			if v == "" {
				missing[name] = true
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("missing value for %s", strings.Join(names, ", "))
	}
	return b.String(), nil
}

// ResolveSubPath returns the host path of subPath inside the volume at
// root, creating it as a directory (with the root's permissions) when it
// does not exist. The result has its symlinks resolved and must stay
// inside the volume: a subPath cannot reach the rest of the host.
func ResolveSubPath(root, subPath, volumeName, containerName string) (string, error) {
	if filepath.IsAbs(subPath) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", subPath)
	}
	for _, part := range strings.Split(filepath.ToSlash(subPath), "/") {
		if part == ".." {
			return "", fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", subPath)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q", volumeName, containerName)
	}
	path := filepath.Join(realRoot, subPath)
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		mode := os.FileMode(0o755)
		if info, err := os.Stat(realRoot); err == nil {
			mode = info.Mode().Perm()
		}
		if err := mkdirInside(realRoot, subPath, mode); err != nil {
			return "", fmt.Errorf("failed to create subPath directory for volumeMount %q of container %q", volumeName, containerName)
		}
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil || !within(realRoot, resolved) {
		return "", fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q", volumeName, containerName)
	}
	return resolved, nil
}

// mkdirInside creates the missing directories of rel below root one
// level at a time, following a symlink only when it stays inside root
// (a container may plant links in its volumes; os.MkdirAll would follow
// them anywhere on the host).
func mkdirInside(root, rel string, mode os.FileMode) error {
	cur := root
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "" || part == "." {
			continue
		}
		next := filepath.Join(cur, part)
		info, err := os.Lstat(next)
		switch {
		case os.IsNotExist(err):
			if err := os.Mkdir(next, mode); err != nil && !os.IsExist(err) {
				return err
			}
			if err := os.Chmod(next, mode); err != nil {
				return err
			}
		case err != nil:
			return err
		case info.Mode()&os.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(next)
			if err != nil || !within(root, target) {
				return fmt.Errorf("%s leaves the volume", next)
			}
			next = target
		case !info.IsDir():
			return fmt.Errorf("%s is not a directory", next)
		}
		cur = next
	}
	return nil
}

func within(root, path string) bool {
	return path == root || strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/")
}
