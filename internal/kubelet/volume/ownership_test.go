package volume

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSetOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another group needs root")
	}
	dir := t.TempDir()
	payload := withGroupBits(Payload{"a": {Data: []byte("1"), Mode: 0o400}, "sub/b": {Data: []byte("2"), Mode: 0o644}}, fsGroupReadOnlyMask)
	if _, err := WriteAtomic(dir, payload, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ownedBy(dir, 2000) {
		t.Fatal("fresh dir owned by 2000")
	}
	if err := SetOwnership(dir, 2000, true); err != nil {
		t.Fatal(err)
	}
	if !ownedBy(dir, 2000) {
		t.Error("root not owned by the fsGroup with setgid")
	}
	for path, want := range map[string]os.FileMode{"a": 0o440, "sub/b": 0o644} {
		info, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want || info.Sys().(*syscall.Stat_t).Gid != 2000 {
			t.Errorf("%s: mode %v gid %d", path, info.Mode(), info.Sys().(*syscall.Stat_t).Gid)
		}
	}
	// The same payload again is not rewritten: modes already match.
	if changed, err := WriteAtomic(dir, payload, time.Now()); err != nil || changed {
		t.Errorf("rewrite: changed %v err %v", changed, err)
	}

	empty := t.TempDir()
	os.Chmod(empty, 0o777)
	os.WriteFile(filepath.Join(empty, "f"), nil, 0o600)
	if err := SetOwnership(empty, 2000, false); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(empty); info.Mode()&os.ModeSetgid == 0 || info.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir root mode %v", info.Mode())
	}
	if info, _ := os.Stat(filepath.Join(empty, "f")); info.Mode().Perm() != 0o660 {
		t.Errorf("emptyDir file mode %v", info.Mode())
	}
}
