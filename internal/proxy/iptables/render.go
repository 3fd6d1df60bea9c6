package iptables

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"

	"github.com/kedge-dev/kedge/internal/proxy/snapshot"
)

// Chains kedge owns in every sync (flushed and rewritten each time).
const (
	chainServices         = "KUBE-SERVICES"
	chainExternalServices = "KUBE-EXTERNAL-SERVICES"
	chainNodePorts        = "KUBE-NODEPORTS"
	chainPostrouting      = "KUBE-POSTROUTING"
	chainMarkMasq         = "KUBE-MARK-MASQ"
	chainForward          = "KUBE-FORWARD"
	chainFirewall         = "KUBE-FIREWALL"

	// masqMark marks packets KUBE-POSTROUTING must masquerade.
	masqMark = "0x4000"
)

// Prefixes of the per-service chains. A chain with one of these prefixes
// that the current snapshot does not need is stale and gets deleted.
var servicePrefixes = []string{"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-", "KUBE-XLB-"}

// options are the node facts rule rendering depends on.
type options struct {
	// clusterCIDR is the pod range: traffic from outside it to a cluster IP
	// is masqueraded. Empty turns that off.
	clusterCIDR string
	// randomFully adds --random-fully to MASQUERADE (iptables >= 1.6.2).
	randomFully bool
}

// portChain names a per-service-port chain: prefix + the first 16
// characters of base32(sha256(name + protocol)), the scheme kube-proxy uses,
// so "default/kubernetes:https" is KUBE-SVC-NPX46M4PTMTKRN6Y here too.
func portChain(prefix string, name snapshot.PortName) string {
	return prefix + hash16(name.String()+strings.ToLower(string(name.Protocol)))
}

// endpointChain names the KUBE-SEP chain of one endpoint of one port.
func endpointChain(name snapshot.PortName, ep snapshot.Endpoint) string {
	return "KUBE-SEP-" + hash16(name.String()+strings.ToLower(string(name.Protocol))+ep.String())
}

func hash16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// comment renders a rule comment the way iptables-save prints it: quoted
// only when it has spaces.
func comment(text string) string {
	if strings.ContainsAny(text, " \t") {
		text = `"` + text + `"`
	}
	return "-m comment --comment " + text
}

// ruleSet accumulates one table: its chain declarations and its rules.
type ruleSet struct {
	chains   []string
	declared map[string]bool
	rules    bytes.Buffer
}

func newRuleSet(fixed ...string) *ruleSet {
	rs := &ruleSet{declared: map[string]bool{}}
	for _, c := range fixed {
		rs.declare(c)
	}
	return rs
}

func (rs *ruleSet) declare(chain string) {
	if !rs.declared[chain] {
		rs.declared[chain] = true
		rs.chains = append(rs.chains, chain)
	}
}

// add appends a rule to chain, declaring the chain if needed.
func (rs *ruleSet) add(chain string, words ...string) {
	rs.declare(chain)
	rs.rules.WriteString("-A " + chain)
	for _, w := range words {
		if w != "" {
			rs.rules.WriteString(" " + w)
		}
	}
	rs.rules.WriteByte('\n')
}

func (rs *ruleSet) write(out *bytes.Buffer, table string, deleted []string) {
	fmt.Fprintf(out, "*%s\n", table)
	for _, c := range rs.chains {
		fmt.Fprintf(out, ":%s - [0:0]\n", c)
	}
	for _, c := range deleted {
		fmt.Fprintf(out, ":%s - [0:0]\n", c)
	}
	out.Write(rs.rules.Bytes())
	for _, c := range deleted {
		fmt.Fprintf(out, "-X %s\n", c)
	}
	out.WriteString("COMMIT\n")
}

// render produces the iptables-restore --noflush input that makes the
// filter and nat tables implement snap. existingNAT lists the chains the
// nat table holds now; per-service chains among them that snap does not
// need are flushed and deleted.
func render(snap *snapshot.Snapshot, opts options, existingNAT []string) []byte {
	filter := newRuleSet(chainServices, chainExternalServices, chainForward, chainFirewall)
	nat := newRuleSet(chainServices, chainNodePorts, chainPostrouting, chainMarkMasq)

	filter.add(chainForward, "-m conntrack --ctstate INVALID -j DROP")
	filter.add(chainForward, comment("kubernetes forwarding rules"), "-m mark --mark "+masqMark+"/"+masqMark, "-j ACCEPT")
	filter.add(chainForward, comment("kubernetes forwarding conntrack rule"), "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	// route_localnet lets 127.0.0.1:<nodePort> be DNATed off the host; this
	// keeps other hosts from reaching the node's loopback services through it.
	filter.add(chainFirewall, comment("block incoming localnet connections"), "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")

	nat.add(chainPostrouting, "-m mark ! --mark "+masqMark+"/"+masqMark+" -j RETURN")
	// Clear the mark so a packet re-entering the stack is not masqueraded twice.
	nat.add(chainPostrouting, "-j MARK --xor-mark "+masqMark)
	masq := "-j MASQUERADE"
	if opts.randomFully {
		masq += " --random-fully"
	}
	nat.add(chainPostrouting, comment("kubernetes service traffic requiring SNAT"), masq)
	nat.add(chainMarkMasq, "-j MARK --or-mark "+masqMark)

	for _, name := range snap.Names() {
		renderServicePort(filter, nat, snap.Services[name], snap.Endpoints[name], opts)
	}

	// Last, so cluster IPs and external IPs win over a node-local address.
	nat.add(chainServices, comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"), "-m addrtype --dst-type LOCAL -j "+chainNodePorts)

	var stale []string
	for _, c := range existingNAT {
		if !nat.declared[c] && hasServicePrefix(c) {
			stale = append(stale, c)
		}
	}

	var out bytes.Buffer
	filter.write(&out, "filter", nil)
	nat.write(&out, "nat", stale)
	return out.Bytes()
}

func hasServicePrefix(chain string) bool {
	for _, p := range servicePrefixes {
		if strings.HasPrefix(chain, p) {
			return true
		}
	}
	return false
}

// renderServicePort writes the rules of one service port.
//
// Traffic to the cluster IP goes to the "internal" chain: KUBE-SVC (all
// usable endpoints) or, with internalTrafficPolicy Local, KUBE-SVL (this
// node's). Traffic to node ports, external IPs and load-balancer IPs goes
// through KUBE-EXT, which masquerades it and hands it to KUBE-SVC, or, with
// externalTrafficPolicy Local, keeps the client address and uses KUBE-SVL
// (traffic from this node itself is still sent to KUBE-SVC). A port with
// no endpoint to send to gets a filter rule instead: REJECT when it has no
// endpoints at all, DROP when it only lacks local ones.
func renderServicePort(filter, nat *ruleSet, sp *snapshot.ServicePort, eps []snapshot.Endpoint, opts options) {
	name := sp.Name.String()
	proto := strings.ToLower(string(sp.Name.Protocol))
	protoMatch := "-m " + proto + " -p " + proto
	port := strconv.Itoa(int(sp.Port))

	cat := snapshot.Categorize(sp, eps)
	svcChain := portChain("KUBE-SVC-", sp.Name)
	svlChain := portChain("KUBE-SVL-", sp.Name)
	extChain := portChain("KUBE-EXT-", sp.Name)
	usesSVC := len(cat.Cluster) > 0
	usesSVL := len(cat.Local) > 0

	internalChain, hasInternal := svcChain, usesSVC
	if sp.InternalPolicyLocal {
		internalChain, hasInternal = svlChain, usesSVL
	}
	externalChain, hasExternal := svcChain, usesSVC
	if sp.ExternalPolicyLocal {
		externalChain, hasExternal = svlChain, usesSVL
	}
	usesEXT := hasExternal && sp.ExternallyAccessible()

	rejectTarget, rejectComment := "REJECT", name+" has no endpoints"
	if cat.Any {
		rejectTarget, rejectComment = "DROP", name+" has no local endpoints"
	}

	// Cluster IP.
	dst := "-d " + sp.ClusterIP + " --dport " + port
	if hasInternal {
		c := comment(name + " cluster IP")
		if opts.clusterCIDR != "" {
			// Off-cluster and host-originated traffic is masqueraded so
			// replies come back through this node.
			nat.add(internalChain, c, protoMatch, dst, "! -s "+opts.clusterCIDR, "-j "+chainMarkMasq)
		}
		nat.add(chainServices, c, protoMatch, dst, "-j "+internalChain)
	} else {
		filter.add(chainServices, comment(rejectComment), protoMatch, dst, "-j "+rejectTarget)
	}

	// External IPs and load-balancer IPs.
	for _, group := range []struct {
		ips  []string
		kind string
	}{{sp.ExternalIPs, "external IP"}, {sp.LoadBalancerIPs, "loadbalancer IP"}} {
		for _, ip := range group.ips {
			dst := "-d " + ip + " --dport " + port
			if usesEXT {
				nat.add(chainServices, comment(name+" "+group.kind), protoMatch, dst, "-j "+extChain)
			} else {
				filter.add(chainExternalServices, comment(rejectComment), protoMatch, dst, "-j "+rejectTarget)
			}
		}
	}

	// Node port.
	if sp.NodePort > 0 {
		np := "--dport " + strconv.Itoa(int(sp.NodePort))
		if usesEXT {
			nat.add(chainNodePorts, comment(name), protoMatch, np, "-j "+extChain)
		} else {
			filter.add(chainExternalServices, comment(rejectComment), "-m addrtype --dst-type LOCAL", protoMatch, np, "-j "+rejectTarget)
		}
	}

	if usesEXT {
		if !sp.ExternalPolicyLocal {
			nat.add(extChain, comment("masquerade traffic for "+name+" external destinations"), "-j "+chainMarkMasq)
		} else if usesSVC {
			if opts.clusterCIDR != "" {
				nat.add(extChain, comment("pod traffic for "+name+" external destinations"), "-s "+opts.clusterCIDR, "-j "+svcChain)
			}
			nat.add(extChain, comment("masquerade LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL -j "+chainMarkMasq)
			nat.add(extChain, comment("route LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL -j "+svcChain)
		}
		nat.add(extChain, "-j "+externalChain)
	}

	if usesSVC {
		renderBalancer(nat, svcChain, sp, cat.Cluster)
	}
	if usesSVL {
		renderBalancer(nat, svlChain, sp, cat.Local)
	}
	for _, ep := range cat.Reachable {
		sep := endpointChain(sp.Name, ep)
		// Hairpin: a pod reaching itself through its service must see the
		// node as the source, or it would answer itself directly.
		nat.add(sep, comment(name), "-s "+ep.IP, "-j "+chainMarkMasq)
		affinity := ""
		if sp.ClientIPAffinity {
			affinity = "-m recent --name " + sep + " --set"
		}
		nat.add(sep, comment(name), affinity, protoMatch, "-j DNAT --to-destination "+ep.String())
	}
}

// renderBalancer spreads new connections over eps: rule i of n matches with
// probability 1/(n-i), which gives each endpoint 1/n overall; the last rule
// matches everything left. With ClientIP affinity, a client seen recently
// goes back to the endpoint it used.
func renderBalancer(nat *ruleSet, chain string, sp *snapshot.ServicePort, eps []snapshot.Endpoint) {
	name := sp.Name.String()
	if sp.ClientIPAffinity {
		for _, ep := range eps {
			sep := endpointChain(sp.Name, ep)
			nat.add(chain, comment(name+" -> "+ep.String()),
				"-m recent --name "+sep+" --rcheck --seconds "+strconv.Itoa(int(sp.AffinityTimeoutSeconds))+" --reap", "-j "+sep)
		}
	}
	n := len(eps)
	for i, ep := range eps {
		sep := endpointChain(sp.Name, ep)
		stat := ""
		if i < n-1 {
			stat = fmt.Sprintf("-m statistic --mode random --probability %0.10f", 1.0/float64(n-i))
		}
		nat.add(chain, comment(name+" -> "+ep.String()), stat, "-j "+sep)
	}
}
