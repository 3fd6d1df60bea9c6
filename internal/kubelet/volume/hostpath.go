package volume

import (
	"fmt"
	"os"
	"syscall"

	v1 "k8s.io/api/core/v1"
)

// CheckHostPath checks (and for the ...OrCreate types, creates) a
// hostPath volume's path as upstream does, with its messages.
func CheckHostPath(hp *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	path := hp.Path
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if !exists(path) {
			return os.MkdirAll(path, 0o755)
		}
		fallthrough
	case v1.HostPathDirectory:
		if fileType(path) != syscall.S_IFDIR {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case v1.HostPathFileOrCreate:
		if !exists(path) {
			// Like upstream, the parent directory is not created.
			f, err := os.OpenFile(path, os.O_CREATE, 0o644)
			if f != nil {
				f.Close()
			}
			if err != nil && !os.IsExist(err) {
				return err
			}
			return nil
		}
		fallthrough
	case v1.HostPathFile:
		if fileType(path) != syscall.S_IFREG {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case v1.HostPathSocket:
		if fileType(path) != syscall.S_IFSOCK {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case v1.HostPathCharDev:
		if fileType(path) != syscall.S_IFCHR {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case v1.HostPathBlockDev:
		if fileType(path) != syscall.S_IFBLK {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("%s is an invalid volume type", t)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fileType is the S_IFMT bits of path (symlinks followed), 0 if it
// cannot be read.
func fileType(path string) uint32 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return st.Mode & syscall.S_IFMT
}
