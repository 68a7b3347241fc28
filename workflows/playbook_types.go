package workflows

import (
	"time"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// Modes of a playbook run.
const (
	ModeRun  = "run"  // plan approval steps, then change things
	ModePlan = "plan" // describe every step, change nothing
)

// PlaybookInput is the input of PlaybookWorkflow. The parsed playbook
// travels with it, so a running incident keeps the version it started
// with even if the file changes.
type PlaybookInput struct {
	Playbook *playbooks.Playbook `json:"playbook"`
	// Inputs are already resolved and typed (playbooks.ResolveInputs).
	Inputs map[string]any `json:"inputs,omitempty"`
	Mode   string         `json:"mode,omitempty"` // ModeRun (default) or ModePlan
	// Requester started the run; by default they cannot approve its steps.
	Requester string `json:"requester"`
	// Origin says where the run came from ("cli", "slack", "incident:INC-…").
	Origin   string         `json:"origin,omitempty"`
	Incident map[string]any `json:"incident,omitempty"`
	Config   map[string]any `json:"config,omitempty"`
	// Slack, when set, makes the run show its plan, a live status message
	// and approval requests in that channel.
	Slack *RunSlack `json:"slack,omitempty"`
	// ReportTo is the workflow ID of the incident that started the run; the
	// run signals its result there, which survives the incident continuing
	// as new (a child's future would not).
	ReportTo string `json:"report_to,omitempty"`
}

// Run statuses, final unless noted.
const (
	RunRunning   = "running" // not final
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunRejected  = "rejected"
	RunAborted   = "aborted"
	RunPlanned   = "planned"
)

// Step statuses.
const (
	StepPending            = "pending"
	StepRunning            = "running"
	StepAwaitingApproval   = "awaiting_approval"
	StepAwaitingTask       = "awaiting_task"
	StepWaiting            = "waiting"
	StepSucceeded          = playbooks.StatusSucceeded
	StepFailed             = playbooks.StatusFailed
	StepSkipped            = playbooks.StatusSkipped
	StepRejected           = "rejected"
	StepAborted            = "aborted"
	StepCompensated        = "compensated"
	StepCompensationFailed = "compensation_failed"
	StepPlanned            = "planned"
)

// PlaybookResult is what PlaybookWorkflow returns.
type PlaybookResult struct {
	Playbook string `json:"playbook"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	// Steps in playbook order, with parallel members after their group.
	Steps []StepState `json:"steps"`
	// Plan is set in plan mode.
	Plan *RunPlan `json:"plan,omitempty"`
	// Outputs maps step ID to that step's outputs (a call step's result).
	Outputs map[string]map[string]any `json:"outputs,omitempty"`
	// Timeline is every event of the run, for the incident's post-mortem.
	Timeline []Event `json:"timeline,omitempty"`
}

// StepState is one step's progress, for status queries and the result.
type StepState struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Action    string         `json:"action,omitempty"`
	Status    string         `json:"status"`
	StartedAt time.Time      `json:"started_at,omitzero"`
	EndedAt   time.Time      `json:"ended_at,omitzero"`
	Summary   string         `json:"summary,omitempty"`
	Error     string         `json:"error,omitempty"`
	Outputs   map[string]any `json:"outputs,omitempty"`
	Approval  *ApprovalState `json:"approval,omitempty"`
	Task      string         `json:"task,omitempty"` // manual steps: the rendered checklist item
	// Signal is the signal a waiting step needs; Until is when a timed wait ends.
	Signal string    `json:"signal,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	// Extendable: the wait's end can be moved later (extend_wait), up to
	// Latest, its start plus wait.max.
	Extendable bool      `json:"extendable,omitempty"`
	Latest     time.Time `json:"latest,omitzero"`
}

// ApprovalState is an approval gate as approvers see it.
type ApprovalState struct {
	Plan      activities.Plan `json:"plan"`
	PlanHash  string          `json:"plan_hash"`
	Group     string          `json:"group,omitempty"`
	Eligible  []string        `json:"eligible"`
	Min       int             `json:"min"`
	Approvers []string        `json:"approvers,omitempty"`
	// RejectedBy is set once someone rejects.
	RejectedBy string    `json:"rejected_by,omitempty"`
	Deadline   time.Time `json:"deadline,omitzero"`
	Escalated  bool      `json:"escalated,omitempty"`
	Open       bool      `json:"open"`
	// UnverifiedCLI is the name claimed by the one unverified CLI approval
	// this gate counts (access.cli.approvals: one).
	UnverifiedCLI string `json:"unverified_cli,omitempty"`
	// CLIApprovals is the worker's access.cli.approvals mode for this gate.
	CLIApprovals string `json:"cli_approvals,omitempty"`
}

// RunPlan is a whole playbook's plan: what every step would do.
type RunPlan struct {
	Steps []PlannedStep `json:"steps"`
	// Hash identifies the plan; it changes when any step's plan changes.
	Hash string `json:"hash"`
}

// PlannedStep is one step's part of a RunPlan.
type PlannedStep struct {
	ID       string              `json:"id"`
	Kind     string              `json:"kind"`
	Action   string              `json:"action,omitempty"`
	Summary  string              `json:"summary"`
	Changes  []string            `json:"changes,omitempty"`
	Approval *playbooks.Approval `json:"approval,omitempty"`
	// Note says why a step's plan is incomplete (it depends on outputs
	// only a real run produces, say).
	Note string `json:"note,omitempty"`
}

// Event kinds on the timeline.
const (
	EventRunStarted           = "run_started"
	EventRunFinished          = "run_finished"
	EventStepStarted          = "step_started"
	EventStepSucceeded        = "step_succeeded"
	EventStepFailed           = "step_failed"
	EventStepSkipped          = "step_skipped"
	EventStepRetrying         = "step_retrying" // an attempt failed; another follows
	EventApprovalRequested    = "approval_requested"
	EventApprovalVote         = "approval_vote"
	EventApprovalGranted      = "approval_granted"
	EventApprovalRejected     = "approval_rejected"
	EventApprovalEscalated    = "approval_escalated"
	EventApprovalTimedOut     = "approval_timed_out"
	EventTaskAssigned         = "task_assigned"
	EventTaskCompleted        = "task_completed"
	EventWaitStarted          = "wait_started"
	EventWaitExtended         = "wait_extended"
	EventSignalReceived       = "signal_received"
	EventAbortRequested       = "abort_requested"
	EventCompensationStarted  = "compensation_started"
	EventCompensationDone     = "compensation_succeeded"
	EventCompensationFailed   = "compensation_failed"
	EventStepPlanned          = "step_planned"
	EventRollbackStarted      = "rollback_started"
	EventRollbackFinished     = "rollback_finished"
	EventApprovalRequestStale = "approval_plan_changed"
	// An abort reached a running action: the run asked it to stop, then
	// recorded what it did (Outcome: completed, cancelled, failed, unknown).
	EventActionStopRequested = "action_stop_requested"
	EventActionStopOutcome   = "action_stop_outcome"
)

// SystemActor is the actor of events Firebreak causes itself.
const SystemActor = "firebreak"

// Event is one entry on the timeline: who did what, when, with what
// outcome, from where, to which resource.
type Event struct {
	Seq        int       `json:"seq"`
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"`
	Actor      string    `json:"actor"`
	Playbook   string    `json:"playbook,omitempty"`
	Step       string    `json:"step,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Outcome    string    `json:"outcome,omitempty"`
	Origin     string    `json:"origin,omitempty"`
	Resource   string    `json:"resource,omitempty"`
	RequestIDs []string  `json:"request_ids,omitempty"`
}

// Names of the playbook workflow's updates, signals and queries.
const (
	UpdateApprove      = "approve"
	UpdateCompleteTask = "complete_task"
	UpdateExtendWait   = "extend_wait"
	UpdateAbort        = "abort"
	SignalResume       = "resume"
	QueryStatus        = "status"
	QueryTimeline      = "timeline"
)

// Vote is the input of the approve update.
type Vote struct {
	StepID   string `json:"step_id"`
	Approver string `json:"approver"`
	// PlanHash is the hash of the plan the approver saw; a mismatch is refused.
	PlanHash string `json:"plan_hash"`
	Approve  bool   `json:"approve"` // false rejects
	Comment  string `json:"comment,omitempty"`
	Origin   string `json:"origin,omitempty"`
	// Channel is the Slack channel the request came from; another channel than
	// the run's is refused.
	Channel string `json:"channel,omitempty"`
	// Signature, when set, is a base64 ed25519 signature over
	// SignedVoteMessage by the CLI key the worker's access.cli.keys lists
	// for Approver (a Slack user ID): the vote then counts as that user.
	// A vote from the CLI without one is an unverified claim.
	Signature string `json:"signature,omitempty"`
	// SignedAt is when the CLI signed; it is part of the signed message.
	SignedAt time.Time `json:"signed_at,omitzero"`
}

// VoteResult says where the gate stands after an accepted vote.
type VoteResult struct {
	StepID    string   `json:"step_id"`
	Approvals int      `json:"approvals"`
	Needed    int      `json:"needed"`
	Approvers []string `json:"approvers"`
	Released  bool     `json:"released"`
	Rejected  bool     `json:"rejected"`
	// Identity says how the voter's identity was established (IdentitySlack,
	// IdentityCLIKey or IdentityCLIClaim).
	Identity string `json:"identity,omitempty"`
}

// TaskCompletion is the input of the complete_task update.
type TaskCompletion struct {
	StepID string `json:"step_id"`
	Actor  string `json:"actor"`
	Note   string `json:"note,omitempty"`
	Origin string `json:"origin,omitempty"`
	// Channel is the Slack channel the request came from; another channel than
	// the run's is refused.
	Channel string `json:"channel,omitempty"`
	// Holds: the principals the bot proved (see ChangeRequest).
	Holds []policy.Principal `json:"holds,omitempty"`
}

// WaitExtension is the input of the extend_wait update: move the end of
// an extendable timed wait later.
type WaitExtension struct {
	StepID string `json:"step_id"`
	// By is how much later: a duration ("24h", "1d12h") or a whole number
	// of seconds ("3600"). It adds to the wait's current end.
	By     string `json:"by"`
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	Origin string `json:"origin,omitempty"`
	// Channel is the Slack channel the request came from; another channel than
	// the run's is refused.
	Channel string `json:"channel,omitempty"`
	// Holds: the principals the bot proved (see ChangeRequest).
	Holds []policy.Principal `json:"holds,omitempty"`
}

// WaitExtended is the result of an accepted extend_wait update.
type WaitExtended struct {
	StepID string `json:"step_id"`
	// By is the extension as a duration string ("24h").
	By string `json:"by"`
	// Until is the wait's new end; Latest the latest end wait.max allows.
	Until  time.Time `json:"until"`
	Latest time.Time `json:"latest"`
}

// AbortRequest is the input of the abort update.
type AbortRequest struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	Origin string `json:"origin,omitempty"`
	// Channel is the Slack channel the request came from; another channel than
	// the run's is refused.
	Channel string `json:"channel,omitempty"`
	// Holds: the principals the bot proved, including the incident's
	// commander role, which the run cannot know itself.
	Holds []policy.Principal `json:"holds,omitempty"`
}

// Resume is the payload of the resume signal that releases `wait: {signal: name}` steps.
type Resume struct {
	Name   string `json:"name"`
	Actor  string `json:"actor,omitempty"`
	Origin string `json:"origin,omitempty"`
}

// RunStatus is the answer to the status query.
type RunStatus struct {
	Playbook  string      `json:"playbook"`
	Status    string      `json:"status"`
	Requester string      `json:"requester"`
	Steps     []StepState `json:"steps"`
	// Error is why a finished run failed, was rejected or aborted; it may
	// name no step (a plan that could not be made).
	Error string `json:"error,omitempty"`
}
