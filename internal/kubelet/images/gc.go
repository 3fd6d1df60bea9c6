package images

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Policy is upstream's image GC policy (KubeletConfiguration
// imageGCHighThresholdPercent, imageGCLowThresholdPercent,
// imageMinimumGCAge).
type Policy struct {
	HighThresholdPercent int
	LowThresholdPercent  int
	MinAge               time.Duration
}

// DefaultPolicy is upstream's default: 85 %, 80 %, 2 min.
func DefaultPolicy() Policy {
	return Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute}
}

// Usage is the image filesystem's size and free space in bytes.
type Usage struct {
	Capacity, Available int64
}

// Image is what GC knows of one image.
type Image struct {
	ID            string
	Size          int64
	Pinned        bool // the runtime's sandbox (pause) image
	InUse         bool // some container, running or not, uses it
	FirstDetected time.Time
	LastUsed      time.Time
}

// Plan returns how many bytes must be freed (0 below the high threshold)
// and the images to remove for it, least recently used first. Images in
// use, pinned, or first seen less than MinAge ago are never chosen.
func Plan(p Policy, u Usage, imgs []Image, now time.Time) (toFree int64, remove []Image) {
	if u.Capacity <= 0 {
		return 0, nil
	}
	used := u.Capacity - u.Available
	if used*100/u.Capacity < int64(p.HighThresholdPercent) {
		return 0, nil
	}
	toFree = u.Capacity*int64(100-p.LowThresholdPercent)/100 - u.Available
	if toFree <= 0 {
		return 0, nil
	}
	var candidates []Image
	for _, img := range imgs {
		if img.InUse || img.Pinned || now.Sub(img.FirstDetected) < p.MinAge {
			continue
		}
		candidates = append(candidates, img)
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if !a.LastUsed.Equal(b.LastUsed) {
			return a.LastUsed.Before(b.LastUsed)
		}
		return a.FirstDetected.Before(b.FirstDetected)
	})
	var planned int64
	for _, img := range candidates {
		if planned >= toFree {
			break
		}
		remove = append(remove, img)
		planned += img.Size
	}
	return toFree, remove
}

// Runtime is the part of CRI image GC uses.
type Runtime interface {
	ListImages(ctx context.Context, in *runtimeapi.ListImagesRequest, opts ...grpcCallOption) (*runtimeapi.ListImagesResponse, error)
	RemoveImage(ctx context.Context, in *runtimeapi.RemoveImageRequest, opts ...grpcCallOption) (*runtimeapi.RemoveImageResponse, error)
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpcCallOption) (*runtimeapi.ListContainersResponse, error)
}

// GCConfig configures image garbage collection.
type GCConfig struct {
	Runtime Runtime
	Policy  Policy
	// Usage reports the image filesystem (statfs of the runtime's root).
	Usage func() (Usage, error)
	// Event records a Warning event on the node.
	Event func(eventType, reason, message string)
	// Protected images (by tag, e.g. the pause image) are never removed,
	// as if pinned: containerd 1.6 does not report CRI's pinned flag.
	Protected []string
	// Period between collections; upstream's 5 min by default.
	Period time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

type imageRecord struct {
	firstDetected, lastUsed time.Time
}

// GC removes unused images when the image filesystem runs full.
type GC struct {
	cfg     GCConfig
	mu      sync.Mutex
	records map[string]*imageRecord // by image ID
}

// NewGC returns an image garbage collector; Run drives it.
func NewGC(cfg GCConfig) *GC {
	if cfg.Period == 0 {
		cfg.Period = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultPolicy()
	}
	return &GC{cfg: cfg, records: map[string]*imageRecord{}}
}

// Run detects images every 30 s (to learn when each was last used) and
// collects every Period until ctx ends.
func (g *GC) Run(ctx context.Context) {
	detect := time.NewTicker(30 * time.Second)
	defer detect.Stop()
	collect := time.NewTicker(g.cfg.Period)
	defer collect.Stop()
	g.Detect(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-detect.C:
			g.Detect(ctx)
		case <-collect.C:
			if err := g.Collect(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("image garbage collection", "err", err)
			}
		}
	}
}

// Detect lists images and containers and returns the current view, with
// first-detected and last-used times updated.
func (g *GC) Detect(ctx context.Context) ([]Image, error) {
	imgs, err := g.cfg.Runtime.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	cs, err := g.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	now := g.cfg.Now()
	used := map[string]bool{}
	for _, c := range cs.Containers {
		used[c.ImageRef] = true
		used[c.GetImage().GetImage()] = true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[string]bool{}
	var out []Image
	for _, img := range imgs.Images {
		inUse, pinned := used[img.Id], img.Pinned
		for _, n := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			inUse = inUse || used[n]
			pinned = pinned || slices.Contains(g.cfg.Protected, n)
		}
		r := g.records[img.Id]
		if r == nil {
			r = &imageRecord{firstDetected: now}
			g.records[img.Id] = r
		}
		if inUse {
			r.lastUsed = now
		}
		seen[img.Id] = true
		out = append(out, Image{ID: img.Id, Size: int64(img.Size), Pinned: pinned, InUse: inUse,
			FirstDetected: r.firstDetected, LastUsed: r.lastUsed})
	}
	for id := range g.records {
		if !seen[id] {
			delete(g.records, id)
		}
	}
	return out, nil
}

// Collect frees space down to the low threshold when usage is above the
// high one. When it cannot free enough it records FreeDiskSpaceFailed.
func (g *GC) Collect(ctx context.Context) error {
	u, err := g.cfg.Usage()
	if err != nil {
		return fmt.Errorf("image filesystem usage: %w", err)
	}
	imgs, err := g.Detect(ctx)
	if err != nil {
		return err
	}
	toFree, remove := Plan(g.cfg.Policy, u, imgs, g.cfg.Now())
	if toFree == 0 {
		return nil
	}
	slog.Info("image filesystem over the high threshold; removing unused images",
		"usage%", (u.Capacity-u.Available)*100/u.Capacity, "bytesToFree", toFree, "candidates", len(remove))
	var freed int64
	var errs []error
	for _, img := range remove {
		if _, err := g.cfg.Runtime.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: img.ID}}); err != nil {
			errs = append(errs, fmt.Errorf("remove image %s: %w", img.ID, err))
			continue
		}
		slog.Info("removed unused image", "id", img.ID, "size", img.Size)
		freed += img.Size
		g.mu.Lock()
		delete(g.records, img.ID)
		g.mu.Unlock()
	}
	if freed < toFree {
		msg := fmt.Sprintf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.", toFree, freed)
		if g.cfg.Event != nil {
			g.cfg.Event(v1.EventTypeWarning, "FreeDiskSpaceFailed", msg)
		}
		errs = append(errs, fmt.Errorf("%s", msg))
	}
	if len(errs) > 0 {
		return fmt.Errorf("image gc: %v", errs)
	}
	return nil
}

type grpcCallOption = grpc.CallOption
