package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Names of the Slack notification activities. They are implemented in
// integrations/slack (which imports this package for the types), so
// workflows call them by name.
const (
	ActivityPostRunPlan         = "PostRunPlan"
	ActivityUpdateRunStatus     = "UpdateRunStatus"
	ActivityPostApprovalRequest = "PostApprovalRequest"
	ActivityUpdateApproval      = "UpdateApprovalMessage"
)

// RunSlack says where a run reports in Slack.
type RunSlack struct {
	Channel string `json:"channel"`
}

// RunPlanNotice is the input of PostRunPlan.
type RunPlanNotice struct {
	Channel  string   `json:"channel"`
	RunID    string   `json:"run_id"`
	Playbook string   `json:"playbook"`
	Plan     *RunPlan `json:"plan"`
	// IdempotencyKey names the post, so a retried activity finds the
	// message an earlier attempt posted instead of posting it again.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RunStatusNotice is the input of UpdateRunStatus: post when TS is empty,
// else update that message in place.
type RunStatusNotice struct {
	Channel string    `json:"channel"`
	TS      string    `json:"ts,omitempty"`
	RunID   string    `json:"run_id"`
	Status  RunStatus `json:"status"`
	// Version orders updates of one message; an older one is dropped.
	Version int `json:"version"`
	// IdempotencyKey names the first post (TS empty), as in RunPlanNotice.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ApprovalNotice is the input of PostApprovalRequest, and of
// UpdateApprovalMessage (with TS and Outcome) once the gate has closed.
type ApprovalNotice struct {
	Channel string    `json:"channel"`
	RunID   string    `json:"run_id"`
	Step    StepState `json:"step"`
	TS      string    `json:"ts,omitempty"`
	// Outcome says how the gate closed: one of the Gate* values.
	Outcome string `json:"outcome,omitempty"`
	// IdempotencyKey names the request's post, as in RunPlanNotice.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// SlackKey names one Slack post of this workflow run (its ID, its run ID
// and what the post is for), for the activities' idempotency keys: a new
// run, even under a reused workflow ID, posts afresh.
func SlackKey(ctx workflow.Context, purpose string) string {
	e := workflow.GetInfo(ctx).WorkflowExecution
	return e.ID + "/" + e.RunID + "/" + purpose
}

// How an approval gate closed.
const (
	GateApproved = "approved"
	GateRejected = "rejected"
	GateTimedOut = "timed_out"
	GateAborted  = "aborted"
)

// SlackPosted identifies a posted message.
type SlackPosted struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// notifier keeps a run's Slack messages current without slowing the run:
// changes mark the status dirty, and one goroutine pushes the latest
// snapshot whenever the previous push has finished.
type notifier struct {
	r        *run
	target   *RunSlack
	ts       string
	dirty    bool
	inflight bool
	version  int
}

// slackActivity: the notifier's activities heartbeat while they work, so
// an attempt lost with a crashed worker (kill -9) is retried within
// SlackHeartbeatTimeout instead of after the whole start-to-close timeout,
// which stays long enough for the Web API client's own waits on a 429 and
// the channel's update pacing. A 429 that outlasts those is retried after
// Slack's Retry-After (activities.SlackError).
func slackActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		HeartbeatTimeout:    SlackHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
}

// SlackHeartbeatTimeout is how long a Slack notification activity may go
// without a heartbeat; the activities heartbeat every second.
const SlackHeartbeatTimeout = 5 * time.Second

func newNotifier(ctx workflow.Context, r *run) *notifier {
	if r.in.Slack == nil || r.in.Slack.Channel == "" {
		return nil
	}
	n := &notifier{r: r, target: r.in.Slack}
	ctx, _ = workflow.NewDisconnectedContext(ctx) // keep reporting through an abort
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return n.dirty }); err != nil {
				return
			}
			n.dirty, n.inflight = false, true
			n.version++
			var posted SlackPosted
			err := workflow.ExecuteActivity(slackActivity(ctx), ActivityUpdateRunStatus, RunStatusNotice{
				Channel: n.target.Channel, TS: n.ts, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID,
				Status: n.r.statusView(), Version: n.version, IdempotencyKey: SlackKey(ctx, "status"),
			}).Get(ctx, &posted)
			if err == nil && n.ts == "" {
				n.ts = posted.TS
			}
			n.inflight = false
		}
	})
	return n
}

// changed asks for a status push; nil-safe so callers need not check.
func (n *notifier) changed() {
	if n != nil {
		n.dirty = true
	}
}

// flush waits until the last change has been pushed.
func (n *notifier) flush(ctx workflow.Context) {
	if n == nil {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	_, _ = workflow.AwaitWithTimeout(ctx, time.Minute, func() bool { return !n.dirty && !n.inflight })
}

func (n *notifier) postPlan(ctx workflow.Context, plan *RunPlan) {
	if n == nil {
		return
	}
	_ = workflow.ExecuteActivity(slackActivity(ctx), ActivityPostRunPlan, RunPlanNotice{
		Channel: n.target.Channel, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, Playbook: n.r.pb.Metadata.Name, Plan: plan,
		IdempotencyKey: SlackKey(ctx, "plan"),
	}).Get(ctx, nil)
}

// askApproval posts the approval request and returns its message ID.
func (n *notifier) askApproval(ctx workflow.Context, st *StepState) string {
	if n == nil {
		return ""
	}
	var posted SlackPosted
	_ = workflow.ExecuteActivity(slackActivity(ctx), ActivityPostApprovalRequest, ApprovalNotice{
		Channel: n.target.Channel, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, Step: copyStep(st),
		IdempotencyKey: SlackKey(ctx, "approval/"+st.ID),
	}).Get(ctx, &posted)
	return posted.TS
}

// approvalClosed turns the request message into its outcome, however the
// gate closed (votes in chat or the CLI, a timeout, an abort), so no
// stale buttons remain.
func (n *notifier) approvalClosed(ctx workflow.Context, st *StepState, ts string) {
	if n == nil || ts == "" {
		return
	}
	// Runs recorded before this message existed replay without it.
	if workflow.GetVersion(ctx, "approval-message-closed", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	outcome := n.gateOutcome(ctx, st)
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	_ = workflow.ExecuteActivity(slackActivity(ctx), ActivityUpdateApproval, ApprovalNotice{
		Channel: n.target.Channel, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, Step: copyStep(st), TS: ts,
		Outcome: outcome,
	}).Get(ctx, nil)
}

// gateOutcome says how a closed gate ended; ctx is the gate's own
// context, cancelled when the run was aborted while it waited.
func (n *notifier) gateOutcome(ctx workflow.Context, st *StepState) string {
	a := st.Approval
	switch {
	case a == nil:
		return ""
	case a.RejectedBy != "":
		return GateRejected
	case len(a.Approvers) >= max(a.Min, 1):
		return GateApproved
	case n.r.aborted != nil || ctx.Err() != nil:
		return GateAborted
	case st.Status == StepAborted:
		return GateTimedOut
	}
	return ""
}

func copyStep(st *StepState) StepState {
	step := *st
	if st.Approval != nil {
		a := *st.Approval
		step.Approval = &a
	}
	return step
}
