package activities

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-ir/firebreak/playbooks"
)

// PolicyVersion is the IAM policy language version every generated policy
// declares; the older 2008 version lacks policy variables.
const PolicyVersion = "2012-10-17"

// Policy is an AWS IAM identity policy document. Field order and tags
// follow the AWS grammar, so encoding/json writes what IAM accepts.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one Allow statement of a Policy.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// iamActionRE is the shape of an IAM action ("service:Action", wildcards
// allowed in the action part). A declaration that does not fit would make
// IAM reject the whole policy, so it is reported against the Firebreak
// action that declared it.
var iamActionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*:[A-Za-z0-9*?]+$`)

// PlaybookPermissions collects what a run of pb may need: the permissions
// of every action step, of every compensating action (a rollback runs with
// the same credentials), and of every playbook reachable through `call`.
// The result is deduplicated and sorted: IAM by action then resource,
// GitHub and Slack alphabetically. A GitHub permission declared at both
// read and write level is kept only as write, which includes read.
func PlaybookPermissions(reg *Registry, pb *playbooks.Playbook) (Permissions, error) {
	uses, err := actionsOf(pb)
	if err != nil {
		return Permissions{}, err
	}
	type iamKey struct{ action, resource string }
	iam := map[iamKey]bool{}
	github := map[string]bool{}
	slack := map[string]bool{}
	for _, use := range uses {
		a, ok := reg.Get(use.action)
		if !ok {
			return Permissions{}, fmt.Errorf("playbook %q step %q: unknown action %q", use.playbook, use.step, use.action)
		}
		perms := a.Spec().Permissions
		iamPerms := slices.Clone(perms.IAM)
		for _, in := range slices.Sorted(maps.Keys(perms.IAMByInput)) {
			if use.inputs[in] {
				iamPerms = append(iamPerms, perms.IAMByInput[in]...)
			}
		}
		for _, p := range iamPerms {
			if !iamActionRE.MatchString(p.Action) {
				return Permissions{}, fmt.Errorf("action %s declares IAM action %q: want service:Action", use.action, p.Action)
			}
			if p.Resource == "" {
				return Permissions{}, fmt.Errorf("action %s declares IAM action %s without a resource: use \"*\" if the API has no resource-level permissions", use.action, p.Action)
			}
			iam[iamKey{p.Action, p.Resource}] = true
		}
		for _, s := range perms.GitHub {
			github[s] = true
		}
		for _, s := range perms.Slack {
			slack[s] = true
		}
	}

	var out Permissions
	for k := range iam {
		out.IAM = append(out.IAM, IAMPermission{Action: k.action, Resource: k.resource})
	}
	slices.SortFunc(out.IAM, func(a, b IAMPermission) int {
		return cmp.Or(strings.Compare(a.Action, b.Action), strings.Compare(a.Resource, b.Resource))
	})
	for s := range github {
		if name, ok := strings.CutSuffix(s, ":read"); ok && github[name+":write"] {
			continue
		}
		out.GitHub = append(out.GitHub, s)
	}
	slices.Sort(out.GitHub)
	for s := range slack {
		out.Slack = append(out.Slack, s)
	}
	slices.Sort(out.Slack)
	return out, nil
}

// actionUse is one place a playbook names an action, for error messages.
type actionUse struct {
	playbook, step, action string
	// inputs are the inputs the step sets; a compensation without its own
	// `with` inherits its step's.
	inputs map[string]bool
}

func keysOf(with map[string]any) map[string]bool {
	out := make(map[string]bool, len(with))
	for k := range with {
		out[k] = true
	}
	return out
}

// actionsOf lists every action pb and the playbooks it calls may run, in
// step order, each playbook visited once.
func actionsOf(pb *playbooks.Playbook) ([]actionUse, error) {
	var out []actionUse
	seen := map[string]bool{}
	var walk func(p *playbooks.Playbook) error
	var walkSteps func(p *playbooks.Playbook, steps []playbooks.Step) error
	walk = func(p *playbooks.Playbook) error {
		if seen[p.Metadata.Name] {
			return nil
		}
		seen[p.Metadata.Name] = true
		return walkSteps(p, p.Steps)
	}
	walkSteps = func(p *playbooks.Playbook, steps []playbooks.Step) error {
		for i := range steps {
			st := &steps[i]
			if st.Action != "" {
				out = append(out, actionUse{p.Metadata.Name, st.ID, st.Action, keysOf(st.With)})
			}
			if st.Compensate != nil {
				with := st.Compensate.With
				if with == nil {
					with = st.With
				}
				out = append(out, actionUse{p.Metadata.Name, st.ID + " (compensate)", st.Compensate.Action, keysOf(with)})
			}
			if err := walkSteps(p, st.Parallel); err != nil {
				return err
			}
			if st.Call != nil {
				callee, ok := p.Callee(st.Call.Playbook)
				if !ok {
					return fmt.Errorf("playbook %q step %q: calls playbook %q, which was not loaded with it", p.Metadata.Name, st.ID, st.Call.Playbook)
				}
				if err := walk(callee); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Callee hands each callee pb's Calls (nested playbooks carry none of
	// their own), so calls at any depth resolve.
	if err := walk(pb); err != nil {
		return nil, err
	}
	return out, nil
}

// IAMPolicy builds the least-privilege IAM policy for running pb: exactly
// the IAM actions its actions declare, on exactly the resources they
// declare. Actions that share the same set of resources share a statement.
// An action declared on both "*" and narrower resources is granted on "*"
// alone, since that is what it already has. A playbook that needs no AWS
// access gets a policy with no statements, which IAM would reject: callers
// check len(Statement).
func IAMPolicy(reg *Registry, pb *playbooks.Playbook) (Policy, error) {
	perms, err := PlaybookPermissions(reg, pb)
	if err != nil {
		return Policy{}, err
	}
	resources := map[string][]string{} // IAM action -> its resources, sorted
	var actions []string
	for _, p := range perms.IAM {
		if _, ok := resources[p.Action]; !ok {
			actions = append(actions, p.Action)
		}
		resources[p.Action] = append(resources[p.Action], p.Resource)
	}
	byResources := map[string]*Statement{}
	var stmts []*Statement
	for _, a := range actions {
		res := resources[a]
		if slices.Contains(res, "*") {
			res = []string{"*"}
		}
		key := strings.Join(res, "\n")
		st, ok := byResources[key]
		if !ok {
			st = &Statement{Effect: "Allow", Resource: res}
			byResources[key] = st
			stmts = append(stmts, st)
		}
		st.Action = append(st.Action, a)
	}

	// perms.IAM is sorted, so each statement's Action list is too; order
	// statements by their services, then by their first action, which no
	// other statement has.
	for _, st := range stmts {
		st.Sid = sidFor(st.Action)
	}
	slices.SortFunc(stmts, func(a, b *Statement) int {
		return cmp.Or(strings.Compare(a.Sid, b.Sid), strings.Compare(a.Action[0], b.Action[0]))
	})
	// IAM requires unique Sids within a policy.
	used := map[string]bool{}
	pol := Policy{Version: PolicyVersion, Statement: []Statement{}}
	for _, st := range stmts {
		base := st.Sid
		for n := 2; used[st.Sid]; n++ {
			st.Sid = base + "Stmt" + strconv.Itoa(n)
		}
		used[st.Sid] = true
		pol.Statement = append(pol.Statement, *st)
	}
	return pol, nil
}

// sidFor names a statement after the services of its actions: "Ec2",
// "Ec2SecretsmanagerSts". Sids may only hold ASCII letters and digits;
// service prefixes are checked to be lowercase letters, digits and
// hyphens, and a hyphen starts a new word.
func sidFor(actions []string) string {
	var services []string
	for _, a := range actions {
		svc, _, _ := strings.Cut(a, ":")
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
	}
	slices.Sort(services)
	var b strings.Builder
	for _, svc := range services {
		for part := range strings.SplitSeq(svc, "-") {
			if part != "" {
				b.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
		}
	}
	return b.String()
}
