// Package policy is the one place that says who may do what with an
// incident: a table of operations (data) and one decision function. Every
// entry point asks it (the Slack bot over HTTP and Socket Mode, the CLI),
// and the incident and run workflows ask it again in their validators with
// what they know themselves (the current commander, the bound channel), so
// a client that skips the bot's checks is still refused.
//
// The package is pure and deterministic: workflow code calls it.
package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Op is one thing a person can ask Firebreak to do.
type Op string

// Operations. Reads are operations too: incident channels may be private.
const (
	Declare         Op = "declare"
	DeclarePlaybook Op = "declare with a playbook"
	Run             Op = "run"
	Plan            Op = "plan"
	Note            Op = "note"
	Severity        Op = "severity"
	Status          Op = "status change"
	RoleCommander   Op = "assign commander"
	RoleScribe      Op = "assign scribe"
	RoleComms       Op = "assign comms"
	Done            Op = "done"
	ExtendWait      Op = "extend a wait"
	Abort           Op = "abort"
	Resolve         Op = "resolve"
	Approve         Op = "approve"
	Reject          Op = "reject"
	ReadStatus      Op = "read status"
	ReadTimeline    Op = "read timeline"
	ReadPlan        Op = "read plan"
	List            Op = "list"
)

// Principal is a kind of person a rule admits.
type Principal string

// Principals. The configured ones (declarers, noters, responders,
// commanders) are proven by whoever resolves Slack membership (the bot);
// the incident's commander and the approvers are known to the workflows.
const (
	Everyone Principal = "everyone"
	// Declarers are access.declare; everyone when it is empty.
	Declarers Principal = "declarers"
	// Noters are access.notes; everyone when it is empty.
	Noters Principal = "noters"
	// Responders are access.responders and access.commanders; everyone
	// when access.responders is empty.
	Responders Principal = "responders"
	// Commanders are access.commanders; the responders when it is empty.
	Commanders Principal = "commanders"
	// IncidentCommander is whoever holds the incident's commander role.
	IncidentCommander Principal = "incident commander"
	// Approvers are the step's approver group; the run decides (distinct
	// approvers, not the requester, the exact plan).
	Approvers Principal = "approvers"
)

// Scope says where an operation may come from.
type Scope int

const (
	// Workspace operations work from any channel (declare, list).
	Workspace Scope = iota
	// InIncident operations name one incident: from Slack they must come
	// from its bound channel, and are refused until one is bound.
	InIncident
)

// Rule is one row of the policy.
type Rule struct {
	Op    Op
	Scope Scope
	// Allow admits any one of these.
	Allow []Principal
	// Also must be passed too (declaring with a playbook runs it).
	Also Op
	// What completes "you are not allowed to …".
	What string
}

// Rules is the policy, in the order README shows it.
func Rules() []Rule {
	responders := []Principal{Responders, IncidentCommander}
	commanders := []Principal{Commanders, IncidentCommander}
	return []Rule{
		{Op: Declare, Scope: Workspace, Allow: []Principal{Declarers}, What: "declare incidents"},
		{Op: DeclarePlaybook, Scope: Workspace, Allow: []Principal{Declarers}, Also: Run, What: "declare incidents"},
		{Op: List, Scope: Workspace, Allow: []Principal{Everyone}, What: "list incidents"},
		{Op: Run, Scope: InIncident, Allow: responders, What: "run playbooks"},
		{Op: Plan, Scope: InIncident, Allow: responders, What: "plan playbooks"},
		{Op: Note, Scope: InIncident, Allow: []Principal{Noters, Responders, IncidentCommander}, What: "add notes"},
		{Op: Severity, Scope: InIncident, Allow: responders, What: "change the severity"},
		{Op: Status, Scope: InIncident, Allow: responders, What: "change the status"},
		{Op: RoleScribe, Scope: InIncident, Allow: responders, What: "assign the scribe role"},
		{Op: RoleComms, Scope: InIncident, Allow: responders, What: "assign the comms role"},
		{Op: RoleCommander, Scope: InIncident, Allow: commanders, What: "assign the commander role"},
		{Op: Done, Scope: InIncident, Allow: responders, What: "finish tasks"},
		{Op: ExtendWait, Scope: InIncident, Allow: responders, What: "extend waits"},
		{Op: Abort, Scope: InIncident, Allow: commanders, What: "abort runs"},
		{Op: Resolve, Scope: InIncident, Allow: commanders, What: "resolve incidents"},
		{Op: Approve, Scope: InIncident, Allow: []Principal{Approvers}, What: "approve this step"},
		{Op: Reject, Scope: InIncident, Allow: []Principal{Approvers}, What: "reject this step"},
		{Op: ReadStatus, Scope: InIncident, Allow: []Principal{Everyone}, What: "read this incident"},
		{Op: ReadTimeline, Scope: InIncident, Allow: []Principal{Everyone}, What: "read this incident"},
		{Op: ReadPlan, Scope: InIncident, Allow: []Principal{Everyone}, What: "read this incident"},
	}
}

// RuleFor returns the rule of op.
func RuleFor(op Op) (Rule, bool) {
	for _, r := range Rules() {
		if r.Op == op {
			return r, true
		}
	}
	return Rule{}, false
}

// RoleOp is the operation of assigning an incident role.
func RoleOp(role string) Op {
	switch role {
	case "commander":
		return RoleCommander
	case "scribe":
		return RoleScribe
	case "comms":
		return RoleComms
	}
	return Op("assign " + role)
}

// Origins of a request.
const (
	OriginSlack = "slack"
	OriginCLI   = "cli"
)

// Actor is who asks, from where, and what they were proven to hold.
type Actor struct {
	User string `json:"user"`
	// Origin is OriginSlack for a verified Slack request; anything else is
	// an operator with Temporal access (the CLI), whose identity is a claim.
	Origin string `json:"origin,omitempty"`
	// Channel is the Slack channel the request came from.
	Channel string `json:"channel,omitempty"`
	// Holds are the configured principals the caller proved the user is in.
	Holds []Principal `json:"holds,omitempty"`
}

// FromSlack says the request came through the bot from Slack. Slack
// requests always name their channel, so a channel marks one too: a caller
// that forgets either still gets the channel check.
func (a Actor) FromSlack() bool { return a.Origin == OriginSlack || a.Channel != "" }

// holds reports whether a holds p. An operator (the CLI, reaching Temporal
// directly) holds every configured principal: Temporal access is its
// security boundary, and its identity is a claim (see README).
func (a Actor) holds(p Principal) bool {
	if !a.FromSlack() && slices.Contains(configured(), p) {
		return true
	}
	return slices.Contains(a.Holds, p)
}

// Incident is what the policy needs to know about the incident asked about.
type Incident struct {
	Key       string
	Commander string
	// KnowsCommander is set by the incident workflow, which knows who holds
	// the role; others (a run) trust the bot's proof in Actor.Holds.
	KnowsCommander bool
	// Channel is the bound Slack channel; "" until one is bound.
	Channel string
	Private bool
}

// Refusal is a decision against the request, with the reason for the
// person and what would have allowed it.
type Refusal struct {
	Op     Op
	Reason string
	// Need lists the principals that would have been allowed (empty when
	// the refusal is about the channel, not the person).
	Need []Principal
}

func (r *Refusal) Error() string { return r.Reason }

// Decide says whether a may do op on inc (nil for workspace operations).
// It returns nil when allowed, else a *Refusal.
func Decide(op Op, a Actor, inc *Incident) error {
	rule, ok := RuleFor(op)
	if !ok {
		return &Refusal{Op: op, Reason: fmt.Sprintf("%q is not an operation Firebreak knows", op)}
	}
	if strings.TrimSpace(a.User) == "" {
		return &Refusal{Op: op, Reason: "a request needs the identity of who made it"}
	}
	if rule.Scope == InIncident {
		if inc == nil {
			return &Refusal{Op: op, Reason: "this needs an incident"}
		}
		if err := fromBoundChannel(op, a, inc); err != nil {
			return err
		}
	}
	if !admits(rule, a, inc) {
		return &Refusal{Op: op, Reason: fmt.Sprintf("you are not allowed to %s", rule.What), Need: rule.Allow}
	}
	if rule.Also != "" {
		// Only the person is checked again: the incident does not exist yet.
		also, _ := RuleFor(rule.Also)
		if !admits(also, a, nil) {
			return &Refusal{Op: op, Reason: fmt.Sprintf("you are not allowed to %s", also.What), Need: also.Allow}
		}
	}
	return nil
}

// fromBoundChannel: Slack finds an incident by its channel's name, which
// anyone can copy, so the channel ID must be the one bound to it; until
// one is bound, Slack cannot reach the incident at all.
func fromBoundChannel(op Op, a Actor, inc *Incident) error {
	if !a.FromSlack() {
		return nil
	}
	if inc.Channel == "" {
		return &Refusal{Op: op, Reason: fmt.Sprintf("%s has no Slack channel yet; wait for it, or use the firebreak CLI", inc.Key)}
	}
	if a.Channel != inc.Channel {
		if inc.Private {
			return &Refusal{Op: op, Reason: fmt.Sprintf("%s is private: it is read and steered from its own channel only", inc.Key)}
		}
		return &Refusal{Op: op, Reason: fmt.Sprintf("this is not %s's channel; use <#%s>", inc.Key, inc.Channel)}
	}
	return nil
}

func admits(rule Rule, a Actor, inc *Incident) bool {
	for _, p := range rule.Allow {
		switch p {
		case Everyone:
			return true
		case IncidentCommander:
			if inc != nil && inc.KnowsCommander {
				if inc.Commander != "" && inc.Commander == a.User {
					return true
				}
			} else if slices.Contains(a.Holds, IncidentCommander) {
				return true
			}
		case Approvers:
			// The run checks the approver group, the requester and the plan.
			return true
		default:
			if a.holds(p) {
				return true
			}
		}
	}
	return false
}

// Lists are the configured member lists (access.* in firebreak.yaml):
// Slack user IDs or user group IDs.
type Lists struct {
	Declare    []string
	Notes      []string
	Responders []string
	Commanders []string
}

// Members returns the entries that make up p under lists, and whether p
// admits everyone (an empty list opens declaring, notes and responding to
// all; commanders fall back to the responders).
func (l Lists) Members(p Principal) (entries []string, everyone bool) {
	switch p {
	case Everyone:
		return nil, true
	case Declarers:
		return l.Declare, len(l.Declare) == 0
	case Noters:
		return l.Notes, len(l.Notes) == 0
	case Responders:
		return append(slices.Clone(l.Responders), l.Commanders...), len(l.Responders) == 0
	case Commanders:
		if len(l.Commanders) == 0 {
			return l.Members(Responders)
		}
		return l.Commanders, false
	}
	return nil, false
}

// Contains reports whether user is named by entries (expanding user groups).
type Contains func(entries []string, user string) (bool, error)

// Holds resolves which configured principals that op's rule (and its Also
// rule) admit user holds, asking contains only for what the rule needs.
func (l Lists) Holds(op Op, user string, contains Contains) ([]Principal, error) {
	var need []Principal
	for _, o := range []Op{op, alsoOf(op)} {
		if r, ok := RuleFor(o); ok {
			need = append(need, r.Allow...)
		}
	}
	var held []Principal
	for _, p := range need {
		if slices.Contains(held, p) || !slices.Contains(configured(), p) {
			continue
		}
		entries, everyone := l.Members(p)
		ok := everyone
		if !ok && len(entries) > 0 {
			var err error
			if ok, err = contains(entries, user); err != nil {
				return nil, fmt.Errorf("check %s: %w", p, err)
			}
		}
		if ok {
			held = append(held, p)
		}
	}
	return held, nil
}

func alsoOf(op Op) Op {
	r, _ := RuleFor(op)
	return r.Also
}

// configured lists the principals whose membership comes from
// configuration, which callers resolve into Actor.Holds.
func configured() []Principal {
	return []Principal{Declarers, Noters, Responders, Commanders}
}
