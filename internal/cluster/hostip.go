package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

// HostIP returns the first IPv4 address of the interface that holds the
// default route (read from /proc/net/route; no packet is sent), or
// 127.0.0.1 on a machine without one.
func HostIP() (net.IP, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[1] != "00000000" {
			continue
		}
		iface, err := net.InterfaceByName(fields[0])
		if err != nil {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.To4(), nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	return net.IPv4(127, 0, 0, 1).To4(), nil
}
