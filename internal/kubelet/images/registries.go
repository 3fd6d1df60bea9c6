package images

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"sigs.k8s.io/yaml"
)

// Registries is the registries.yaml file: mirrors and per-host settings.
type Registries struct {
	// Mirrors maps a registry host (as in image names: "docker.io",
	// "localhost:5000") to the endpoints pulls go to, in order.
	Mirrors map[string]Mirror `json:"mirrors,omitempty"`
	// Configs maps an endpoint host to its TLS settings and credentials.
	Configs map[string]RegistryConfig `json:"configs,omitempty"`
}

// Mirror lists the endpoints of a registry ("http://host:port" for plain
// HTTP, "https://..." or a bare host for TLS).
type Mirror struct {
	Endpoints []string `json:"endpoint,omitempty"`
}

// RegistryConfig is how to talk to one registry host.
type RegistryConfig struct {
	Auth *RegistryAuth `json:"auth,omitempty"`
	TLS  *RegistryTLS  `json:"tls,omitempty"`
}

// RegistryAuth are credentials, as in a docker config entry.
type RegistryAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// RegistryTLS are a host's TLS settings; file paths are on the node.
type RegistryTLS struct {
	CAFile             string `json:"ca_file,omitempty"`
	CertFile           string `json:"cert_file,omitempty"`
	KeyFile            string `json:"key_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// LoadRegistries reads a registries.yaml; a missing file is an empty
// configuration.
func LoadRegistries(path string) (*Registries, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Registries{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registries: %w", err)
	}
	r := &Registries{}
	if err := yaml.UnmarshalStrict(data, r); err != nil {
		return nil, fmt.Errorf("registries: %s: %w", path, err)
	}
	for host, m := range r.Mirrors {
		for _, ep := range m.Endpoints {
			if _, err := endpointURL(ep); err != nil {
				return nil, fmt.Errorf("registries: %s: mirror %q: %w", path, host, err)
			}
		}
	}
	return r, nil
}

// Auth returns the credentials configured for pulls of images named with
// registry host: those of the host itself, else of its first mirror
// endpoint that has some (nil if none). The kubelet sends them with a
// pull when no pull secret matches.
func (r *Registries) Auth(host string) *runtimeapi.AuthConfig {
	if r == nil {
		return nil
	}
	host = NormalizeHost(host)
	candidates := []string{host}
	for h, m := range r.Mirrors {
		if NormalizeHost(h) != host {
			continue
		}
		for _, ep := range m.Endpoints {
			if u, err := endpointURL(ep); err == nil {
				candidates = append(candidates, u.Host)
			}
		}
	}
	for _, cand := range candidates {
		for h, c := range r.Configs {
			if NormalizeHost(h) != NormalizeHost(cand) || c.Auth == nil {
				continue
			}
			a := c.Auth
			return &runtimeapi.AuthConfig{Username: a.Username, Password: a.Password, Auth: a.Auth, IdentityToken: a.IdentityToken}
		}
	}
	return nil
}

// endpointURL parses an endpoint; a bare host means https.
func endpointURL(ep string) (*url.URL, error) {
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", ep)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host", ep)
	}
	return u, nil
}

// HostsFiles renders containerd's certs.d layout: directory name (a
// registry host) → hosts.toml contents. Mirrors become [host] entries;
// a config with TLS settings for a host without a mirror gets a file of
// its own for the server itself.
func (r *Registries) HostsFiles() map[string][]byte {
	files := map[string][]byte{}
	if r == nil {
		return files
	}
	for _, host := range sortedKeys(r.Mirrors) {
		var b bytes.Buffer
		dir := hostsDir(host)
		// An endpoint on the registry's own host (typically
		// "http://<host>" for a plain-HTTP registry) is its default
		// endpoint, which containerd tries last: listing it only as a
		// mirror would leave an https:// fallback whose TLS error hides
		// the registry's answer (e.g. an image's "not found").
		endpoints := r.Mirrors[host].Endpoints
		if dir != "_default" {
			server, tls := serverURL(host), (*RegistryTLS)(nil)
			var mirrors []string
			for _, ep := range endpoints {
				if u, _ := endpointURL(ep); NormalizeHost(u.Host) == NormalizeHost(host) && strings.Trim(u.Path, "/") == "" {
					server, tls = u.Scheme+"://"+u.Host, r.tlsFor(u.Host)
					continue
				}
				mirrors = append(mirrors, ep)
			}
			endpoints = mirrors
			fmt.Fprintf(&b, "server = %s\n", strconv.Quote(server))
			writeTLS(&b, "", tls)
		}
		for _, ep := range endpoints {
			u, _ := endpointURL(ep)
			fmt.Fprintf(&b, "\n[host.%s]\n", strconv.Quote(u.Scheme+"://"+u.Host+u.Path))
			b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
			writeTLS(&b, "  ", r.tlsFor(u.Host))
		}
		files[dir] = b.Bytes()
	}
	for _, host := range sortedKeys(r.Configs) {
		dir := hostsDir(host)
		c := r.Configs[host]
		if _, done := files[dir]; done || c.TLS == nil || host == "*" {
			continue
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "server = %s\n", strconv.Quote(serverURL(host)))
		writeTLS(&b, "", c.TLS)
		files[dir] = b.Bytes()
	}
	return files
}

func (r *Registries) tlsFor(host string) *RegistryTLS {
	for h, c := range r.Configs {
		if h == host || NormalizeHost(h) == NormalizeHost(host) {
			return c.TLS
		}
	}
	return nil
}

func writeTLS(b *bytes.Buffer, indent string, t *RegistryTLS) {
	if t == nil {
		return
	}
	if t.InsecureSkipVerify {
		fmt.Fprintf(b, "%sskip_verify = true\n", indent)
	}
	if t.CAFile != "" {
		fmt.Fprintf(b, "%sca = %s\n", indent, strconv.Quote(t.CAFile))
	}
	if t.CertFile != "" && t.KeyFile != "" {
		fmt.Fprintf(b, "%sclient = [[%s, %s]]\n", indent, strconv.Quote(t.CertFile), strconv.Quote(t.KeyFile))
	}
}

// serverURL is where containerd pulls from when no mirror answers.
func serverURL(host string) string {
	if NormalizeHost(host) == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return "https://" + host
}

func hostsDir(host string) string {
	if host == "*" {
		return "_default"
	}
	return NormalizeHost(host)
}

// WriteHostsDir replaces the hosts.toml files under dir (containerd's
// registry config_path) with r's. Directories without a hosts.toml of
// ours are left alone; stale ones we wrote (marked) are removed.
func WriteHostsDir(dir string, r *Registries) error {
	const marker = "# Generated by kedge from registries.yaml; edits are overwritten.\n"
	files := r.HostsFiles()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		path := filepath.Join(dir, e.Name(), "hosts.toml")
		if _, keep := files[e.Name()]; keep {
			continue
		}
		if data, err := os.ReadFile(path); err == nil && bytes.HasPrefix(data, []byte(marker)) {
			os.Remove(path)
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	for host, data := range files {
		d := filepath.Join(dir, host)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("registries: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, "hosts.toml"), append([]byte(marker), data...), 0o644); err != nil {
			return fmt.Errorf("registries: %w", err)
		}
	}
	return nil
}

// NormalizeHost maps Docker Hub's aliases to "docker.io".
func NormalizeHost(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return host
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
