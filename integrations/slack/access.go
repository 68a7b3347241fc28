package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/api/serviceerror"

	"github.com/firebreak-ir/firebreak/workflows"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// lists are the configured access lists as the policy reads them.
func (b *Bot) lists() policy.Lists {
	a := b.o.Access
	return policy.Lists{Declare: a.Declare, Notes: a.Notes, Responders: a.Responders, Commanders: a.Commanders}
}

// allow decides op for the request with the one policy. It proves which
// configured lists the user is in (only those op's rule names), decides
// with what the incident state says (nil for workspace operations), and
// returns the actor to send to the workflow, which decides again; or a
// sentence for the person saying why not and whom to ask.
func (b *Bot) allow(ctx context.Context, op policy.Op, req asker, st *workflows.IncidentState) (policy.Actor, string) {
	a := policy.Actor{User: req.User, Origin: policy.OriginSlack, Channel: req.Channel}
	held, err := b.lists().Holds(op, req.User, func(entries []string, user string) (bool, error) {
		return b.o.Groups.Contains(ctx, entries, user)
	})
	if err != nil {
		b.o.Log.Warn("could not resolve access lists", "op", string(op), "user", req.User, "err", err)
		return a, "Could not check who may do that (Slack user groups did not answer); try again in a moment."
	}
	a.Holds = held
	var inc *policy.Incident
	if st != nil {
		inc = incidentFacts(*st)
		// A run cannot know the incident's current commander: prove it.
		if c := st.Roles[workflows.RoleCommander]; c != "" && c == req.User {
			a.Holds = append(a.Holds, policy.IncidentCommander)
		}
	}
	if err := policy.Decide(op, a, inc); err != nil {
		return a, b.refusalText(err, st)
	}
	return a, ""
}

func incidentFacts(st workflows.IncidentState) *policy.Incident {
	return &policy.Incident{Key: st.Key, Commander: st.Roles[workflows.RoleCommander], KnowsCommander: true, Channel: st.Channel, Private: st.Private}
}

// refusalText renders a policy refusal: the reason, and for refusals about
// the person, who could do it instead.
func (b *Bot) refusalText(err error, st *workflows.IncidentState) string {
	var ref *policy.Refusal
	if !errors.As(err, &ref) {
		return sentence(err)
	}
	if len(ref.Need) == 0 {
		return escKeepChannelLinks(sentence(err))
	}
	var who []string
	for _, p := range ref.Need {
		switch p {
		case policy.IncidentCommander:
			if st != nil && st.Roles[workflows.RoleCommander] != "" {
				who = append(who, "the incident commander <@"+st.Roles[workflows.RoleCommander]+">")
			}
		default:
			if entries, everyone := b.lists().Members(p); !everyone && len(entries) > 0 {
				who = append(who, mentionOf(entries))
			}
		}
	}
	text := sentence(err) + " here."
	if len(who) > 0 {
		text += " Ask " + strings.Join(slices.Compact(who), " or ") + "."
	}
	return text
}

// allowIn reads the incident a request names and decides op on it: the
// state, the actor to send on, or why not.
func (b *Bot) allowIn(ctx context.Context, op policy.Op, req asker, key string) (workflows.IncidentState, policy.Actor, string) {
	st, why := b.incident(ctx, key, req)
	if why != "" {
		return st, policy.Actor{}, why
	}
	actor, why := b.allow(ctx, op, req, &st)
	return st, actor, why
}

// incident reads the incident's state for a Slack request; the workflow
// itself refuses reads from any channel but the incident's.
func (b *Bot) incident(ctx context.Context, key string, req asker) (workflows.IncidentState, string) {
	var st workflows.IncidentState
	v, err := b.o.Temporal.QueryWorkflow(ctx, workflows.IncidentWorkflowID(key), "", workflows.QueryStatus, b.query(req))
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, fmt.Sprintf("Could not read %s: %s", key, queryRefusal(err))
	}
	return st, ""
}

// query says where a read came from, for the workflow's own check.
func (b *Bot) query(req asker) workflows.QueryRequest {
	return workflows.QueryRequest{User: req.User, Origin: policy.OriginSlack, Channel: req.Channel}
}

// queryRefusal is the query handler's reason when the workflow refused
// the read, else refusal's wording for infrastructure trouble.
func queryRefusal(err error) string {
	var qf *serviceerror.QueryFailed
	if errors.As(err, &qf) {
		return escKeepChannelLinks(qf.Message)
	}
	return refusal(err)
}

// incidentSlack says how a new incident appears in Slack. A private
// incident (asked for, or the default for its severity) invites only the
// declarer and access.invite, not every responder: its channel is for the
// people handling it.
func (b *Bot) incidentSlack(req asker, cmd Command) *workflows.IncidentSlack {
	private := cmd.Private || b.o.Channels.PrivateFor(cmd.Severity)
	invite := slices.Clone(b.o.Access.Invite)
	if !private {
		invite = append(invite, b.o.Access.Responders...)
	}
	return &workflows.IncidentSlack{
		Invite: invite, Announce: b.o.Channels.Announce, Suggested: b.suggested(),
		DeclaredIn: req.Channel, Private: private,
	}
}
