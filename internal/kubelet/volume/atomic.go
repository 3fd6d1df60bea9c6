package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file of a payload: its content and permission bits.
type File struct {
	Data []byte
	Mode os.FileMode
}

// Payload is what a configMap, secret, downwardAPI or projected volume
// holds, by relative path.
type Payload map[string]File

const (
	// dataLink is the symlink naming the current timestamped directory.
	dataLink = "..data"
	// dataLinkTmp is the new link, renamed over dataLink in one step.
	dataLinkTmp = "..data_tmp"
	// tsFormat starts the name of a timestamped directory; MkdirTemp
	// appends a random number: ..2026_11_29_10_00_00.123456789
	tsFormat = "..2006_01_02_15_04_05."
)

// WriteAtomic makes dir hold exactly payload, with upstream's
// atomic-writer layout: the files are written into a new timestamped
// directory, the "..data" symlink is switched to it with one rename, and
// every top-level name is a symlink "name -> ..data/name". A reader
// following the user-visible paths sees either the old or the new
// content, never a mix. Nothing is written when dir already holds the
// payload. changed reports whether it did not.
func WriteAtomic(dir string, payload Payload, now time.Time) (changed bool, err error) {
	if err := validatePayload(payload); err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("atomic writer: %w", err)
	}
	oldTs, _ := os.Readlink(filepath.Join(dir, dataLink))
	oldTsPath := ""
	if oldTs != "" {
		oldTsPath = filepath.Join(dir, oldTs)
		if _, err := os.Stat(oldTsPath); err != nil {
			oldTsPath = ""
		}
	}
	oldVisible := map[string]bool{}
	if oldTsPath != "" {
		if holds(oldTsPath, payload) {
			// Same content: only make sure the visible links exist (a
			// crash between the rename and the links leaves them missing).
			return false, linkVisible(dir, payload)
		}
		entries, _ := os.ReadDir(oldTsPath)
		for _, e := range entries {
			oldVisible[e.Name()] = true
		}
	}

	tsDir, err := os.MkdirTemp(dir, now.UTC().Format(tsFormat))
	if err != nil {
		return false, fmt.Errorf("atomic writer: new data directory: %w", err)
	}
	if err := writePayload(tsDir, payload); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	tmpLink := filepath.Join(dir, dataLinkTmp)
	os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("atomic writer: %w", err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		os.Remove(tmpLink)
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("atomic writer: switch %s: %w", dataLink, err)
	}
	if err := linkVisible(dir, payload); err != nil {
		return true, err
	}
	// Names the new payload lacks go away, then the old data.
	visible := topLevel(payload)
	for name := range oldVisible {
		if !visible[name] {
			os.Remove(filepath.Join(dir, name))
		}
	}
	removeStale(dir, filepath.Base(tsDir))
	return true, nil
}

// validatePayload refuses paths that would leave the volume or clash with
// the writer's own names.
func validatePayload(payload Payload) error {
	for p := range payload {
		if err := validatePath(p); err != nil {
			return err
		}
	}
	return nil
}

func validatePath(p string) error {
	switch {
	case p == "":
		return errors.New("invalid path: must not be empty")
	case filepath.IsAbs(p):
		return fmt.Errorf("invalid path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	return nil
}

// holds reports whether tsDir contains exactly payload (same files,
// content and permission bits).
func holds(tsDir string, payload Payload) bool {
	seen := 0
	err := filepath.WalkDir(tsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(tsDir, path)
		f, ok := payload[rel]
		if !ok || !d.Type().IsRegular() {
			return errDiffers
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.Mode.Perm() || info.Size() != int64(len(f.Data)) {
			return errDiffers
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.Data) {
			return errDiffers
		}
		seen++
		return nil
	})
	return err == nil && seen == len(payload)
}

var errDiffers = errors.New("differs")

func writePayload(tsDir string, payload Payload) error {
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return fmt.Errorf("atomic writer: %w", err)
	}
	for _, p := range sortedPaths(payload) {
		f := payload[p]
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("atomic writer: %w", err)
		}
		if err := os.WriteFile(full, f.Data, f.Mode.Perm()); err != nil {
			return fmt.Errorf("atomic writer: write %s: %w", p, err)
		}
		// WriteFile's mode is filtered by the umask.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return fmt.Errorf("atomic writer: %w", err)
		}
	}
	return nil
}

// topLevel is the set of first path elements of the payload.
func topLevel(payload Payload) map[string]bool {
	out := map[string]bool{}
	for p := range payload {
		out[strings.SplitN(p, "/", 2)[0]] = true
	}
	return out
}

// linkVisible creates the missing "name -> ..data/name" links.
func linkVisible(dir string, payload Payload) error {
	for name := range topLevel(payload) {
		path := filepath.Join(dir, name)
		target := filepath.Join(dataLink, name)
		if cur, err := os.Readlink(path); err == nil && cur == target {
			continue
		}
		if _, err := os.Lstat(path); err == nil {
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("atomic writer: %w", err)
			}
		}
		if err := os.Symlink(target, path); err != nil {
			return fmt.Errorf("atomic writer: %w", err)
		}
	}
	return nil
}

// removeStale removes timestamped directories other than keep (the old
// data, and leftovers of interrupted writes).
func removeStale(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && n != keep && strings.HasPrefix(n, "..") && n != dataLink && n != dataLinkTmp {
			os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

func sortedPaths(payload Payload) []string {
	out := make([]string, 0, len(payload))
	for p := range payload {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
