package nodeipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ErrFull means every node CIDR of the cluster CIDR is taken.
var ErrFull = errors.New("no free node CIDR left in the cluster CIDR")

// Allocator hands out the node-sized subnets of the cluster CIDR, each at
// most once. It is safe for concurrent use.
type Allocator struct {
	mu      sync.Mutex
	cluster netip.Prefix
	bits    int
	used    []bool
	free    int
	next    int // round-robin start of the next search
}

// maxSubnets bounds the allocation map (a /8 split in /24s is 65536).
const maxSubnets = 1 << 16

// NewAllocator splits clusterCIDR (IPv4) into /maskSize subnets.
func NewAllocator(clusterCIDR string, maskSize int) (*Allocator, error) {
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("cluster CIDR %s: only IPv4 is supported", p)
	}
	if maskSize < p.Bits() || maskSize > 32 {
		return nil, fmt.Errorf("node CIDR mask /%d does not fit in cluster CIDR %s", maskSize, p)
	}
	n := 1 << (maskSize - p.Bits())
	if maskSize-p.Bits() > 16 {
		return nil, fmt.Errorf("cluster CIDR %s split in /%d gives more than %d node CIDRs", p, maskSize, maxSubnets)
	}
	return &Allocator{cluster: p, bits: maskSize, used: make([]bool, n), free: n}, nil
}

func (a *Allocator) subnet(i int) netip.Prefix {
	base := a.cluster.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(i) << (32 - a.bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), a.bits)
}

// index returns the subnet index of cidr, or false when cidr is not one of
// the allocator's subnets.
func (a *Allocator) index(cidr string) (int, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Bits() != a.bits || !a.cluster.Contains(p.Addr()) || p.Masked() != p {
		return 0, false
	}
	off := p.Addr().As4()
	base := a.cluster.Addr().As4()
	diff := (uint32(off[0])<<24 | uint32(off[1])<<16 | uint32(off[2])<<8 | uint32(off[3])) -
		(uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3]))
	return int(diff >> (32 - a.bits)), true
}

// Occupy marks cidr as taken (a node already holds it). CIDRs outside the
// cluster CIDR or of another size are ignored and reported false.
func (a *Allocator) Occupy(cidr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.index(cidr)
	if !ok {
		return false
	}
	if !a.used[i] {
		a.used[i] = true
		a.free--
	}
	return true
}

// Allocate returns a free subnet, searching round-robin from the last one
// handed out so a just-released subnet is not reused at once.
func (a *Allocator) Allocate() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == 0 {
		return "", ErrFull
	}
	for k := range len(a.used) {
		i := (a.next + k) % len(a.used)
		if !a.used[i] {
			a.used[i] = true
			a.free--
			a.next = (i + 1) % len(a.used)
			return a.subnet(i).String(), nil
		}
	}
	return "", ErrFull
}

// Release frees cidr.
func (a *Allocator) Release(cidr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.index(cidr); ok && a.used[i] {
		a.used[i] = false
		a.free++
	}
}
