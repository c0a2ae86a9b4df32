package policy

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Rollout is the policy's `rollout` block: how a new commit reaches the
// fleet in waves. Every node reads the same block, so it holds no node
// facts: each node finds its own wave from it (see agent/rollout).
type Rollout struct {
	// Waves names the waves in order; wave 0 is the canary. `waves = 3`
	// gives the names "0", "1", "2".
	Waves []string
	// Delay is the time between two waves: wave k applies a commit k×Delay
	// after it became the head.
	Delay time.Duration
	// WaveLabel is the node label that places a node in a wave (its value is
	// a wave's number or name); nodes without it are placed by hostname.
	WaveLabel string
	// Paused holds every wave but the first.
	Paused bool
	Gate   *Gate `json:",omitempty"`
}

// Gate is the `gate` block of a rollout: a Prometheus query every node of
// a later wave runs before it applies a commit.
type Gate struct {
	Prometheus string // base URL of the Prometheus HTTP API
	// Query is PromQL; {{commit}} and {{wave}} stand for the commit and the
	// node's wave number.
	Query     string
	Threshold float64
	// OnError is "hold" or "proceed": what to do when the query fails.
	OnError string
	Timeout time.Duration
}

// Rollout defaults and bounds.
const (
	DefaultWaveLabel   = "rulekeeper_wave"
	DefaultGateTimeout = 10 * time.Second
	MaxWaves           = 100
	MaxGateTimeout     = time.Minute
	GateHold           = "hold"
	GateProceed        = "proceed"
)

// GatePlaceholders are the names a gate query may use as {{name}}. The
// braces cannot collide with HCL (whose templates are ${...} and %{...})
// nor with PromQL (where "{{" is never valid), and Argo Rollouts' analysis
// templates use the same form.
var GatePlaceholders = []string{"commit", "wave"}

var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

type rolloutBlock struct {
	defRange hcl.Range
	attrs    hcl.Attributes
	gate     *gateBlock
}

type gateBlock struct {
	defRange hcl.Range
	attrs    hcl.Attributes
}

var rolloutSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "waves", Required: true}, {Name: "delay"}, {Name: "wave_label"}, {Name: "paused"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "gate"}},
}

var gateSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "prometheus", Required: true}, {Name: "query", Required: true}, {Name: "threshold", Required: true},
		{Name: "on_error"}, {Name: "timeout"},
	},
}

func (p *Policy) addRollout(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(rolloutSchema)
	if p.rollout != nil {
		return append(diags, secondBlock("rollout block", "A rollout block is already defined", "policy", p.rollout.defRange, b.DefRange))
	}
	rb := &rolloutBlock{defRange: b.DefRange, attrs: content.Attributes}
	for _, gb := range content.Blocks {
		gc, d := gb.Body.Content(gateSchema)
		diags = append(diags, d...)
		if rb.gate != nil {
			diags = append(diags, secondBlock("gate block", "This rollout already has a gate", "rollout", rb.gate.defRange, gb.DefRange))
			continue
		}
		rb.gate = &gateBlock{defRange: gb.DefRange, attrs: gc.Attributes}
	}
	p.rollout = rb
	return diags
}

// Rollout evaluates the policy's rollout block: nil when it has none. Its
// expressions see the functions but no node facts: every node must read the
// same rollout.
func (p *Policy) Rollout() (*Rollout, hcl.Diagnostics) {
	if p.rollout == nil {
		return nil, nil
	}
	ctx := Node{}.evalContext()
	delete(ctx.Variables, "node")
	ev := &evaluator{p: p, ctx: ctx}
	r := ev.rollout(p.rollout)
	for _, d := range ev.diags {
		if d.Summary == "Unknown variable" && strings.Contains(d.Detail, `"node"`) {
			d.Detail = "The rollout block is the same for every node (each node finds its own wave from it), so it cannot use node facts. " +
				"Place nodes in waves with the wave_label node label instead."
		}
	}
	if ev.diags.HasErrors() {
		return nil, ev.diags
	}
	return r, ev.diags
}

func (ev *evaluator) rollout(rb *rolloutBlock) *Rollout {
	a := rb.attrs
	r := &Rollout{WaveLabel: DefaultWaveLabel}
	if wa := a["waves"]; wa != nil {
		r.Waves = ev.waves(wa)
	}
	if d, ok := ev.duration(a["delay"]); ok {
		r.Delay = d
	} else if a["delay"] == nil && len(r.Waves) > 1 {
		ev.fail(rb.defRange, "Missing delay", fmt.Sprintf(
			"A rollout of %d waves needs the time between two waves: delay = \"30m\" (a Go duration; wave k applies a commit k × delay after it became the head).", len(r.Waves)))
	}
	if s, ok := ev.str(a["wave_label"]); ok {
		if strings.TrimSpace(s) == "" {
			ev.fail(a["wave_label"].Expr.Range(), "Empty wave_label", "wave_label names the node label that places a node in a wave; leave it out for the default \""+DefaultWaveLabel+"\".")
		}
		r.WaveLabel = s
	}
	if v := ev.value(a["paused"], cty.Bool); v.IsKnown() && !v.IsNull() {
		r.Paused = v.True()
	}
	if rb.gate != nil {
		r.Gate = ev.gate(rb.gate)
	}
	return r
}

// waves reads `waves`: a count (1..MaxWaves) or a list of distinct names.
func (ev *evaluator) waves(attr *hcl.Attribute) []string {
	v, diags := attr.Expr.Value(ev.ctx)
	ev.diags = append(ev.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil
	}
	rng := attr.Expr.Range()
	bad := func(detail string) []string {
		ev.fail(rng, "Invalid waves", detail+" waves is the number of waves (wave 0 is the canary), or their names in order: waves = [\"canary\", \"early\", \"rest\"].")
		return nil
	}
	if v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		if f != math.Trunc(f) || f < 1 || f > MaxWaves {
			return bad(fmt.Sprintf("%s is not a whole number from 1 to %d.", v.AsBigFloat().String(), MaxWaves))
		}
		names := make([]string, int(f))
		for i := range names {
			names[i] = fmt.Sprint(i)
		}
		return names
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return bad("It is neither a number nor a list of names.")
	}
	items := ev.strList(&hcl.Attribute{Name: attr.Name, Expr: attr.Expr, Range: attr.Range, NameRange: attr.NameRange})
	if len(items) != lv.LengthInt() {
		return nil // a null element, already reported
	}
	switch {
	case len(items) == 0:
		return bad("The list is empty.")
	case len(items) > MaxWaves:
		return bad(fmt.Sprintf("%d waves are more than the %d allowed.", len(items), MaxWaves))
	}
	first := map[string]hcl.Range{}
	var names []string
	for i, it := range items {
		name := strings.TrimSpace(it.val)
		if r, dup := first[name]; dup {
			ev.fail(it.rng, fmt.Sprintf("Duplicate wave name %q", name), fmt.Sprintf("It is already wave %d at %s; give each wave its own name.", slicesIndex(names, name), pos(r)))
			continue
		}
		if name == "" || name != it.val {
			ev.fail(it.rng, "Invalid wave name", fmt.Sprintf("Wave %d's name %q is empty or has spaces at its ends; a node's label value must match it exactly.", i, it.val))
		}
		if _, err := fmt.Sscan(name, new(int)); err == nil && name != fmt.Sprint(i) {
			ev.fail(it.rng, "Wave name is another wave's number", fmt.Sprintf(
				"A label value %q would read as wave %s, but this is wave %d. Name waves with words, or number them in order.", name, name, i))
		}
		first[name] = it.rng
		names = append(names, name)
	}
	return names
}

func slicesIndex(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// duration reads a Go duration string ("30m", "1h30m"); ok is false when
// the attribute is absent or wrong (reported).
func (ev *evaluator) duration(attr *hcl.Attribute) (time.Duration, bool) {
	s, ok := ev.str(attr)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		ev.fail(attr.Expr.Range(), fmt.Sprintf("Invalid duration %q", s),
			fmt.Sprintf("%s is a duration such as \"90s\", \"30m\" or \"2h\" (units ns, us, ms, s, m, h), not negative.", attr.Name))
		return 0, false
	}
	return d, true
}

func (ev *evaluator) gate(gb *gateBlock) *Gate {
	a := gb.attrs
	g := &Gate{OnError: GateHold, Timeout: DefaultGateTimeout}
	if s, ok := ev.str(a["prometheus"]); ok {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			ev.fail(a["prometheus"].Expr.Range(), "Invalid Prometheus URL", fmt.Sprintf(
				"%q is not an http:// or https:// URL with a host (and no credentials): give Prometheus' base URL, such as \"http://prometheus:9090\".", s))
		}
		g.Prometheus = strings.TrimRight(s, "/")
	}
	if s, ok := ev.str(a["query"]); ok {
		ev.checkQuery(a["query"], s)
		g.Query = s
	}
	if v := ev.value(a["threshold"], cty.Number); v.IsKnown() && !v.IsNull() {
		g.Threshold, _ = v.AsBigFloat().Float64()
	}
	if s, ok := ev.str(a["on_error"]); ok {
		if s != GateHold && s != GateProceed {
			ev.fail(a["on_error"].Expr.Range(), fmt.Sprintf("Unknown on_error %q", s), fmt.Sprintf(
				"%son_error is \"hold\" (the default: a node that cannot ask Prometheus keeps its commit) or \"proceed\".",
				didYouMean(s, []string{GateHold, GateProceed}, `"%s"`)))
		}
		g.OnError = s
	}
	if d, ok := ev.duration(a["timeout"]); ok {
		if d <= 0 || d > MaxGateTimeout {
			ev.fail(a["timeout"].Expr.Range(), "Gate timeout out of range", fmt.Sprintf("timeout bounds one query; give more than 0 and at most %v.", MaxGateTimeout))
		}
		g.Timeout = d
	}
	return g
}

// checkQuery refuses an empty query and a {{name}} that is not a placeholder.
func (ev *evaluator) checkQuery(attr *hcl.Attribute, s string) {
	if strings.TrimSpace(s) == "" {
		ev.fail(attr.Expr.Range(), "Empty gate query", "Give the PromQL query whose value holds the rollout when it is above the threshold.")
		return
	}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if slicesIndex(GatePlaceholders, m[1]) < 0 {
			ev.fail(attr.Expr.Range(), fmt.Sprintf("Unknown placeholder %s", m[0]), fmt.Sprintf(
				"%sA gate query may use {{commit}} (the commit being rolled out) and {{wave}} (the node's wave number).",
				didYouMean(m[1], GatePlaceholders, "{{%s}}")))
		}
	}
}

// ExpandQuery puts the commit and the wave number into a gate query.
func ExpandQuery(q, commit string, wave int) string {
	return placeholderRE.ReplaceAllStringFunc(q, func(m string) string {
		switch strings.TrimSpace(m[2 : len(m)-2]) {
		case "commit":
			return commit
		case "wave":
			return fmt.Sprint(wave)
		}
		return m
	})
}
