package workflows

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
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
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateExtendWait, r.extendWait,
		workflow.UpdateHandlerOptions{Validator: r.validateExtend}); err != nil {
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
	if key := r.incidentKey(); key != "" {
		inc.Key = key
	}
	if r.in.Slack != nil {
		inc.Channel = r.in.Slack.Channel
	}
	return policy.Decide(op, a, inc)
}

// fromOwnChannel refuses Slack votes from any channel but the run's,
// including a Slack vote that names no channel on a run that has one (a
// forged or broken click). Votes naming no channel otherwise come from
// the CLI, whose identity rules apply instead.
func (r *run) fromOwnChannel(origin, channel string) error {
	bound := r.in.Slack != nil && r.in.Slack.Channel != ""
	if channel == "" && (origin != policy.OriginSlack || !bound) {
		return nil
	}
	return r.allow(policy.ReadPlan, policy.Actor{User: "slack", Origin: policy.OriginSlack, Channel: channel})
}

func (r *run) validateVote(ctx workflow.Context, v Vote) error {
	if strings.TrimSpace(v.Approver) == "" {
		return errors.New("a vote needs the approver's identity")
	}
	if err := r.fromOwnChannel(v.Origin, v.Channel); err != nil {
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
	// The requester first: a run may leave them out of the eligible list,
	// and "you requested it" is the reason they need to read.
	if v.Approver == g.requester && !g.allowSelf {
		return fmt.Errorf("%s requested this run and cannot approve its own step %s", v.Approver, v.StepID)
	}
	if !slices.Contains(g.state.Eligible, v.Approver) {
		return fmt.Errorf("%s is not an approver for step %s (%s)", v.Approver, v.StepID, approverLabel(g.step.Approval))
	}
	if _, voted := g.votes[v.Approver]; voted {
		return fmt.Errorf("%s already voted on step %s", v.Approver, v.StepID)
	}
	if err := g.checkIdentity(ctx, v); err != nil {
		return err
	}
	// Approving binds to the plan seen; rejecting a stale plan is harmless.
	if v.Approve && v.PlanHash != g.state.PlanHash {
		return staleHash(v.StepID, v.PlanHash, g.state.PlanHash)
	}
	return nil
}

// staleHash explains a vote whose plan hash is not the gate's. The two
// hashes are shown far enough to differ; a hash that is only the start of
// the right one is said to be incomplete, not changed.
func staleHash(step, sent, want string) error {
	switch {
	case sent == "":
		return fmt.Errorf("the vote on step %s carries no plan hash: approve with --plan-hash %s (from `firebreak playbook status`) after reviewing the plan", step, want)
	case strings.HasPrefix(want, sent):
		return fmt.Errorf("the plan hash sent for step %s, %s, is only the first %d characters of its plan hash: send the full hash %s (a prefix is not enough to bind your vote to the plan)",
			step, sent, len(sent), want)
	}
	n := 12
	for n < len(sent) && n < len(want) && sent[:n] == want[:n] {
		n++
	}
	return fmt.Errorf("the plan for step %s is not the one you approved (you sent plan hash %s, the plan is now %s): review the current plan and vote on it",
		step, cut(sent, n), cut(want, n))
}

// cut shortens a hash to n characters, marking that it was shortened.
func cut(h string, n int) string {
	if len(h) <= n {
		return h
	}
	return h[:n] + "…"
}

// How a voter's identity was established (VoteResult.Identity).
const (
	// IdentitySlack: the bot verified Slack's signature on the click.
	IdentitySlack = "slack"
	// IdentityCLIKey: the vote is signed with the voter's key from the
	// worker's access.cli.keys.
	IdentityCLIKey = "cli key"
	// IdentityCLIClaim: anything else, such as `--as NAME` from the CLI. Only
	// Temporal access backs the claim.
	IdentityCLIClaim = "unverified cli"
)

// originSlack is the origin the Slack bot stamps on requests it verified.
const originSlack = policy.OriginSlack

// signatureSkew bounds how far a signed vote's time may be from the run's
// clock, so a signature cannot be kept for later.
const signatureSkew = 10 * time.Minute

// getVerified tells an unverified CLI voter how to cast a vote that counts.
const getVerified = "approve from Slack, or sign the vote with `--key FILE` (your ed25519 key, whose public half access.cli.keys lists for your Slack user ID)"

// identityOf classifies a vote. A signature makes it a key vote (the
// validator has checked it); an unsigned vote is verified only if the bot
// sent it.
func identityOf(v Vote) string {
	switch {
	case v.Signature != "":
		return IdentityCLIKey
	case v.Origin == originSlack:
		return IdentitySlack
	default:
		return IdentityCLIClaim
	}
}

// SignedVoteMessage is the exact message a CLI key signs for v on the run
// (workflowID, runID). It names the run, the step, the plan hash, the
// decision, the user, the time and the comment, each value quoted so none
// can run into the next, so a signature cannot be moved to another gate,
// plan or decision. The first line keeps it apart from anything else the
// same SSH key signs.
func SignedVoteMessage(workflowID, runID string, v Vote) []byte {
	decision := "reject"
	if v.Approve {
		decision = "approve"
	}
	var b strings.Builder
	b.WriteString("firebreak vote v1\n")
	for _, f := range [][2]string{
		{"workflow_id", workflowID},
		{"run_id", runID},
		{"step", v.StepID},
		{"plan_hash", v.PlanHash},
		{"decision", decision},
		{"user", v.Approver},
		{"signed_at", v.SignedAt.UTC().Format(time.RFC3339Nano)},
		{"comment", v.Comment},
	} {
		b.WriteString(f[0] + " " + strconv.Quote(f[1]) + "\n")
	}
	return []byte(b.String())
}

// checkIdentity applies the CLI identity rules (access.cli.approvals) to a
// vote that is otherwise acceptable. Rejections by unverified CLI voters
// pass: stopping a run is something `playbook abort` from the same CLI can
// do too.
func (g *gate) checkIdentity(ctx workflow.Context, v Vote) error {
	mode := g.state.CLIApprovals
	switch identityOf(v) {
	case IdentitySlack:
		return nil
	case IdentityCLIKey:
		if v.Approve && mode == activities.CLIApprovalsForbid {
			return fmt.Errorf("CLI approvals are turned off here (access.cli.approvals: forbid), signed or not: approve step %s from Slack", v.StepID)
		}
		return g.checkSignature(ctx, v)
	}
	if !v.Approve {
		return nil
	}
	switch {
	case mode == activities.CLIApprovalsForbid:
		return fmt.Errorf("CLI approvals are turned off here (access.cli.approvals: forbid): approve step %s from Slack", v.StepID)
	case mode == activities.CLIApprovalsVerified:
		return fmt.Errorf("only signed CLI approvals count here (access.cli.approvals: verified), and this one, as %s, is an unverified claim: %s", v.Approver, getVerified)
	case g.cliKeys[v.Approver] != "":
		// Whoever has a key proves who they are; an unsigned claim to be
		// them is an impersonation or a forgotten --key, and would use up
		// their vote.
		return fmt.Errorf("%s has a CLI key in access.cli.keys, so an unsigned CLI approval as %s is refused: sign the vote with `--key FILE`, or approve from Slack", v.Approver, v.Approver)
	case g.requesterClaimed && !g.allowSelf:
		return fmt.Errorf("this run was not requested through Slack: its requester, %s, is a name only Temporal access backs, so an unverified CLI approval of step %s may be that requester approving their own step: %s, or set allow_requester on the step if self-approval is acceptable",
			orSystem(g.requester), v.StepID, getVerified)
	case g.state.UnverifiedCLI != "":
		return fmt.Errorf("step %s already has its one unverified CLI approval (as %s): --as is a claim only Temporal access backs, so unverified CLI votes count once per gate however many names they use; for a second approval, %s",
			v.StepID, g.state.UnverifiedCLI, getVerified)
	}
	return nil
}

// checkSignature verifies a signed vote with the key the worker listed for
// its user when the gate opened.
func (g *gate) checkSignature(ctx workflow.Context, v Vote) error {
	enc, ok := g.cliKeys[v.Approver]
	if !ok {
		return fmt.Errorf("%s has no CLI key in this worker's access.cli.keys, so the signed vote cannot be checked: vote from Slack, or ask an admin to add your public key", v.Approver)
	}
	pub, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("the CLI key listed for %s is not an ed25519 public key; ask an admin to fix access.cli.keys", v.Approver)
	}
	sig, err := base64.StdEncoding.DecodeString(v.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("the vote's signature is not a base64 ed25519 signature: sign it with `firebreak playbook approve|reject --key FILE`")
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	if !ed25519.Verify(pub, SignedVoteMessage(info.ID, info.RunID, v), sig) {
		return fmt.Errorf("the signature does not verify with %s's key in access.cli.keys: it was made with another key, or for another run, step, plan or decision", v.Approver)
	}
	now := workflow.Now(ctx)
	if d := now.Sub(v.SignedAt); d > signatureSkew || d < -signatureSkew {
		return fmt.Errorf("the vote was signed at %s, more than %s from this run's clock (%s): check the clock where you vote, and vote again",
			v.SignedAt.UTC().Format(time.RFC3339), signatureSkew, now.UTC().Format(time.RFC3339))
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
	identity := identityOf(v)
	outcome := "approve"
	if v.Approve {
		g.state.Approvers = append(g.state.Approvers, v.Approver)
		if identity == IdentityCLIClaim {
			g.state.UnverifiedCLI = v.Approver
		}
	} else {
		g.state.RejectedBy = v.Approver
		outcome = "reject"
	}
	// The timeline says how the voter was identified; an unverified vote
	// never borrows the run's origin (which may be "slack").
	origin, how := v.Origin, ""
	switch identity {
	case IdentityCLIClaim:
		how = "; unverified CLI identity"
		if origin == "" {
			origin = "cli"
		}
	case IdentityCLIKey:
		how = "; identity verified by CLI key"
	}
	// A rejection needs no plan hash: say none was given rather than
	// "plan no plan".
	plan := "plan " + short(v.PlanHash)
	if v.PlanHash == "" {
		plan = "no plan hash given"
	}
	r.event(ctx, Event{Kind: EventApprovalVote, Actor: v.Approver, Step: v.StepID, Outcome: outcome, Origin: origin,
		Detail: fmt.Sprintf("%d of %d approvals; %s%s%s", len(g.state.Approvers), g.state.Min, plan, how, comment(v.Comment))})
	if !v.Approve {
		r.event(ctx, Event{Kind: EventApprovalRejected, Actor: v.Approver, Step: v.StepID, Outcome: "rejected", Origin: origin, Detail: v.Comment})
	}
	return VoteResult{
		StepID:    v.StepID,
		Approvals: len(g.state.Approvers),
		Needed:    g.state.Min,
		Approvers: slices.Clone(g.state.Approvers),
		Released:  len(g.state.Approvers) >= g.state.Min,
		Rejected:  !v.Approve,
		Identity:  identity,
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

func (r *run) validateExtend(_ workflow.Context, x WaitExtension) error {
	if strings.TrimSpace(x.Actor) == "" {
		return errors.New("extending a wait needs the actor's identity")
	}
	if err := r.allow(policy.ExtendWait, policy.Actor{User: x.Actor, Origin: x.Origin, Channel: x.Channel, Holds: x.Holds}); err != nil {
		return err
	}
	s, ok := r.pb.Step(x.StepID)
	switch {
	case !ok:
		return fmt.Errorf("this run has no step %q", x.StepID)
	case s.Kind != playbooks.KindWait || !s.Wait.Timed():
		return fmt.Errorf("step %s is not a timed wait; only `wait: {duration: …}` steps can be extended", x.StepID)
	case !s.Wait.Extendable:
		return fmt.Errorf("step %s cannot be extended: its playbook does not set wait.extendable: true", x.StepID)
	}
	w := r.waits[x.StepID]
	if w == nil || r.aborted != nil {
		status := strings.ReplaceAll(r.byID[x.StepID].Status, "_", " ")
		if r.aborted != nil {
			status = "aborted by " + r.aborted.Actor
		}
		return fmt.Errorf("step %s is not waiting (it is %s); only a wait in progress can be extended", x.StepID, status)
	}
	by, err := ParseExtension(x.By)
	if err != nil {
		return fmt.Errorf("cannot extend step %s by %q: %w", x.StepID, x.By, err)
	}
	if by <= 0 {
		return fmt.Errorf("cannot extend step %s by %s: an extension must be positive", x.StepID, x.By)
	}
	end, latest := w.state.Until.Add(by), w.state.Latest
	if end.After(latest) {
		room := "it cannot be extended any further"
		if left := latest.Sub(w.state.Until); left > 0 {
			room = "at most " + playbooks.Duration(left).String() + " more"
		}
		return fmt.Errorf("extending step %s by %s would end it at %s, past its limit of %s from the start (wait.max): the latest allowed end is %s (%s)",
			x.StepID, playbooks.Duration(by), stamp(end), playbooks.Duration(w.step.Wait.Limit()), stamp(latest), room)
	}
	return nil
}

// ParseExtension reads WaitExtension.By: a duration ("24h", "1d12h", or
// negative, which the validator refuses with its own words) or a whole
// number of seconds. Clients check with it before they send.
func ParseExtension(by string) (time.Duration, error) {
	s := strings.TrimSpace(by)
	if s == "" {
		return 0, errors.New("say by how much, e.g. 24h")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, errors.New("that is too long")
		}
		return time.Duration(n) * time.Second, nil
	}
	neg := strings.HasPrefix(s, "-")
	d, err := playbooks.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, err
	}
	if neg {
		d = -d
	}
	return time.Duration(d), nil
}

// extendWait moves the wait's end later; the waiting step sees the change
// and restarts its timer.
func (r *run) extendWait(ctx workflow.Context, x WaitExtension) (WaitExtended, error) {
	w := r.waits[x.StepID]
	by, err := ParseExtension(x.By)
	if err != nil { // the validator parsed it already
		return WaitExtended{}, err
	}
	w.state.Until = w.state.Until.Add(by)
	detail := fmt.Sprintf("by %s, until %s", playbooks.Duration(by), stamp(w.state.Until))
	if x.Reason != "" {
		detail += ": " + x.Reason
	}
	// Like a vote, a request that names no origin never borrows the run's.
	origin := x.Origin
	switch {
	case origin != "":
	case x.Channel != "":
		origin = policy.OriginSlack
	default:
		origin = policy.OriginCLI
	}
	r.event(ctx, Event{Kind: EventWaitExtended, Actor: x.Actor, Step: x.StepID, Outcome: "extended", Origin: origin, Detail: detail})
	return WaitExtended{StepID: x.StepID, By: playbooks.Duration(by).String(), Until: w.state.Until, Latest: w.state.Latest}, nil
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
