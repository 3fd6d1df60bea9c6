package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestRenderCNIConfig(t *testing.T) {
	data, err := RenderCNIConfig(CNIConfig{PodCIDR: "10.42.3.7/24", IPAMDataDir: "/var/lib/kedge/agent/cni"})
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string
		Plugins    []struct {
			Type         string
			Bridge       string
			IsGateway    bool `json:"isGateway"`
			IPMasq       bool `json:"ipMasq"`
			HairpinMode  bool `json:"hairpinMode"`
			Capabilities map[string]bool
			IPAM         struct {
				Type    string
				DataDir string `json:"dataDir"`
				Ranges  [][]struct{ Subnet string }
			}
		}
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, data)
	}
	if conf.Name != "kedge" || conf.CNIVersion != "1.0.0" || len(conf.Plugins) != 2 {
		t.Fatalf("unexpected conflist: %s", data)
	}
	br := conf.Plugins[0]
	if br.Type != "bridge" || br.Bridge != "kedge0" || !br.IsGateway || br.IPMasq || !br.HairpinMode {
		t.Errorf("bridge plugin: %+v", br)
	}
	if br.IPAM.Type != "host-local" || br.IPAM.DataDir != "/var/lib/kedge/agent/cni" || br.IPAM.Ranges[0][0].Subnet != "10.42.3.0/24" {
		t.Errorf("ipam: %+v", br.IPAM)
	}
	if pm := conf.Plugins[1]; pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
		t.Errorf("portmap plugin: %+v", pm)
	}
}

func TestRenderCNIConfigRejects(t *testing.T) {
	for _, c := range []CNIConfig{
		{PodCIDR: "", IPAMDataDir: "/x"},
		{PodCIDR: "10.42.0.0/33", IPAMDataDir: "/x"},
		{PodCIDR: "fd00::/64", IPAMDataDir: "/x"},
		{PodCIDR: "10.42.0.0/24"},
	} {
		if _, err := RenderCNIConfig(c); err == nil {
			t.Errorf("RenderCNIConfig(%+v) succeeded, want error", c)
		}
	}
}

func TestWriteCNIConfigOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	c := CNIConfig{PodCIDR: "10.42.0.0/24", IPAMDataDir: filepath.Join(dir, "ipam")}
	for i, want := range []bool{true, false} {
		changed, err := WriteCNIConfig(filepath.Join(dir, "net.d"), c)
		if err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Errorf("write %d: changed = %v, want %v", i, changed, want)
		}
	}
	c.PodCIDR = "10.42.1.0/24"
	if changed, err := WriteCNIConfig(filepath.Join(dir, "net.d"), c); err != nil || !changed {
		t.Errorf("new CIDR: changed=%v err=%v", changed, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "net.d"))
	if len(entries) != 1 || entries[0].Name() != ConfFileName {
		t.Errorf("conf dir holds %v, want only %s", entries, ConfFileName)
	}
}
