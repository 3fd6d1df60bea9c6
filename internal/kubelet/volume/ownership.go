package volume

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "k8s.io/api/core/v1"
)

// Group permission bits upstream adds for fsGroup: read for read-only
// volumes (configMap, secret, downwardAPI, projected), read-write for
// the others (emptyDir).
const (
	fsGroupReadOnlyMask  os.FileMode = 0o440
	fsGroupReadWriteMask os.FileMode = 0o660
)

// podFSGroup is the pod's securityContext.fsGroup, nil when unset.
func podFSGroup(pod *v1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroup
	}
	return nil
}

// withGroupBits returns payload with the fsGroup read bits added to
// every file mode, so the atomic writer's "same content" check agrees
// with the modes SetOwnership leaves.
func withGroupBits(payload Payload, mask os.FileMode) Payload {
	out := make(Payload, len(payload))
	for p, f := range payload {
		f.Mode |= mask
		out[p] = f
	}
	return out
}

// ownedBy reports whether dir already belongs to group gid with the
// set-group-ID bit (what SetOwnership leaves on a volume's root).
func ownedBy(dir string, gid int64) bool {
	info, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int64(st.Gid) == gid && info.Mode()&os.ModeSetgid != 0
}

// SetOwnership applies fsGroup to a volume as upstream's kubelet does:
// everything below dir gets group gid, files get the group bits of mask
// added, directories also the set-group-ID bit and group search, so
// files created later inherit the group. Symlinks only change group.
func SetOwnership(dir string, gid int64, readOnly bool) error {
	mask := fsGroupReadWriteMask
	if readOnly {
		mask = fsGroupReadOnlyMask
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int64(st.Gid) != gid {
			if err := os.Lchown(path, -1, int(gid)); err != nil {
				return err
			}
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		keep := os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky
		cur := info.Mode() & keep
		want := cur | mask
		if d.IsDir() {
			want |= os.ModeSetgid | 0o110
		}
		if want != cur {
			return os.Chmod(path, want)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set fsGroup %d on %s: %w", gid, dir, err)
	}
	return nil
}
