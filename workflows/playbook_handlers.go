package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// register installs the queries and updates that let people see and steer
// the run. Validators refuse bad requests before they reach history, with
// a reason written for the person who made them.
func (r *run) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func(q QueryRequest) (RunStatus, error) {
		if err := r.allow(policy.ReadStatus, q.actor()); err != nil {
			return RunStatus{}, err
		}
		return r.statusView(), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryTimeline, func(q QueryRequest) ([]Event, error) {
		if err := r.allow(policy.ReadTimeline, q.actor()); err != nil {
			return nil, err
		}
		return slices.Clone(r.timeline), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, r.vote,
		workflow.UpdateHandlerOptions{Validator: r.validateVote}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCompleteTask, r.completeTask,
		workflow.UpdateHandlerOptions{Validator: r.validateTask}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAbort, r.abort,
		workflow.UpdateHandlerOptions{Validator: r.validateAbort})
}

// allow asks the policy with what the run knows: the channel it is bound
// to (none for a run started from the CLI, or in an incident without a
// channel). It cannot know the incident's current commander: for that it
// takes the bot's proof in the actor's Holds.
func (r *run) allow(op policy.Op, a policy.Actor) error {
	inc := &policy.Incident{Key: "this run"}
	if key, ok := r.in.Incident["key"].(string); ok && key != "" {
		inc.Key = key
	}
	if r.in.Slack != nil {
		inc.Channel = r.in.Slack.Channel
	}
	return policy.Decide(op, a, inc)
}

// fromOwnChannel refuses Slack requests (those naming a channel) from any
// channel but the run's.
func (r *run) fromOwnChannel(channel string) error {
	if channel == "" {
		return nil
	}
	return r.allow(policy.ReadPlan, policy.Actor{User: "slack", Origin: policy.OriginSlack, Channel: channel})
}

func (r *run) validateVote(_ workflow.Context, v Vote) error {
	if strings.TrimSpace(v.Approver) == "" {
		return errors.New("a vote needs the approver's identity")
	}
	if err := r.fromOwnChannel(v.Channel); err != nil {
		return err
	}
	g, ok := r.gates[v.StepID]
	if !ok {
		if _, exists := r.byID[v.StepID]; !exists {
			return fmt.Errorf("this run has no step %q", v.StepID)
		}
		return fmt.Errorf("step %s is not waiting for approval", v.StepID)
	}
	if !g.state.Open {
		switch {
		case g.state.RejectedBy != "":
			return fmt.Errorf("step %s was already rejected by %s", v.StepID, g.state.RejectedBy)
		case len(g.state.Approvers) >= g.state.Min:
			return fmt.Errorf("step %s is already approved", v.StepID)
		default:
			return fmt.Errorf("step %s is no longer waiting for approval (timed out or aborted)", v.StepID)
		}
	}
	if g.state.RejectedBy != "" || len(g.state.Approvers) >= g.state.Min {
		return fmt.Errorf("step %s is already decided", v.StepID)
	}
	if !slices.Contains(g.state.Eligible, v.Approver) {
		return fmt.Errorf("%s is not an approver for step %s (%s)", v.Approver, v.StepID, approverLabel(g.step.Approval))
	}
	if v.Approver == g.requester && !g.allowSelf {
		return fmt.Errorf("%s requested this run and cannot approve its own step %s", v.Approver, v.StepID)
	}
	if _, voted := g.votes[v.Approver]; voted {
		return fmt.Errorf("%s already voted on step %s", v.Approver, v.StepID)
	}
	// Approving binds to the plan seen; rejecting a stale plan is harmless.
	if v.Approve && v.PlanHash != g.state.PlanHash {
		return fmt.Errorf("the plan for step %s changed since it was shown (you saw %s, it is now %s): review the new plan",
			v.StepID, short(v.PlanHash), short(g.state.PlanHash))
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "no plan"
	}
	return h
}

func (r *run) vote(ctx workflow.Context, v Vote) (VoteResult, error) {
	g := r.gates[v.StepID]
	g.votes[v.Approver] = v.Approve
	outcome := "approve"
	if v.Approve {
		g.state.Approvers = append(g.state.Approvers, v.Approver)
	} else {
		g.state.RejectedBy = v.Approver
		outcome = "reject"
	}
	r.event(ctx, Event{Kind: EventApprovalVote, Actor: v.Approver, Step: v.StepID, Outcome: outcome, Origin: v.Origin,
		Detail: fmt.Sprintf("%d of %d; plan %s%s", len(g.state.Approvers), g.state.Min, short(v.PlanHash), comment(v.Comment))})
	if !v.Approve {
		r.event(ctx, Event{Kind: EventApprovalRejected, Actor: v.Approver, Step: v.StepID, Outcome: "rejected", Origin: v.Origin, Detail: v.Comment})
	}
	return VoteResult{
		StepID:    v.StepID,
		Approvals: len(g.state.Approvers),
		Needed:    g.state.Min,
		Approvers: slices.Clone(g.state.Approvers),
		Released:  len(g.state.Approvers) >= g.state.Min,
		Rejected:  !v.Approve,
	}, nil
}

func comment(c string) string {
	if c == "" {
		return ""
	}
	return ": " + c
}

func (r *run) validateTask(_ workflow.Context, t TaskCompletion) error {
	if strings.TrimSpace(t.Actor) == "" {
		return errors.New("completing a task needs the actor's identity")
	}
	if err := r.allow(policy.Done, policy.Actor{User: t.Actor, Origin: t.Origin, Channel: t.Channel, Holds: t.Holds}); err != nil {
		return err
	}
	if !r.tasks[t.StepID] {
		if _, exists := r.byID[t.StepID]; !exists {
			return fmt.Errorf("this run has no step %q", t.StepID)
		}
		return fmt.Errorf("step %s is not a task waiting to be done", t.StepID)
	}
	return nil
}

func (r *run) completeTask(ctx workflow.Context, t TaskCompletion) (StepState, error) {
	delete(r.tasks, t.StepID)
	st := r.byID[t.StepID]
	st.Summary = "done by " + t.Actor + comment(t.Note)
	r.event(ctx, Event{Kind: EventTaskCompleted, Actor: t.Actor, Step: t.StepID, Outcome: "done", Origin: t.Origin, Detail: t.Note})
	return *st, nil
}

func (r *run) validateAbort(_ workflow.Context, a AbortRequest) error {
	if strings.TrimSpace(a.Actor) == "" {
		return errors.New("an abort needs the actor's identity")
	}
	if err := r.allow(policy.Abort, policy.Actor{User: a.Actor, Origin: a.Origin, Channel: a.Channel, Holds: a.Holds}); err != nil {
		return err
	}
	if r.aborted != nil {
		return fmt.Errorf("already aborted by %s", r.aborted.Actor)
	}
	switch {
	case r.phase == phaseRollback:
		return errors.New("the run is already rolling back its completed steps; a rollback cannot be aborted " +
			"(stopping it would leave changes half undone): wait for it to finish and read the timeline")
	case r.phase == phaseFinished:
		return fmt.Errorf("the run has already finished (%s); there is nothing to abort", r.status)
	case r.cancel == nil:
		return errors.New("the run is still starting; try the abort again in a moment")
	}
	return nil
}

// abort cancels what the run is doing. While it plans, the run stops
// before any step runs. While an action runs, the run waits (bounded) for
// it to report back, so a change it made anyway is rolled back too.
func (r *run) abort(ctx workflow.Context, a AbortRequest) (string, error) {
	r.aborted = &a
	state, detail := "aborting", a.Reason
	if r.phase == phasePlan {
		state = "aborting while planning: nothing has been changed, no step will run"
		detail = strings.TrimPrefix(detail+"; while planning, before any change", "; ")
	}
	r.event(ctx, Event{Kind: EventAbortRequested, Actor: a.Actor, Outcome: "aborting", Origin: a.Origin, Detail: detail})
	r.cancel()
	return state, nil
}

// receiveSignals records resume signals, including ones that arrive before
// the wait step that needs them.
func (r *run) receiveSignals(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalResume)
	for {
		var s Resume
		if !ch.Receive(ctx, &s) {
			return
		}
		r.signals[s.Name] = true
		r.event(ctx, Event{Kind: EventSignalReceived, Actor: orSystem(s.Actor), Origin: s.Origin, Detail: s.Name})
	}
}
