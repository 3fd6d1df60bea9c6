package framework

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// MaxNodeScore is the highest score a Score plugin may give after
// normalization.
const MaxNodeScore int64 = 100

// ErrNoNodesAvailable is returned when the cluster has no nodes at all.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// CycleState carries data between the extension points of one scheduling
// cycle (for example requests computed in PreFilter and read in Filter).
type CycleState struct{ data map[string]any }

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{data: map[string]any{}} }

// Read returns the value stored under key.
func (c *CycleState) Read(key string) (any, bool) {
	v, ok := c.data[key]
	return v, ok
}

// Write stores a value.
func (c *CycleState) Write(key string, v any) { c.data[key] = v }

// Plugin is anything with a name.
type Plugin interface{ Name() string }

// PreFilterResult narrows the nodes Filter looks at; nil means all nodes.
type PreFilterResult struct{ NodeNames sets.Set[string] }

// PreFilterPlugin runs once per cycle before any node is filtered. It may
// reject the pod outright or name the only nodes worth filtering.
type PreFilterPlugin interface {
	Plugin
	PreFilter(state *CycleState, pod *v1.Pod, snap *Snapshot) (*PreFilterResult, *Status)
}

// FilterPlugin decides whether the pod can run on one node (feasibility).
type FilterPlugin interface {
	Plugin
	Filter(state *CycleState, pod *v1.Pod, node *NodeInfo) *Status
}

// FilterFunc runs every Filter plugin against one node.
type FilterFunc func(state *CycleState, pod *v1.Pod, node *NodeInfo) *Status

// PostFilterResult is what a PostFilter plugin proposes when no node fits:
// evict Victims so that the pod fits on NominatedNodeName.
type PostFilterResult struct {
	NominatedNodeName string
	Victims           []*v1.Pod
}

// PostFilterPlugin runs when no node is feasible (preemption lives here).
// A rejecting status's reasons are appended to the failure message.
type PostFilterPlugin interface {
	Plugin
	PostFilter(state *CycleState, pod *v1.Pod, snap *Snapshot, statuses map[string]*Status, filter FilterFunc) (*PostFilterResult, *Status)
}

// PreScorePlugin computes per-cycle data for Score.
type PreScorePlugin interface {
	Plugin
	PreScore(state *CycleState, pod *v1.Pod, snap *Snapshot, nodes []*NodeInfo) *Status
}

// ScorePlugin ranks a feasible node (higher is better).
type ScorePlugin interface {
	Plugin
	Score(state *CycleState, pod *v1.Pod, node *NodeInfo) (int64, *Status)
}

// ScoreNormalizer maps a plugin's raw scores onto [0, MaxNodeScore].
type ScoreNormalizer interface {
	NormalizeScore(state *CycleState, pod *v1.Pod, scores []NodeScore) *Status
}

// NodeScore is one node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// WeightedScore is a Score plugin with its weight in the total.
type WeightedScore struct {
	Plugin ScorePlugin
	Weight int64
}

// Profile is the ordered set of plugins of each extension point.
type Profile struct {
	PreFilter  []PreFilterPlugin
	Filter     []FilterPlugin
	PostFilter []PostFilterPlugin
	PreScore   []PreScorePlugin
	Score      []WeightedScore
}

// Framework runs a Profile over a Snapshot. It is pure: no I/O, and with a
// seeded random source, deterministic.
type Framework struct {
	profile Profile
	rand    *rand.Rand
}

// New returns a Framework. rnd breaks ties between equally good nodes;
// nil uses a randomly seeded source.
func New(p Profile, rnd *rand.Rand) *Framework {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Framework{profile: p, rand: rnd}
}

// Result is the outcome of a successful cycle.
type Result struct {
	SuggestedHost  string
	EvaluatedNodes int
	FeasibleNodes  int
}

// Diagnosis records why each node was rejected.
type Diagnosis struct {
	NodeToStatus map[string]*Status
	// PreFilterMsg is set when a PreFilter plugin rejected the pod.
	PreFilterMsg string
	// PostFilterMsg is what PostFilter plugins (preemption) had to say.
	PostFilterMsg string
	// UnschedulablePlugins names the plugins that rejected some node.
	UnschedulablePlugins sets.Set[string]
}

// FitError is returned when no node can take the pod.
type FitError struct {
	Pod         *v1.Pod
	NumAllNodes int
	Diagnosis   Diagnosis
	// Nomination is set when preemption chose a node and victims.
	Nomination *PostFilterResult
}

// Error renders the message users see in the PodScheduled condition and
// the FailedScheduling event, in upstream's format:
//
//	0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
//	taint(s). <post-filter message>
//
// Each distinct reason is prefixed with the number of nodes that gave it
// and the list is sorted as strings.
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%d nodes are available:", f.NumAllNodes)
	if f.Diagnosis.PreFilterMsg != "" {
		msg += " " + f.Diagnosis.PreFilterMsg + "."
	} else if h := ReasonHistogram(f.Diagnosis.NodeToStatus); len(h) > 0 {
		msg += " " + strings.Join(h, ", ") + "."
	}
	if f.Diagnosis.PostFilterMsg != "" {
		msg += " " + f.Diagnosis.PostFilterMsg
	}
	return msg
}

// ReasonHistogram counts each reason over all nodes and returns
// "<count> <reason>" strings sorted as upstream sorts them (as strings).
func ReasonHistogram(statuses map[string]*Status) []string {
	counts := map[string]int{}
	for _, s := range statuses {
		for _, r := range s.Reasons() {
			counts[r]++
		}
	}
	out := make([]string, 0, len(counts))
	for r, n := range counts {
		out = append(out, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(out)
	return out
}

// Schedule runs one scheduling cycle for pod: PreFilter, Filter on every
// candidate node, PostFilter when none fits, then PreScore/Score and the
// choice of the best node (ties broken randomly).
func (f *Framework) Schedule(pod *v1.Pod, snap *Snapshot) (Result, error) {
	if len(snap.Nodes) == 0 {
		return Result{}, ErrNoNodesAvailable
	}
	state := NewCycleState()
	diag := Diagnosis{NodeToStatus: map[string]*Status{}, UnschedulablePlugins: sets.New[string]()}
	fitErr := func() error {
		nom := f.runPostFilter(state, pod, snap, &diag)
		return &FitError{Pod: pod, NumAllNodes: len(snap.Nodes), Diagnosis: diag, Nomination: nom}
	}

	pre, status := f.runPreFilter(state, pod, snap, &diag)
	if !status.IsSuccess() {
		if !status.IsRejected() {
			return Result{}, fmt.Errorf("running PreFilter plugin %q: %w", status.Plugin(), status.AsError())
		}
		for _, n := range snap.Nodes {
			diag.NodeToStatus[n.Name()] = status
		}
		diag.PreFilterMsg = status.Message()
		return Result{}, fitErr()
	}

	candidates := snap.Nodes
	if pre != nil && pre.NodeNames != nil {
		candidates = nil
		excluded := NewStatus(UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(diag.UnschedulablePlugins)))
		for _, n := range snap.Nodes {
			if pre.NodeNames.Has(n.Name()) {
				candidates = append(candidates, n)
			} else {
				diag.NodeToStatus[n.Name()] = excluded
			}
		}
	}

	var feasible []*NodeInfo
	for _, n := range candidates {
		s := f.RunFilterPlugins(state, pod, n)
		switch {
		case s.IsSuccess():
			feasible = append(feasible, n)
		case s.IsRejected():
			diag.NodeToStatus[n.Name()] = s
			diag.UnschedulablePlugins.Insert(s.Plugin())
		default:
			return Result{}, fmt.Errorf("running Filter plugin %q on node %q: %w", s.Plugin(), n.Name(), s.AsError())
		}
	}
	res := Result{EvaluatedNodes: len(candidates), FeasibleNodes: len(feasible)}
	switch len(feasible) {
	case 0:
		return res, fitErr()
	case 1:
		res.SuggestedHost = feasible[0].Name()
		return res, nil
	}

	scores, err := f.runScore(state, pod, snap, feasible)
	if err != nil {
		return res, err
	}
	res.SuggestedHost = f.selectHost(scores)
	return res, nil
}

func (f *Framework) runPreFilter(state *CycleState, pod *v1.Pod, snap *Snapshot, diag *Diagnosis) (*PreFilterResult, *Status) {
	var result *PreFilterResult
	for _, pl := range f.profile.PreFilter {
		r, s := pl.PreFilter(state, pod, snap)
		if !s.IsSuccess() {
			diag.UnschedulablePlugins.Insert(pl.Name())
			return nil, s.WithPlugin(pl.Name())
		}
		if r == nil || r.NodeNames == nil {
			continue
		}
		diag.UnschedulablePlugins.Insert(pl.Name())
		if result == nil {
			result = &PreFilterResult{NodeNames: r.NodeNames.Clone()}
		} else {
			result.NodeNames = result.NodeNames.Intersection(r.NodeNames)
		}
	}
	if result != nil && result.NodeNames.Len() == 0 {
		names := sets.List(diag.UnschedulablePlugins)
		msg := fmt.Sprintf("node(s) didn't satisfy plugin(s) %v simultaneously", names)
		if len(names) == 1 {
			msg = fmt.Sprintf("node(s) didn't satisfy plugin %v", names[0])
		}
		return nil, NewStatus(UnschedulableAndUnresolvable, msg)
	}
	return result, nil
}

// RunFilterPlugins runs the Filter plugins in order and returns the first
// rejection (later plugins are not asked).
func (f *Framework) RunFilterPlugins(state *CycleState, pod *v1.Pod, node *NodeInfo) *Status {
	for _, pl := range f.profile.Filter {
		if s := pl.Filter(state, pod, node); !s.IsSuccess() {
			return s.WithPlugin(pl.Name())
		}
	}
	return nil
}

// runPostFilter asks each PostFilter plugin in turn until one succeeds;
// the reasons of those that did not are joined into PostFilterMsg.
func (f *Framework) runPostFilter(state *CycleState, pod *v1.Pod, snap *Snapshot, diag *Diagnosis) *PostFilterResult {
	var nom *PostFilterResult
	var reasons []string
	for _, pl := range f.profile.PostFilter {
		r, s := pl.PostFilter(state, pod, snap, diag.NodeToStatus, f.RunFilterPlugins)
		if s.IsSuccess() {
			nom = r
			reasons = nil
			break
		}
		reasons = append(reasons, s.Reasons()...)
	}
	diag.PostFilterMsg = strings.Join(reasons, ", ")
	return nom
}

func (f *Framework) runScore(state *CycleState, pod *v1.Pod, snap *Snapshot, nodes []*NodeInfo) ([]NodeScore, error) {
	for _, pl := range f.profile.PreScore {
		if s := pl.PreScore(state, pod, snap, nodes); !s.IsSuccess() {
			return nil, fmt.Errorf("running PreScore plugin %q: %w", pl.Name(), s.AsError())
		}
	}
	total := make([]NodeScore, len(nodes))
	for i, n := range nodes {
		total[i].Name = n.Name()
	}
	for _, ws := range f.profile.Score {
		scores := make([]NodeScore, len(nodes))
		for i, n := range nodes {
			v, s := ws.Plugin.Score(state, pod, n)
			if !s.IsSuccess() {
				return nil, fmt.Errorf("running Score plugin %q on node %q: %w", ws.Plugin.Name(), n.Name(), s.AsError())
			}
			scores[i] = NodeScore{Name: n.Name(), Score: v}
		}
		if norm, ok := ws.Plugin.(ScoreNormalizer); ok {
			if s := norm.NormalizeScore(state, pod, scores); !s.IsSuccess() {
				return nil, fmt.Errorf("normalizing scores of plugin %q: %w", ws.Plugin.Name(), s.AsError())
			}
		}
		for i := range scores {
			if scores[i].Score < 0 || scores[i].Score > MaxNodeScore {
				return nil, fmt.Errorf("plugin %q gave node %q score %d outside [0, %d]", ws.Plugin.Name(), scores[i].Name, scores[i].Score, MaxNodeScore)
			}
			total[i].Score += scores[i].Score * ws.Weight
		}
	}
	return total, nil
}

// selectHost picks the highest total, uniformly at random among ties
// (reservoir sampling, so each tied node is equally likely).
func (f *Framework) selectHost(scores []NodeScore) string {
	best := slices.MaxFunc(scores, func(a, b NodeScore) int { return int(a.Score - b.Score) }).Score
	var chosen string
	seen := 0
	for _, s := range scores {
		if s.Score != best {
			continue
		}
		seen++
		if f.rand.IntN(seen) == 0 {
			chosen = s.Name
		}
	}
	return chosen
}

// DefaultNormalizeScore scales scores so the highest becomes MaxNodeScore
// (reverse: the lowest raw score becomes MaxNodeScore). All-zero scores
// become 0, or MaxNodeScore when reversed.
func DefaultNormalizeScore(scores []NodeScore, reverse bool) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s.Score)
	}
	for i := range scores {
		switch {
		case highest == 0 && reverse:
			scores[i].Score = MaxNodeScore
		case highest == 0:
			scores[i].Score = 0
		case reverse:
			scores[i].Score = MaxNodeScore - scores[i].Score*MaxNodeScore/highest
		default:
			scores[i].Score = scores[i].Score * MaxNodeScore / highest
		}
	}
}
