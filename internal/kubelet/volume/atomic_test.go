package volume

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)

// listing describes dir: "name -> target" for links, "name/" for
// directories, "name" for files.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, e.Name()+" -> "+target)
		case e.IsDir():
			out = append(out, e.Name()+"/")
		default:
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var tsDirName = regexp.MustCompile(`^\.\.2026_11_29_10_00_00\.\d+$`)

func TestWriteAtomicLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	changed, err := WriteAtomic(dir, Payload{
		"app.conf":  {Data: []byte("a=1\n"), Mode: 0o644},
		"sub/inner": {Data: []byte("x"), Mode: 0o600},
	}, t0)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	ls := listing(t, dir)
	// ..2026_11_29_10_00_00.<n>/, ..data -> it, app.conf -> ..data/app.conf, sub -> ..data/sub
	if len(ls) != 4 || !tsDirName.MatchString(strings.TrimSuffix(ls[0], "/")) {
		t.Fatalf("layout: %q", ls)
	}
	ts := strings.TrimSuffix(ls[0], "/")
	want := []string{ts + "/", "..data -> " + ts, "app.conf -> ..data/app.conf", "sub -> ..data/sub"}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("entry %d: %q, want %q", i, ls[i], want[i])
		}
	}
	if got := read(t, filepath.Join(dir, "sub/inner")); got != "x" {
		t.Errorf("sub/inner = %q", got)
	}
	info, _ := os.Stat(filepath.Join(dir, "sub/inner"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode of sub/inner: %v", info.Mode())
	}

	// The same payload again writes nothing.
	changed, err = WriteAtomic(dir, Payload{
		"app.conf":  {Data: []byte("a=1\n"), Mode: 0o644},
		"sub/inner": {Data: []byte("x"), Mode: 0o600},
	}, t0.Add(time.Second))
	if err != nil || changed {
		t.Fatalf("unchanged write: changed=%v err=%v", changed, err)
	}
	if got := listing(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after unchanged write: %q", got)
	}
}

func TestWriteAtomicUpdate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if _, err := WriteAtomic(dir, Payload{"a": {Data: []byte("1"), Mode: 0o644}, "b": {Data: []byte("2"), Mode: 0o644}}, t0); err != nil {
		t.Fatal(err)
	}
	oldTs, _ := os.Readlink(filepath.Join(dir, dataLink))
	// A reader holding the old file keeps its content.
	f, err := os.Open(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	changed, err := WriteAtomic(dir, Payload{"a": {Data: []byte("one"), Mode: 0o644}, "c": {Data: []byte("3"), Mode: 0o400}}, t0.Add(time.Minute))
	if err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	newTs, _ := os.Readlink(filepath.Join(dir, dataLink))
	if newTs == oldTs || !strings.HasPrefix(newTs, "..2026_11_29_10_01_00.") {
		t.Errorf("..data -> %q after update (was %q)", newTs, oldTs)
	}
	if got := read(t, filepath.Join(dir, "a")); got != "one" {
		t.Errorf("a = %q after update", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Errorf("b survived its removal from the payload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, oldTs)); !os.IsNotExist(err) {
		t.Errorf("old data directory %s left: %v", oldTs, err)
	}
	buf := make([]byte, 8)
	n, _ := f.Read(buf)
	if string(buf[:n]) != "1" {
		t.Errorf("open old file reads %q", buf[:n])
	}
	want := []string{newTs + "/", "..data -> " + newTs, "a -> ..data/a", "c -> ..data/c"}
	if got := listing(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after update: %q, want %q", got, want)
	}

	// A mode change alone is an update too.
	if changed, _ := WriteAtomic(dir, Payload{"a": {Data: []byte("one"), Mode: 0o600}, "c": {Data: []byte("3"), Mode: 0o400}}, t0.Add(2*time.Minute)); !changed {
		t.Errorf("mode change not written")
	}
	// An empty payload leaves only the data link and its directory.
	if _, err := WriteAtomic(dir, Payload{}, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := listing(t, dir); len(got) != 2 {
		t.Errorf("after empty payload: %q", got)
	}
}

func TestWriteAtomicRepairs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	p := Payload{"k": {Data: []byte("v"), Mode: 0o644}}
	if _, err := WriteAtomic(dir, p, t0); err != nil {
		t.Fatal(err)
	}
	// An interrupted writer left a stray directory and lost a link.
	os.Mkdir(filepath.Join(dir, "..2026_01_01_00_00_00.1"), 0o755)
	os.Remove(filepath.Join(dir, "k"))
	if _, err := WriteAtomic(dir, p, t0); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "k")); got != "v" {
		t.Errorf("k = %q", got)
	}
	p["k"] = File{Data: []byte("w"), Mode: 0o644}
	if _, err := WriteAtomic(dir, p, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := listing(t, dir); len(got) != 3 {
		t.Errorf("stray directory not cleaned: %q", got)
	}
}

func TestWriteAtomicRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "..data", "..x"} {
		if _, err := WriteAtomic(t.TempDir(), Payload{p: {Data: []byte("x"), Mode: 0o644}}, t0); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}
