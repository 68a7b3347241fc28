package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// Defaults for action activities when a step does not say.
const (
	defaultStepTimeout = 10 * time.Minute
	defaultMaxAttempts = 5
)

// An abort while an action runs (see awaitActivity).
const (
	// abortGrace bounds how long an aborted run waits for a running action
	// to report back before it treats the step as possibly executed.
	abortGrace = 30 * time.Second
	// actionHeartbeat is the heartbeat timeout of action activities: a
	// worker that dies mid-action is noticed this fast (not after the
	// step's whole timeout), and an abort reaches a running action within
	// it (the SDK heartbeats at 80% of it).
	actionHeartbeat = 10 * time.Second
	// versionAbortWaits gates waiting for an aborted activity's report:
	// older code went on at once, and runs it aborted must replay.
	versionAbortWaits = "abort-waits-for-activity"
	// versionFirstHour gates, once at the start of a run, what Step 5
	// ("the first hour") changed: `incident` and `run` always present with
	// lowercase severities, retries made by the run itself (each on the
	// timeline), approval gates that fail at once when too few people may
	// approve, and plans that check approver groups. Runs started before
	// keep the old behaviour, so their histories replay.
	versionFirstHour = "first-hour"
)

// Outcomes of an action that was running when its run was aborted.
const (
	stopCompleted = "completed" // it made its change anyway: the step is done
	stopCancelled = "cancelled" // it stopped before making its change
	stopFailed    = "failed"    // it failed; like any failed step, not undone
	stopUnknown   = "unknown"   // no report in time, or it timed out: possibly executed
)

// What an abort would stop, by phase of the run.
const (
	phasePlan     = "plan"     // planning (chat runs plan first): nothing has changed
	phaseRun      = "run"      // running steps
	phaseRollback = "rollback" // compensating; an abort is refused
	phaseFinished = "finished" // the outcome is decided
)

// runError says how a run ended early; it decides the run's status.
type runError struct {
	status string // RunFailed, RunRejected, RunAborted
	step   string
	err    error
}

func (e *runError) Error() string {
	if e.step == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("step %s: %v", e.step, e.err)
}

func (e *runError) Unwrap() error { return e.err }

// run is one execution of a playbook: its state, its timeline, and the
// handlers that steer it.
type run struct {
	in     PlaybookInput
	pb     *playbooks.Playbook
	eval   expr
	vars   playbooks.Vars
	origin string
	// err is the finished run's error, for the status query.
	err string
	// acted holds, per step, the resource and request IDs its action reported, until the
	// step's step_succeeded event carries them.
	acted    map[string]Event
	steps    []*StepState
	byID     map[string]*StepState
	timeline []Event
	// done lists finished action steps in completion order, for rollback.
	done     []doneStep
	gates    map[string]*gate
	tasks    map[string]bool       // step ID -> waiting for completion
	waits    map[string]*timedWait // extendable timed waits in progress, by step ID
	signals  map[string]bool       // resume signals received, by name
	aborted  *AbortRequest
	cancel   workflow.CancelFunc
	phase    string // phasePlan…phaseFinished: what an abort would stop
	status   string
	outcomes map[string]map[string]any
	notify   *notifier
	// firstHour: the run started on code with versionFirstHour.
	firstHour bool
}

type doneStep struct {
	step *playbooks.Step
	with map[string]any
	// uncertain: the run was aborted while the action ran and never
	// learned whether it made its change; it is compensated anyway.
	uncertain bool
}

// timedWait is an extendable wait in progress: extend_wait moves
// state.Until, and the waiting step restarts its timer for the new end.
type timedWait struct {
	step  *playbooks.Step
	state *StepState
}

// gate is an open or closed approval.
type gate struct {
	step      *playbooks.Step
	state     *ApprovalState
	requester string
	// requesterClaimed: the run was requested from the CLI (or any client
	// but the Slack bot), so its requester is a claim, not a proof.
	requesterClaimed bool
	allowSelf        bool
	votes            map[string]bool
	// cliKeys are the worker's CLI public keys (base64 ed25519) of the
	// approvers, fixed when the gate opens.
	cliKeys map[string]string
}

// PlaybookWorkflow is the one interpreter of the playbook DSL. It runs
// steps in order (parallel groups concurrently), asks for approvals with
// the exact plan, waits for people and signals, calls sub-playbooks as
// children, and on failure with `on_failure: rollback` runs compensations
// in reverse. Every state change lands on the timeline.
func PlaybookWorkflow(ctx workflow.Context, in PlaybookInput) (PlaybookResult, error) {
	if in.Playbook == nil {
		return PlaybookResult{}, temporal.NewNonRetryableApplicationError("no playbook in input", "BadInput", nil)
	}
	r := newRun(in)
	if err := r.register(ctx); err != nil {
		return PlaybookResult{}, err
	}
	if workflow.GetVersion(ctx, versionFirstHour, workflow.DefaultVersion, 1) >= 1 {
		r.firstHour = true
		r.vars.Incident = incidentVars(in.Incident)
		r.vars.Run = map[string]any{"requester": in.Requester, "origin": r.origin, "mode": r.mode()}
	}
	workflow.Go(ctx, r.receiveSignals)

	r.event(ctx, Event{Kind: EventRunStarted, Actor: orSystem(in.Requester), Detail: fmt.Sprintf("%s (%s mode)", r.pb.Metadata.Name, r.mode())})
	r.notify = newNotifier(ctx, r)
	var result PlaybookResult
	switch {
	case r.mode() == ModePlan:
		result = r.planPass(ctx)
		r.phase = phaseFinished
		if result.Plan != nil {
			r.notify.postPlan(ctx, result.Plan)
		}
	case r.notify != nil:
		// In chat, show the plan before changing anything, then run.
		planned := r.planPass(ctx)
		if planned.Plan == nil {
			result = planned
			break
		}
		r.notify.postPlan(ctx, planned.Plan)
		if r.aborted != nil { // while the plan was being posted
			result = r.stoppedBeforeChange(nil)
			break
		}
		r.resetForRun()
		result = r.execute(ctx)
	default:
		result = r.execute(ctx)
	}
	r.phase = phaseFinished
	r.err = result.Error
	r.notify.changed()
	r.notify.flush(ctx)
	r.event(ctx, Event{Kind: EventRunFinished, Actor: SystemActor, Outcome: result.Status, Detail: result.Error})
	// Let in-flight updates (a late vote, say) finish before closing.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	result.Timeline = r.timeline
	if in.ReportTo != "" {
		r.report(ctx, result)
	}
	return result, nil
}

func newRun(in PlaybookInput) *run {
	r := &run{
		in:       in,
		pb:       in.Playbook,
		eval:     newExpr(),
		origin:   in.Origin,
		byID:     map[string]*StepState{},
		gates:    map[string]*gate{},
		tasks:    map[string]bool{},
		waits:    map[string]*timedWait{},
		acted:    map[string]Event{},
		signals:  map[string]bool{},
		status:   RunRunning,
		outcomes: map[string]map[string]any{},
		vars: playbooks.Vars{
			Inputs:   in.Inputs,
			Steps:    map[string]playbooks.StepVars{},
			Incident: in.Incident,
			Config:   in.Config,
		},
	}
	if r.origin == "" {
		r.origin = "playbook:" + in.Playbook.Metadata.Name
	}
	// Parallel groups may be unnamed; give them an ID that no named step
	// can have ('#' is not allowed in IDs) so their state can be tracked.
	for i := range in.Playbook.Steps {
		if s := &in.Playbook.Steps[i]; s.ID == "" {
			s.ID = fmt.Sprintf("parallel#%d", i+1)
		}
	}
	for _, s := range in.Playbook.AllSteps() {
		st := &StepState{ID: s.ID, Kind: string(s.Kind), Action: s.Action, Status: StepPending}
		r.steps = append(r.steps, st)
		r.byID[s.ID] = st
	}
	return r
}

// resetForRun clears the plan pass's marks before the real run.
func (r *run) resetForRun() {
	r.status = RunRunning
	for _, st := range r.steps {
		*st = StepState{ID: st.ID, Kind: st.Kind, Action: st.Action, Status: StepPending}
	}
	r.vars.Steps = map[string]playbooks.StepVars{}
}

// statusView is the status query's answer.
func (r *run) statusView() RunStatus {
	return RunStatus{Playbook: r.pb.Metadata.Name, Status: r.status, Requester: r.in.Requester, Steps: r.snapshot(), Error: r.err}
}

func (r *run) mode() string {
	if r.in.Mode == "" {
		return ModeRun
	}
	return r.in.Mode
}

func orSystem(actor string) string {
	if actor == "" {
		return SystemActor
	}
	return actor
}

func (r *run) event(ctx workflow.Context, e Event) {
	e.Seq = len(r.timeline) + 1
	e.Time = workflow.Now(ctx)
	e.Playbook = r.pb.Metadata.Name
	if e.Origin == "" {
		e.Origin = r.origin
	}
	r.timeline = append(r.timeline, e)
	r.notify.changed()
}

func (r *run) snapshot() []StepState {
	out := make([]StepState, len(r.steps))
	for i, s := range r.steps {
		out[i] = *s
		if s.Approval != nil {
			a := *s.Approval
			out[i].Approval = &a
		}
	}
	return out
}

// planPass plans the run; an abort meanwhile stops it there, before
// anything changed.
func (r *run) planPass(ctx workflow.Context) PlaybookResult {
	planCtx, cancel := workflow.WithCancel(ctx)
	r.phase, r.cancel = phasePlan, cancel
	return r.plan(planCtx)
}

// stoppedBeforeChange is the result of a run aborted (or cancelled) while
// it was planning: no step has run.
func (r *run) stoppedBeforeChange(err error) PlaybookResult {
	r.status = RunAborted
	msg := r.abortReason() + " while planning; nothing was changed"
	if err != nil && !temporal.IsCanceledError(err) {
		msg += " (" + errorMessage(err) + ")"
	}
	return PlaybookResult{Playbook: r.pb.Metadata.Name, Status: RunAborted, Error: msg, Steps: r.snapshot()}
}

// execute runs the steps, then rolls back if asked to.
func (r *run) execute(ctx workflow.Context) PlaybookResult {
	stepCtx, cancel := workflow.WithCancel(ctx)
	r.phase, r.cancel = phaseRun, cancel
	err := r.runSteps(stepCtx, r.pb.Steps)
	if err == nil && stepCtx.Err() != nil {
		// Aborted during the last step, which finished anyway: still an
		// abort, and its change is rolled back with the others.
		err = r.abortError(stepCtx.Err())
	}
	res := PlaybookResult{Playbook: r.pb.Metadata.Name, Status: RunSucceeded}
	if err != nil {
		var re *runError
		switch {
		case errors.As(err, &re):
			res.Status = re.status
		case r.aborted != nil || temporal.IsCanceledError(err):
			res.Status = RunAborted
		default:
			res.Status = RunFailed
		}
		if r.aborted != nil {
			res.Status = RunAborted
		}
		res.Error = err.Error()
		if r.pb.OnFailure == playbooks.OnFailureRollback {
			// Compensations must run even though the run was cancelled,
			// and an abort must not stop them halfway.
			r.phase = phaseRollback
			r.rollback(ctx)
		}
	}
	r.status = res.Status
	res.Steps = r.snapshot()
	res.Outputs = r.outcomes
	return res
}

func (r *run) runSteps(ctx workflow.Context, steps []playbooks.Step) error {
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return r.abortError(err)
		}
		if err := r.runStep(ctx, &steps[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) abortError(err error) error {
	return &runError{status: RunAborted, err: fmt.Errorf("%s: %w", r.abortReason(), err)}
}

// abortReason says who stopped the run and why.
func (r *run) abortReason() string {
	if r.aborted == nil {
		return "cancelled"
	}
	reason := "aborted by " + r.aborted.Actor
	if r.aborted.Reason != "" {
		reason += ": " + r.aborted.Reason
	}
	return reason
}

func (r *run) runStep(ctx workflow.Context, s *playbooks.Step) error {
	st := r.byID[s.ID]
	ok, err := r.eval.EvalBool(s.When, r.vars)
	if err != nil {
		return r.finishStep(ctx, s, st, fmt.Errorf("evaluate when: %w", err))
	}
	if !ok {
		st.Status = StepSkipped
		r.vars.Steps[s.ID] = playbooks.StepVars{Status: playbooks.StatusSkipped}
		r.event(ctx, Event{Kind: EventStepSkipped, Actor: SystemActor, Step: s.ID, Detail: "when: " + s.When})
		for i := range s.Parallel {
			r.byID[s.Parallel[i].ID].Status = StepSkipped
			r.vars.Steps[s.Parallel[i].ID] = playbooks.StepVars{Status: playbooks.StatusSkipped}
		}
		return nil
	}
	st.Status = StepRunning
	st.StartedAt = workflow.Now(ctx)
	r.event(ctx, Event{Kind: EventStepStarted, Actor: SystemActor, Step: s.ID, Detail: describeStep(s)})
	switch s.Kind {
	case playbooks.KindAction:
		err = r.action(ctx, s, st)
	case playbooks.KindParallel:
		err = r.parallel(ctx, s)
	case playbooks.KindManual:
		err = r.manual(ctx, s, st)
	case playbooks.KindWait:
		err = r.wait(ctx, s, st)
	case playbooks.KindCall:
		err = r.call(ctx, s, st)
	default:
		err = fmt.Errorf("unknown step kind %q", s.Kind)
	}
	return r.finishStep(ctx, s, st, err)
}

func describeStep(s *playbooks.Step) string {
	switch s.Kind {
	case playbooks.KindAction:
		return s.Action
	case playbooks.KindParallel:
		return fmt.Sprintf("%d steps in parallel", len(s.Parallel))
	case playbooks.KindManual:
		if s.Manual.Role != "" {
			return "manual task for " + s.Manual.Role
		}
		return "manual task"
	case playbooks.KindWait:
		if s.Wait.Signal != "" {
			return "wait for signal " + s.Wait.Signal
		}
		return "wait " + s.Wait.String()
	case playbooks.KindCall:
		return "call " + s.Call.Playbook
	}
	return string(s.Kind)
}

// finishStep records a step's outcome; continue_on_error turns an
// ordinary failure into a recorded one, never a rejection or abort.
func (r *run) finishStep(ctx workflow.Context, s *playbooks.Step, st *StepState, err error) error {
	st.EndedAt = workflow.Now(ctx)
	if err == nil {
		st.Status = StepSucceeded
		r.vars.Steps[s.ID] = playbooks.StepVars{Status: playbooks.StatusSucceeded, Outputs: st.Outputs}
		acted := r.acted[s.ID]
		delete(r.acted, s.ID)
		r.event(ctx, Event{Kind: EventStepSucceeded, Actor: SystemActor, Step: s.ID, Outcome: StepSucceeded, Detail: st.Summary,
			Resource: acted.Resource, RequestIDs: acted.RequestIDs})
		return nil
	}
	var re *runError
	if errors.As(err, &re) && re.status != RunFailed {
		if st.Status != StepRejected {
			st.Status = StepAborted
		}
		st.Error = err.Error()
		return err
	}
	if ctx.Err() != nil {
		st.Status = StepAborted
		st.Error = err.Error()
		return r.abortError(err)
	}
	st.Status = StepFailed
	st.Error = errorMessage(err)
	r.vars.Steps[s.ID] = playbooks.StepVars{Status: playbooks.StatusFailed}
	r.event(ctx, Event{Kind: EventStepFailed, Actor: SystemActor, Step: s.ID, Outcome: StepFailed, Detail: st.Error})
	if s.ContinueOnError {
		return nil
	}
	if errors.As(err, &re) {
		return err
	}
	return &runError{status: RunFailed, step: s.ID, err: errors.New(st.Error)}
}

// errorMessage is err as a responder should read it: Temporal's
// decorations ("activity error (type: ExecuteAction, scheduledEventID:
// …)", "(type: CoreFail, retryable: true)") are replaced by the action's
// own message, and the words that wrapped it are kept.
func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) {
		return strings.Replace(msg, actErr.Error(), causeMessage(actErr.Unwrap()), 1)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return strings.Replace(msg, appErr.Error(), appErr.Message(), 1)
	}
	return msg
}

// causeMessage is what an activity's failure says, without Temporal's
// bookkeeping.
func causeMessage(err error) string {
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case err == nil:
		return "failed"
	case errors.As(err, &appErr):
		return appErr.Message()
	case errors.As(err, &timeoutErr):
		switch timeoutErr.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_HEARTBEAT:
			return "stopped reporting (its worker may have died)"
		default:
			return "timed out"
		}
	case temporal.IsCanceledError(err):
		return "cancelled"
	}
	return err.Error()
}

// idempotencyKey identifies one step of one run for the action's API:
// stable across activity retries and worker crashes, and different for a
// new run that reuses the workflow ID (hence the run ID).
func (r *run) idempotencyKey(ctx workflow.Context, stepID string) string {
	e := workflow.GetInfo(ctx).WorkflowExecution
	return e.ID + "/" + e.RunID + "/" + stepID
}

// incidentKey is the key of the incident the run serves ("" for a run
// started outside one); actions name their AWS sessions after it.
func (r *run) incidentKey() string {
	key, _ := r.in.Incident["key"].(string)
	return key
}

// channel is the Slack channel the run reports to ("" for none).
func (r *run) channel() string {
	if r.in.Slack == nil {
		return ""
	}
	return r.in.Slack.Channel
}

// childID is the workflow ID of a call step's child. Temporal keeps open
// workflow IDs unique, so it needs no run ID, and the child's own actions
// get keys from its own run ID.
func (r *run) childID(ctx workflow.Context, stepID string) string {
	return workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + stepID
}

func activityOptions(s *playbooks.Step) workflow.ActivityOptions {
	timeout := stepTimeout(s)
	return workflow.ActivityOptions{
		// The step's timeout bounds all attempts together.
		ScheduleToCloseTimeout: timeout,
		StartToCloseTimeout:    timeout,
		HeartbeatTimeout:       min(actionHeartbeat, timeout),
		// An aborted action's future waits for its report: it may have
		// made its change anyway (see awaitActivity).
		WaitForCancellation: true,
		RetryPolicy:         retryPolicy(s),
		Summary:             s.ID + ": " + s.Action,
	}
}

func stepTimeout(s *playbooks.Step) time.Duration {
	if s.Timeout > 0 {
		return time.Duration(s.Timeout)
	}
	return defaultStepTimeout
}

// retryPolicy is the step's retry policy, the defaults filled in.
func retryPolicy(s *playbooks.Step) *temporal.RetryPolicy {
	retry := &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    defaultMaxAttempts,
	}
	if s.Retry != nil {
		if s.Retry.MaxAttempts > 0 {
			retry.MaximumAttempts = int32(s.Retry.MaxAttempts)
		}
		if s.Retry.InitialInterval > 0 {
			retry.InitialInterval = time.Duration(s.Retry.InitialInterval)
		}
		if s.Retry.BackoffCoefficient >= 1 {
			retry.BackoffCoefficient = s.Retry.BackoffCoefficient
		}
		if s.Retry.MaxInterval > 0 {
			retry.MaximumInterval = time.Duration(s.Retry.MaxInterval)
		}
	}
	return retry
}

// backoff is the wait after the given failed attempt (1-based), as
// Temporal computes it: initial × coefficient^(attempt-1), capped.
func backoff(p *temporal.RetryPolicy, attempt int) time.Duration {
	d := float64(p.InitialInterval) * math.Pow(p.BackoffCoefficient, float64(attempt-1))
	if d > float64(p.MaximumInterval) {
		return p.MaximumInterval
	}
	return time.Duration(d)
}

// retryable: another attempt might succeed. An action's non-retryable
// error (bad input, say) and a cancellation are final.
func retryable(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return !appErr.NonRetryable()
	}
	return !temporal.IsCanceledError(err)
}

// executeAction runs an action, retrying it by the step's policy. On
// older runs Temporal retries inside one activity, unseen. Runs with
// versionFirstHour retry here, one single-attempt activity per try, so
// every failed attempt is on the timeline with its message and the wait
// before the next; the step's timeout still bounds all attempts.
func (r *run) executeAction(ctx workflow.Context, s *playbooks.Step, in activities.ActionInput, summary string, res *activities.Result, onAbort func(workflow.Context)) settled {
	var steps *activities.Steps
	opts := activityOptions(s)
	opts.Summary = summary
	if !r.firstHour {
		fut := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), steps.ExecuteAction, in)
		return awaitActivity(ctx, fut, res, onAbort)
	}
	policy := retryPolicy(s)
	deadline := workflow.Now(ctx).Add(stepTimeout(s))
	for attempt := 1; ; attempt++ {
		left := deadline.Sub(workflow.Now(ctx))
		opts.ScheduleToCloseTimeout, opts.StartToCloseTimeout = left, left
		opts.HeartbeatTimeout = min(actionHeartbeat, left)
		opts.RetryPolicy = &temporal.RetryPolicy{MaximumAttempts: 1}
		in.Attempt = int32(attempt)
		fut := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), steps.ExecuteAction, in)
		out := awaitActivity(ctx, fut, res, onAbort)
		if out.aborted || out.err == nil || !retryable(out.err) {
			return out
		}
		wait := backoff(policy, attempt)
		switch {
		case attempt >= int(policy.MaximumAttempts):
			if attempt > 1 {
				out.err = fmt.Errorf("%w (attempt %d of %d; no retries left)", out.err, attempt, policy.MaximumAttempts)
			}
			return out
		case !workflow.Now(ctx).Add(wait).Before(deadline):
			out.err = fmt.Errorf("%w (attempt %d of %d; the step's %s timeout ends before another)", out.err, attempt, policy.MaximumAttempts, stepTimeout(s))
			return out
		}
		r.event(ctx, Event{Kind: EventStepRetrying, Actor: SystemActor, Step: s.ID, Outcome: "retrying",
			Detail: fmt.Sprintf("attempt %d of %d failed: %s; retrying in %s", attempt, policy.MaximumAttempts, causeMessage(unwrapActivity(out.err)), wait)})
		if err := workflow.Sleep(ctx, wait); err != nil {
			// Aborted between attempts: nothing is running.
			return settled{err: err}
		}
	}
}

// unwrapActivity is the cause of an activity's failure.
func unwrapActivity(err error) error {
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) {
		return actErr.Unwrap()
	}
	return err
}

// settled is how an activity ended, for awaitActivity.
type settled struct {
	err error
	// aborted: ctx was cancelled while the activity ran, and the run
	// waited for its report.
	aborted bool
	// silent: it had not reported abortGrace after the abort.
	silent bool
}

// awaitActivity waits for fut, an activity scheduled on ctx with
// WaitForCancellation. Without an abort that is fut.Get. When ctx is
// cancelled first, Temporal asks the activity to stop (it learns at its
// next heartbeat) and fut resolves only once the activity reports: it
// stopped, it finished anyway, or it failed. This waits for that report at
// most abortGrace, so a change made despite the abort is known. onAbort,
// if set, runs when the abort is seen.
func awaitActivity(ctx workflow.Context, fut workflow.Future, valuePtr any, onAbort func(workflow.Context)) settled {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var out settled
	reported := false
	get := func(f workflow.Future) { out.err = f.Get(dctx, valuePtr); reported = true }
	sel := workflow.NewSelector(dctx)
	sel.AddFuture(fut, get)
	sel.AddReceive(ctx.Done(), func(c workflow.ReceiveChannel, _ bool) { c.Receive(dctx, nil) })
	sel.Select(dctx)
	if reported {
		return out
	}
	if workflow.GetVersion(dctx, versionAbortWaits, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		// Older code saw the activity as cancelled at once.
		return settled{err: temporal.NewCanceledError()}
	}
	out.aborted = true
	if onAbort != nil {
		onAbort(dctx)
	}
	timerCtx, stopTimer := workflow.WithCancel(dctx)
	sel = workflow.NewSelector(dctx)
	sel.AddFuture(fut, get)
	sel.AddFuture(workflow.NewTimer(timerCtx, abortGrace), func(workflow.Future) {})
	sel.Select(dctx)
	stopTimer()
	out.silent = !reported
	return out
}

func (r *run) action(ctx workflow.Context, s *playbooks.Step, st *StepState) error {
	with, err := r.eval.Render(s.With, r.vars)
	if err != nil {
		return fmt.Errorf("render with: %w", err)
	}
	key := r.idempotencyKey(ctx, s.ID)
	if s.Approval != nil {
		if err := r.approve(ctx, s, st, with, key); err != nil {
			return err
		}
	}
	var res activities.Result
	in := activities.ActionInput{Action: s.Action, StepID: s.ID, IdempotencyKey: key, With: with, Incident: r.incidentKey(), Channel: r.channel()}
	out := r.executeAction(ctx, s, in, s.ID+": "+s.Action, &res, func(ctx workflow.Context) {
		r.event(ctx, Event{Kind: EventActionStopRequested, Actor: SystemActor, Step: s.ID, Outcome: "waiting",
			Detail: fmt.Sprintf("asked %s to stop; waiting up to %s for it to report back", s.Action, abortGrace)})
	})
	if out.aborted {
		if err := r.afterAbort(ctx, s, with, out); err != nil {
			return err
		}
	} else if out.err != nil {
		return out.err
	}
	st.Summary = res.Summary
	st.Outputs = res.Outputs
	r.outcomes[s.ID] = res.Outputs
	r.done = append(r.done, doneStep{step: s, with: with})
	// What it acted on and the API's request IDs go on the step's one step_succeeded event.
	if res.Resource != "" || len(res.RequestIDs) > 0 {
		r.acted[s.ID] = Event{Resource: res.Resource, RequestIDs: res.RequestIDs}
	}
	return nil
}

// afterAbort records what a running action did about an abort, and
// whether its step counts as done. A change it made anyway, or may have
// made, is compensated with the other done steps when the playbook rolls
// back (compensations are idempotent, so undoing a change that never
// happened is harmless); one that stopped or failed is not.
func (r *run) afterAbort(ctx workflow.Context, s *playbooks.Step, with map[string]any, out settled) error {
	e := Event{Kind: EventActionStopOutcome, Actor: SystemActor, Step: s.ID}
	var timeout *temporal.TimeoutError
	switch {
	case out.silent:
		e.Outcome = stopUnknown
		e.Detail = fmt.Sprintf("%s did not report back within %s of the abort; it may have made its change, or still be making it", s.Action, abortGrace)
	case out.err == nil:
		e.Outcome = stopCompleted
		e.Detail = s.Action + " finished its change before it could stop; the step counts as done"
	case temporal.IsCanceledError(out.err):
		e.Outcome = stopCancelled
		e.Detail = s.Action + " stopped before making its change; nothing to undo"
	case errors.As(out.err, &timeout):
		e.Outcome = stopUnknown
		e.Detail = fmt.Sprintf("%s %s after the abort; it may have made its change", s.Action, errorMessage(out.err))
	default:
		e.Outcome = stopFailed
		e.Detail = fmt.Sprintf("%s failed after the abort (%s); a failed step is not undone", s.Action, errorMessage(out.err))
	}
	if e.Outcome == stopCompleted || e.Outcome == stopUnknown {
		e.Detail += "; " + r.undoNote(s, e.Outcome == stopUnknown)
	}
	r.event(ctx, e)
	switch e.Outcome {
	case stopCompleted:
		return nil
	case stopUnknown:
		r.done = append(r.done, doneStep{step: s, with: with, uncertain: true})
		return errors.New("outcome unknown: " + e.Detail)
	default:
		return out.err
	}
}

// undoNote says what will become of a change an aborted action made.
func (r *run) undoNote(s *playbooks.Step, uncertain bool) string {
	switch {
	case s.Compensate == nil:
		return "it declares no compensation: nothing to undo if it only reads (a sweep, a describe), otherwise check it by hand"
	case r.pb.OnFailure != playbooks.OnFailureRollback:
		return "the playbook does not roll back (on_failure: " + r.pb.OnFailure + "): undo it by hand if needed"
	case uncertain:
		return "rollback runs its compensation " + s.Compensate.Action + " anyway (compensations are idempotent)"
	default:
		return "rollback undoes it with " + s.Compensate.Action
	}
}

func (r *run) planAction(ctx workflow.Context, s *playbooks.Step, with map[string]any, key string) (activities.Plan, error) {
	var steps *activities.Steps
	var p activities.Plan
	opts := activityOptions(s)
	opts.Summary = s.ID + ": plan " + s.Action
	fut := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), steps.PlanAction, activities.ActionInput{
		Action: s.Action, StepID: s.ID, IdempotencyKey: key, With: with, Incident: r.incidentKey(), Channel: r.channel(),
	})
	// A plan changes nothing: after an abort it only needs to have ended.
	out := awaitActivity(ctx, fut, &p, nil)
	if out.aborted && out.err == nil {
		out.err = temporal.NewCanceledError()
	}
	return p, out.err
}

// approve plans the step, opens its gate and waits for the verdict.
func (r *run) approve(ctx workflow.Context, s *playbooks.Step, st *StepState, with map[string]any, key string) error {
	a := s.Approval
	p, err := r.planAction(ctx, s, with, key)
	if err != nil {
		return fmt.Errorf("plan for approval: %w", err)
	}
	users, err := r.approvalUsers(a)
	if err != nil {
		return err
	}
	resolved, err := r.resolveGate(ctx, gateInput(a, users))
	if err != nil {
		return fmt.Errorf("resolve approvers: %w", err)
	}
	mode := resolved.CLIApprovals
	if mode == "" { // resolved by a worker that predates access.cli
		mode = activities.CLIApprovalsOne
	}
	min := max(a.Min, 1)
	eligible := resolved.Members
	if r.firstHour {
		// Who may vote: the requester is left out unless allow_requester,
		// so nobody is listed only to be refused.
		eligible = r.eligible(a, resolved.Members)
		if len(eligible) < min {
			return errors.New(r.tooFewApprovers(a, min, users, eligible, resolved))
		}
	}
	g := &gate{
		step:             s,
		requester:        r.in.Requester,
		requesterClaimed: r.in.Origin != originSlack,
		allowSelf:        a.AllowRequester,
		votes:            map[string]bool{},
		cliKeys:          resolved.CLIKeys,
		state: &ApprovalState{
			Plan: p, PlanHash: PlanHash(s.Action, with, p), Group: a.Group,
			Eligible: eligible, Min: min, Open: true, CLIApprovals: mode,
		},
	}
	if a.Timeout > 0 {
		g.state.Deadline = workflow.Now(ctx).Add(time.Duration(a.Timeout))
	}
	st.Approval = g.state
	st.Status = StepAwaitingApproval
	r.gates[s.ID] = g
	detail := fmt.Sprintf("%s; needs %d of %s; plan %s", p.Summary, min, approverLabel(a), g.state.PlanHash[:12])
	if r.firstHour {
		detail = fmt.Sprintf("%s; needs %d of %s%s; plan %s", p.Summary, min, strings.Join(eligible, ", "), unknownNote(resolved.UnknownGroups), g.state.PlanHash[:12])
	}
	r.event(ctx, Event{Kind: EventApprovalRequested, Actor: SystemActor, Step: s.ID, Detail: detail})
	msgTS := r.notify.askApproval(ctx, st)
	defer func() {
		g.state.Open = false
		r.notify.approvalClosed(ctx, st, msgTS)
	}()

	decided := func() bool { return g.state.RejectedBy != "" || len(g.state.Approvers) >= min }
	if a.Timeout <= 0 {
		if err := workflow.Await(ctx, decided); err != nil {
			return err
		}
	} else {
		ok, err := workflow.AwaitWithTimeout(ctx, time.Duration(a.Timeout), decided)
		if err != nil {
			return err
		}
		if !ok && a.OnTimeout == playbooks.OnTimeoutEscalate {
			if err := r.escalate(ctx, s, g); err != nil {
				return err
			}
			ok, err = workflow.AwaitWithTimeout(ctx, time.Duration(a.Timeout), decided)
			if err != nil {
				return err
			}
		}
		if !ok {
			st.Status = StepAborted
			r.event(ctx, Event{Kind: EventApprovalTimedOut, Actor: SystemActor, Step: s.ID, Outcome: "aborted",
				Detail: fmt.Sprintf("%d of %d approvals after %s", len(g.state.Approvers), min, a.Timeout)})
			return &runError{status: RunAborted, step: s.ID, err: errors.New("approval timed out")}
		}
	}
	if g.state.RejectedBy != "" {
		st.Status = StepRejected
		return &runError{status: RunRejected, step: s.ID, err: fmt.Errorf("rejected by %s", g.state.RejectedBy)}
	}
	st.Status = StepRunning
	r.event(ctx, Event{Kind: EventApprovalGranted, Actor: SystemActor, Step: s.ID, Outcome: "approved",
		Detail: fmt.Sprintf("approved by %v", g.state.Approvers)})
	return nil
}

// approvalUsers are the step's named approvers: approval.users, or the
// list its template gives now.
func (r *run) approvalUsers(a *playbooks.Approval) ([]string, error) {
	if a.UsersFrom == "" {
		return a.Users, nil
	}
	out, err := r.eval.Render(map[string]any{"approval.users": a.UsersFrom}, r.vars)
	if err != nil {
		return nil, err
	}
	var users []string
	switch v := out["approval.users"].(type) {
	case string:
		users = []string{v}
	case []any:
		for _, u := range v {
			name, ok := u.(string)
			if !ok {
				return nil, fmt.Errorf("approval.users: %s gave %v, want a list of user names", a.UsersFrom, v)
			}
			users = append(users, name)
		}
	case nil:
	default:
		return nil, fmt.Errorf("approval.users: %s gave %v, want a list of user names", a.UsersFrom, v)
	}
	var clean []string
	for _, u := range users {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(clean, u) {
			clean = append(clean, u)
		}
	}
	return clean, nil
}

func gateInput(a *playbooks.Approval, users []string) activities.ResolveApproversInput {
	in := activities.ResolveApproversInput{Users: users}
	if a.Group != "" {
		in.Groups = []string{a.Group}
	}
	if a.OnTimeout == playbooks.OnTimeoutEscalate && a.Escalate != "" {
		in.KeyGroups = []string{a.Escalate}
	}
	return in
}

// eligible is who may vote on the gate: its members, without the
// requester unless the step allows self-approval.
func (r *run) eligible(a *playbooks.Approval, members []string) []string {
	if a.AllowRequester || r.in.Requester == "" {
		return slices.Clone(members)
	}
	return slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == r.in.Requester })
}

// tooFewApprovers explains a gate that could never open.
func (r *run) tooFewApprovers(a *playbooks.Approval, min int, users, eligible []string, res activities.ResolveApproversResult) string {
	who := "nobody may approve it"
	if len(eligible) > 0 {
		who = "only " + strings.Join(eligible, ", ") + " may approve it"
	}
	var why []string
	for _, g := range res.UnknownGroups {
		why = append(why, fmt.Sprintf("approver group %q is not configured on this worker (access.groups.%s in firebreak.yaml)", g, g))
	}
	if slices.Contains(res.Members, r.in.Requester) && !slices.Contains(eligible, r.in.Requester) {
		why = append(why, fmt.Sprintf("%s requested the run and may not approve it (the step does not set allow_requester)", r.in.Requester))
	}
	if a.UsersFrom != "" {
		why = append(why, fmt.Sprintf("approval.users %s gave %d name(s)", a.UsersFrom, len(users)))
	}
	msg := fmt.Sprintf("needs %d approval(s) but %s", min, who)
	if len(why) > 0 {
		msg += ": " + strings.Join(why, "; ")
	}
	return msg
}

// unknownNote mentions approver groups the worker does not know.
func unknownNote(groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return fmt.Sprintf(" (group %s is not configured here and adds nobody)", strings.Join(groups, ", "))
}

func approverLabel(a *playbooks.Approval) string {
	switch {
	case a.UsersFrom != "" && a.Group != "":
		return fmt.Sprintf("group %s or %s", a.Group, a.UsersFrom)
	case a.UsersFrom != "":
		return a.UsersFrom
	case a.Group != "" && len(a.Users) > 0:
		return fmt.Sprintf("group %s or %v", a.Group, a.Users)
	case a.Group != "":
		return "group " + a.Group
	default:
		return fmt.Sprintf("%v", a.Users)
	}
}

// escalate widens the approvers to the escalation group for one more timeout.
func (r *run) escalate(ctx workflow.Context, s *playbooks.Step, g *gate) error {
	a := s.Approval
	g.state.Escalated = true
	g.state.Deadline = workflow.Now(ctx).Add(time.Duration(a.Timeout))
	unknown := ""
	if a.Escalate != "" {
		res, err := r.resolveGate(ctx, activities.ResolveApproversInput{Groups: []string{a.Escalate}})
		if err != nil {
			return fmt.Errorf("resolve escalation group: %w", err)
		}
		more := res.Members
		if r.firstHour {
			more = r.eligible(a, more)
			unknown = unknownNote(res.UnknownGroups)
		}
		for _, m := range more {
			if !slices.Contains(g.state.Eligible, m) {
				g.state.Eligible = append(g.state.Eligible, m)
			}
		}
		slices.Sort(g.state.Eligible)
	}
	r.event(ctx, Event{Kind: EventApprovalEscalated, Actor: SystemActor, Step: s.ID, Resource: a.Escalate,
		Detail: fmt.Sprintf("no decision after %s; escalated to %s%s for another %s", a.Timeout, orNone(a.Escalate), unknown, a.Timeout)})
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "the same approvers"
	}
	return "group " + s
}

// resolveGate asks the worker for a gate's approvers and its CLI policy
// (the worker's configuration is authoritative for both).
func (r *run) resolveGate(ctx workflow.Context, in activities.ResolveApproversInput) (activities.ResolveApproversResult, error) {
	var steps *activities.Steps
	var res activities.ResolveApproversResult
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
	})
	if err := workflow.ExecuteActivity(actx, steps.ResolveApprovers, in).Get(ctx, &res); err != nil {
		return activities.ResolveApproversResult{}, err
	}
	return res, nil
}

// parallel runs a group's steps concurrently and waits for all of them;
// the group fails if any member failed without continue_on_error.
func (r *run) parallel(ctx workflow.Context, s *playbooks.Step) error {
	wg := workflow.NewWaitGroup(ctx)
	errs := make([]error, len(s.Parallel))
	for i := range s.Parallel {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			errs[i] = r.runStep(ctx, &s.Parallel[i])
		})
	}
	wg.Wait(ctx)
	// Report the most serious outcome: an abort or rejection beats a failure.
	var first error
	for _, err := range errs {
		var re *runError
		if errors.As(err, &re) && re.status != RunFailed {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func (r *run) manual(ctx workflow.Context, s *playbooks.Step, st *StepState) error {
	task, err := r.eval.RenderString(s.Manual.Task, r.vars)
	if err != nil {
		return fmt.Errorf("render task: %w", err)
	}
	st.Task = task
	st.Status = StepAwaitingTask
	r.tasks[s.ID] = true
	r.event(ctx, Event{Kind: EventTaskAssigned, Actor: SystemActor, Step: s.ID, Resource: s.Manual.Role, Detail: task})
	return r.awaitStep(ctx, s, func() bool { return !r.tasks[s.ID] })
}

func (r *run) wait(ctx workflow.Context, s *playbooks.Step, st *StepState) error {
	st.Status = StepWaiting
	if s.Wait.Signal == "" && (s.Wait.DurationExpr != "" || s.Wait.Extendable) {
		return r.timedWait(ctx, s, st)
	}
	if s.Wait.Signal == "" {
		// Literal waits keep their single Sleep: runs recorded before
		// extendable waits existed replay the same commands.
		st.Until = workflow.Now(ctx).Add(time.Duration(s.Wait.Duration))
		r.event(ctx, Event{Kind: EventWaitStarted, Actor: SystemActor, Step: s.ID, Detail: "for " + s.Wait.Duration.String()})
		return workflow.Sleep(ctx, time.Duration(s.Wait.Duration))
	}
	st.Signal = s.Wait.Signal
	r.event(ctx, Event{Kind: EventWaitStarted, Actor: SystemActor, Step: s.ID, Detail: "for signal " + s.Wait.Signal})
	return r.awaitStep(ctx, s, func() bool { return r.signals[s.Wait.Signal] })
}

// timedWait waits for a duration known when the step starts (a template,
// say) and, when the step is extendable, until an end that extend_wait may
// move later: each move restarts the timer for what is left. Only
// playbooks that older code could not load reach it, so it needs no
// version gate.
func (r *run) timedWait(ctx workflow.Context, s *playbooks.Step, st *StepState) error {
	d, err := r.waitDuration(s)
	if err != nil {
		return err
	}
	start := workflow.Now(ctx)
	st.Until = start.Add(d)
	detail := fmt.Sprintf("for %s, until %s", playbooks.Duration(d), stamp(st.Until))
	if s.Wait.Extendable {
		limit := s.Wait.Limit()
		if d > limit {
			return fmt.Errorf("wait.duration %s gave %s, longer than wait.max (%s)", cmp.Or(s.Wait.DurationExpr, s.Wait.Duration.String()), playbooks.Duration(d), playbooks.Duration(limit))
		}
		st.Extendable, st.Latest = true, start.Add(limit)
		r.waits[s.ID] = &timedWait{step: s, state: st}
		defer delete(r.waits, s.ID)
		detail += fmt.Sprintf("; extendable up to %s in all (until %s)", playbooks.Duration(limit), stamp(st.Latest))
	}
	r.event(ctx, Event{Kind: EventWaitStarted, Actor: SystemActor, Step: s.ID, Detail: detail})
	for {
		left := st.Until.Sub(workflow.Now(ctx))
		if left <= 0 {
			return nil
		}
		until := st.Until
		fired, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      left,
			TimerOptions: workflow.TimerOptions{Summary: s.ID + ": wait until " + stamp(until)},
		}, func() bool { return !st.Until.Equal(until) })
		if err != nil {
			return err
		}
		// An extension accepted in the same task as the timer fired still
		// counts: only an unchanged end is the end.
		if !fired && st.Until.Equal(until) {
			return nil
		}
	}
}

// waitDuration is a timed wait's duration: the literal, or its template
// rendered now and parsed, refused unless positive.
func (r *run) waitDuration(s *playbooks.Step) (time.Duration, error) {
	w := s.Wait
	if w.DurationExpr == "" {
		return time.Duration(w.Duration), nil
	}
	text, err := r.eval.RenderString(w.DurationExpr, r.vars)
	if err != nil {
		return 0, fmt.Errorf("render wait.duration: %w", err)
	}
	d, err := playbooks.ParseDuration(strings.TrimSpace(text))
	if err != nil {
		return 0, fmt.Errorf("wait.duration %s: %w", w.DurationExpr, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("wait.duration %s gave %q: a wait must be longer than 0s", w.DurationExpr, text)
	}
	return time.Duration(d), nil
}

// stamp formats a time for the timeline and messages.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// awaitStep waits for cond, bounded by the step's timeout when it has one.
func (r *run) awaitStep(ctx workflow.Context, s *playbooks.Step, cond func() bool) error {
	if s.Timeout <= 0 {
		return workflow.Await(ctx, cond)
	}
	ok, err := workflow.AwaitWithTimeout(ctx, time.Duration(s.Timeout), cond)
	if err != nil {
		return err
	}
	if !ok {
		delete(r.tasks, s.ID)
		return fmt.Errorf("timed out after %s", s.Timeout)
	}
	return nil
}

func (r *run) call(ctx workflow.Context, s *playbooks.Step, st *StepState) error {
	callee, ok := r.pb.Callee(s.Call.Playbook)
	if !ok {
		return temporal.NewNonRetryableApplicationError("unknown playbook "+s.Call.Playbook, "BadInput", nil)
	}
	with, err := r.eval.Render(s.Call.With, r.vars)
	if err != nil {
		return fmt.Errorf("render call inputs: %w", err)
	}
	inputs, err := resolveInputs(callee, with)
	if err != nil {
		return fmt.Errorf("inputs of %s: %w", callee.Metadata.Name, err)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: r.childID(ctx, s.ID),
	})
	var res PlaybookResult
	err = workflow.ExecuteChildWorkflow(cctx, PlaybookWorkflow, PlaybookInput{
		Playbook: callee, Inputs: inputs, Mode: r.mode(), Requester: r.in.Requester,
		Origin: r.origin, Incident: r.in.Incident, Config: r.in.Config,
	}).Get(ctx, &res)
	if err != nil {
		return err
	}
	st.Summary = fmt.Sprintf("%s %s", callee.Metadata.Name, res.Status)
	outputs := map[string]any{}
	// Copying into a map: the order of iteration cannot show.
	//workflowcheck:ignore
	for id, o := range res.Outputs {
		outputs[id] = o
	}
	st.Outputs = outputs
	r.outcomes[s.ID] = outputs
	if res.Status != RunSucceeded {
		status := res.Status
		if status != RunRejected && status != RunAborted {
			status = RunFailed
		}
		return &runError{status: status, step: s.ID, err: fmt.Errorf("%s %s: %s", callee.Metadata.Name, res.Status, res.Error)}
	}
	return nil
}

// rollback runs compensations of completed action steps in reverse order,
// recording each outcome; a failed compensation does not stop the others.
func (r *run) rollback(ctx workflow.Context) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	var todo []doneStep
	for _, d := range slices.Backward(r.done) {
		if d.step.Compensate != nil {
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return
	}
	r.event(ctx, Event{Kind: EventRollbackStarted, Actor: SystemActor, Detail: fmt.Sprintf("%d compensations", len(todo))})
	failed := 0
	for _, d := range todo {
		if err := r.compensate(ctx, d); err != nil {
			failed++
		}
	}
	r.event(ctx, Event{Kind: EventRollbackFinished, Actor: SystemActor, Outcome: fmt.Sprintf("%d of %d compensations failed", failed, len(todo))})
}

func (r *run) compensate(ctx workflow.Context, d doneStep) error {
	s, st := d.step, r.byID[d.step.ID]
	c := s.Compensate
	with, inherited := d.with, true
	if c.With != nil {
		inherited = false
		var err error
		if with, err = r.eval.Render(c.With, r.vars); err != nil {
			st.Status = StepCompensationFailed
			st.Error = "render compensate.with: " + err.Error()
			r.event(ctx, Event{Kind: EventCompensationFailed, Actor: SystemActor, Step: s.ID, Outcome: StepCompensationFailed, Detail: st.Error})
			return err
		}
	}
	detail := c.Action
	if d.uncertain {
		detail += " (the step may not have made its change; compensations are idempotent)"
	}
	r.event(ctx, Event{Kind: EventCompensationStarted, Actor: SystemActor, Step: s.ID, Detail: detail})
	var res activities.Result
	err := r.executeAction(ctx, s, activities.ActionInput{
		Action: c.Action, StepID: s.ID, IdempotencyKey: r.idempotencyKey(ctx, s.ID) + "/compensate", With: with, Inherited: inherited,
		Incident: r.incidentKey(), Channel: r.channel(),
	}, s.ID+": compensate with "+c.Action, &res, nil).err
	if err != nil {
		st.Status = StepCompensationFailed
		st.Error = errorMessage(err)
		r.event(ctx, Event{Kind: EventCompensationFailed, Actor: SystemActor, Step: s.ID, Outcome: StepCompensationFailed, Detail: st.Error})
		return err
	}
	st.Status = StepCompensated
	r.event(ctx, Event{Kind: EventCompensationDone, Actor: SystemActor, Step: s.ID, Outcome: StepCompensated,
		Detail: res.Summary, Resource: res.Resource, RequestIDs: res.RequestIDs})
	return nil
}

// report tells the incident how the run ended. The incident may have
// been resolved or reset meanwhile; a run must still finish, so a failed
// signal is logged, not returned.
func (r *run) report(ctx workflow.Context, res PlaybookResult) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.SignalExternalWorkflow(ctx, r.in.ReportTo, "", SignalRunFinished, RunFinished{
		RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, Status: res.Status, Error: res.Error, Plan: res.Plan, Timeline: res.Timeline,
	}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not report to incident", "incident", r.in.ReportTo, "err", err)
	}
}
