package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// AllSteps returns pointers to every step in execution order: each
// top-level step, and right after a parallel group, its members.
func (p *Playbook) AllSteps() []*Step {
	var out []*Step
	for i := range p.Steps {
		st := &p.Steps[i]
		out = append(out, st)
		for j := range st.Parallel {
			out = append(out, &st.Parallel[j])
		}
	}
	return out
}

// Step returns the step with the given ID, searching parallel groups too.
func (p *Playbook) Step(id string) (*Step, bool) {
	for _, st := range p.AllSteps() {
		if st.ID == id {
			return st, true
		}
	}
	return nil, false
}

// Callee returns the playbook a `call` step names, ready to run as a
// child: its Calls is this playbook's, which holds everything the child
// can reach in turn.
func (p *Playbook) Callee(name string) (*Playbook, bool) {
	c, ok := p.Calls[name]
	if !ok {
		return nil, false
	}
	cp := *c
	cp.Calls = p.Calls
	return &cp, true
}

// Hash identifies what a playbook does: the hex SHA-256 of its canonical
// JSON (encoding/json writes struct fields in order and map keys sorted).
// Source and positions are left out, so the same playbook loaded from
// another path, or with comments edited, hashes the same.
func (p *Playbook) Hash() string {
	b, err := json.Marshal(hashView(p, map[*Playbook]bool{}))
	if err != nil {
		// Loaded playbooks hold only JSON-safe values; a hand-built one
		// that does not is still given a stable, distinct hash.
		b = []byte("unencodable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashView copies p without positions. seen guards against hand-built
// Calls that point back at an enclosing playbook.
func hashView(p *Playbook, seen map[*Playbook]bool) *Playbook {
	seen[p] = true
	defer delete(seen, p)
	cp := *p
	cp.Source = ""
	cp.Steps = stripPositions(p.Steps)
	if p.Calls != nil {
		cp.Calls = make(map[string]*Playbook, len(p.Calls))
		for name, c := range p.Calls {
			if c != nil && !seen[c] {
				cp.Calls[name] = hashView(c, seen)
			}
		}
	}
	return &cp
}

func stripPositions(steps []Step) []Step {
	if steps == nil {
		return nil
	}
	out := make([]Step, len(steps))
	for i, st := range steps {
		st.Line, st.Col = 0, 0
		st.Parallel = stripPositions(st.Parallel)
		out[i] = st
	}
	return out
}

// GroupUse is an approver group a step names, for warnings about groups
// the configuration does not define.
type GroupUse struct {
	Group string
	Step  string
	Field string // "approval.group" or "approval.escalate"
	Line  int    // the step's position in Source
	Col   int
}

// ApproverGroups lists the approver groups the playbook's steps name, in
// step order.
func (p *Playbook) ApproverGroups() []GroupUse {
	var out []GroupUse
	for _, s := range p.AllSteps() {
		if s.Approval == nil {
			continue
		}
		if g := s.Approval.Group; g != "" {
			out = append(out, GroupUse{Group: g, Step: s.ID, Field: "approval.group", Line: s.Line, Col: s.Col})
		}
		if g := s.Approval.Escalate; g != "" {
			out = append(out, GroupUse{Group: g, Step: s.ID, Field: "approval.escalate", Line: s.Line, Col: s.Col})
		}
	}
	return out
}

// UnconfiguredGroups warns, as file:line:col: warning: message, about the
// approver groups that configured (the names under access.groups) lacks:
// such a group adds nobody to a gate.
func (p *Playbook) UnconfiguredGroups(configured map[string][]string) []string {
	var out []string
	for _, u := range p.ApproverGroups() {
		if _, ok := configured[u.Group]; ok {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d:%d: warning: step %q: %s %q is not configured (access.groups.%s in firebreak.yaml), so it adds nobody to the approvers",
			p.Source, u.Line, u.Col, u.Step, u.Field, u.Group, u.Group))
	}
	return out
}
