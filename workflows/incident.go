package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// maxHistoryEvents is where an incident continues as new even if the
// server has not suggested it yet; long incidents collect many notes.
const maxHistoryEvents = 10000

// sweepEvery is how often an incident looks at runs it inherited from an
// earlier generation (whose child futures it no longer holds), to notice
// one that ended without reporting back.
const sweepEvery = time.Minute

// incident is one IncidentWorkflow run's state and handlers.
type incident struct {
	in     IncidentInput
	st     *IncidentState
	active map[string]bool // run IDs still running
	// watched are the runs this generation started: their child futures
	// tell when they end, reported or not; ended collects those endings
	// for the main loop.
	watched map[string]bool
	ended   []endedRun
	// noticeLost gates the above for histories recorded before it.
	noticeLost bool
	// dirty says the Slack summary needs a refresh.
	dirty bool
}

// endedRun is a run whose child future resolved.
type endedRun struct {
	id  string
	res PlaybookResult
	err error
}

// IncidentWorkflow is one incident from declaration to resolution: its
// severity, status, roles, channel, playbook runs and timeline. People
// change it through updates (validated, so a refusal never reaches
// history); runs report back by signal. It continues as new before its
// history grows large, carrying the whole state forward.
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) (IncidentState, error) {
	inc := &incident{in: in, active: map[string]bool{}, watched: map[string]bool{}}
	fresh := in.State == nil
	if fresh {
		if in.Key == "" || in.Title == "" {
			return IncidentState{}, temporal.NewNonRetryableApplicationError("an incident needs a key and a title", "BadInput", nil)
		}
		inc.st = &IncidentState{
			Key: in.Key, Title: in.Title, Severity: normalizeSeverity(in.Severity), Status: StatusDeclared,
			Roles: map[string]string{}, DeclaredBy: in.DeclaredBy, DeclaredAt: workflow.Now(ctx),
			Private: in.Slack != nil && in.Slack.Private,
		}
	} else {
		inc.st = in.State
		inc.st.Generation++
		for _, r := range inc.st.Runs {
			if r.EndedAt.IsZero() {
				inc.active[r.ID] = true
			}
		}
	}
	if err := inc.register(ctx); err != nil {
		return IncidentState{}, err
	}
	if err := inc.upsertSearch(ctx); err != nil {
		return IncidentState{}, err
	}
	if fresh {
		inc.event(ctx, Event{Kind: EventDeclared, Actor: orSystem(in.DeclaredBy), Origin: in.Origin,
			Detail: fmt.Sprintf("%s: %s", inc.st.Severity, inc.st.Title)})
		if in.Slack != nil {
			inc.openChannel(ctx)
		}
		if in.Run != nil {
			// The playbook asked for at declare time belongs to the new
			// channel, and passes the same checks as one asked for there.
			run := *in.Run
			run.Channel = inc.st.Channel
			err := inc.validateRun(ctx, run)
			if err == nil {
				_, err = inc.startRun(ctx, run)
			}
			if err != nil {
				inc.event(ctx, Event{Kind: EventRunRequested, Actor: run.Actor, Origin: run.Origin, Outcome: "refused", Detail: err.Error()})
			}
		}
	}
	runs := workflow.GetSignalChannel(ctx, SignalRunFinished)
	// Runs that end without reporting back are noticed (issue: a run that
	// never reports kept the incident from resolving forever).
	inc.noticeLost = workflow.GetVersion(ctx, "lost-runs", workflow.DefaultVersion, 1) == 1
	for {
		wake := func() bool {
			return runs.Len() > 0 || inc.dirty || inc.done() || inc.tooLong(ctx) || len(inc.ended) > 0
		}
		if inc.noticeLost && len(inc.unwatched()) > 0 {
			ok, err := workflow.AwaitWithTimeout(ctx, sweepEvery, wake)
			if err != nil {
				return *inc.st, err
			}
			if !ok {
				inc.sweep(ctx)
			}
		} else if err := workflow.Await(ctx, wake); err != nil {
			return *inc.st, err
		}
		var f RunFinished
		for runs.ReceiveAsync(&f) {
			inc.runFinished(ctx, f)
			f = RunFinished{}
		}
		// After the reports: a run reports before it ends, so one that is
		// still active here ended without reporting.
		inc.reapEnded(ctx)
		if inc.dirty {
			inc.dirty = false
			inc.refreshSummary(ctx)
		}
		if inc.done() {
			break
		}
		if inc.tooLong(ctx) {
			return IncidentState{}, inc.continueAsNew(ctx, runs)
		}
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return *inc.st, nil
}

func (inc *incident) done() bool {
	return inc.st.Status == StatusResolved && len(inc.active) == 0
}

func (inc *incident) tooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistoryEvents
}

// continueAsNew hands the state to a fresh run once every update handler
// has finished and every buffered signal has been applied, so nothing
// sent to this run is lost.
func (inc *incident) continueAsNew(ctx workflow.Context, runs workflow.ReceiveChannel) error {
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	for {
		var f RunFinished
		if !runs.ReceiveAsync(&f) {
			break
		}
		inc.runFinished(ctx, f)
	}
	inc.reapEnded(ctx)
	next := inc.in
	next.State = inc.st
	next.Run = nil
	return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, next)
}

func (inc *incident) event(ctx workflow.Context, e Event) {
	e.Seq = len(inc.st.Timeline) + 1
	e.Time = workflow.Now(ctx)
	if e.Origin == "" {
		e.Origin = inc.in.Origin
	}
	if e.Actor == "" {
		e.Actor = SystemActor
	}
	inc.st.Timeline = append(inc.st.Timeline, e)
}

func (inc *incident) upsertSearch(ctx workflow.Context) error {
	return workflow.UpsertTypedSearchAttributes(ctx,
		SeverityKey.ValueSet(inc.st.Severity),
		StatusKey.ValueSet(inc.st.Status),
	)
}

func normalizeSeverity(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "SEV") {
		s = "SEV" + s
	}
	if slices.Contains(Severities(), s) {
		return s
	}
	return "SEV3"
}

func (inc *incident) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func(q QueryRequest) (IncidentState, error) {
		if err := inc.allow(policy.ReadStatus, q.actor()); err != nil {
			return IncidentState{}, err
		}
		cp := *inc.st
		cp.Timeline = nil // the timeline query returns it
		return cp, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryTimeline, func(q QueryRequest) ([]Event, error) {
		if err := inc.allow(policy.ReadTimeline, q.actor()); err != nil {
			return nil, err
		}
		return slices.Clone(inc.st.Timeline), nil
	}); err != nil {
		return err
	}
	type handler struct {
		name     string
		fn       func(workflow.Context, ChangeRequest) (IncidentState, error)
		validate func(workflow.Context, ChangeRequest) error
	}
	for _, h := range []handler{
		{UpdateNote, inc.note, inc.validateNote},
		{UpdateSetRole, inc.setRole, inc.validateRole},
		{UpdateSetSeverity, inc.setSeverity, inc.validateSeverity},
		{UpdateSetStatus, inc.setStatus, inc.validateStatus},
		{UpdateResolve, inc.resolve, inc.validateResolve},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.fn, workflow.UpdateHandlerOptions{Validator: h.validate}); err != nil {
			return err
		}
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRunPlaybook, inc.startRun,
		workflow.UpdateHandlerOptions{Validator: inc.validateRun})
}

// allow asks the policy with what the incident knows itself: its
// commander, its bound channel and whether it is private.
func (inc *incident) allow(op policy.Op, a policy.Actor) error {
	return policy.Decide(op, a, &policy.Incident{
		Key: inc.st.Key, Commander: inc.st.Roles[RoleCommander], KnowsCommander: true,
		Channel: inc.st.Channel, Private: inc.st.Private,
	})
}

func (inc *incident) notResolved() error {
	if inc.st.Status == StatusResolved {
		return fmt.Errorf("%s is resolved", inc.st.Key)
	}
	return nil
}

func (inc *incident) validateNote(_ workflow.Context, r ChangeRequest) error {
	if err := inc.allow(policy.Note, r.actor()); err != nil {
		return err
	}
	if strings.TrimSpace(r.Text) == "" {
		return errors.New("a note needs text")
	}
	return nil
}

func (inc *incident) note(ctx workflow.Context, r ChangeRequest) (IncidentState, error) {
	inc.event(ctx, Event{Kind: EventNote, Actor: r.Actor, Origin: r.Origin, Detail: r.Text, Resource: r.Source})
	return inc.view(), nil
}

func (inc *incident) validateRole(_ workflow.Context, r ChangeRequest) error {
	if !slices.Contains(IncidentRoles(), r.Role) {
		return fmt.Errorf("unknown role %q: use %s", r.Role, strings.Join(IncidentRoles(), ", "))
	}
	// Taking the commander role needs commander rights, or the current
	// commander handing over: it grants abort and resolve.
	if err := inc.allow(policy.RoleOp(r.Role), r.actor()); err != nil {
		return err
	}
	if strings.TrimSpace(r.User) == "" {
		return fmt.Errorf("say who takes the %s role", r.Role)
	}
	return inc.notResolved()
}

func (inc *incident) setRole(ctx workflow.Context, r ChangeRequest) (IncidentState, error) {
	prev := inc.st.Roles[r.Role]
	inc.st.Roles[r.Role] = r.User
	detail := fmt.Sprintf("%s is %s", r.User, r.Role)
	if prev != "" && prev != r.User {
		detail += " (was " + prev + ")"
	}
	inc.event(ctx, Event{Kind: EventRoleAssigned, Actor: r.Actor, Origin: r.Origin, Detail: detail, Resource: r.User})
	inc.dirty = true
	return inc.view(), nil
}

func (inc *incident) validateSeverity(_ workflow.Context, r ChangeRequest) error {
	if err := inc.allow(policy.Severity, r.actor()); err != nil {
		return err
	}
	if !slices.Contains(Severities(), r.Value) {
		return fmt.Errorf("unknown severity %q: use %s", r.Value, strings.Join(Severities(), ", "))
	}
	if r.Value == inc.st.Severity {
		return fmt.Errorf("%s is already %s", inc.st.Key, r.Value)
	}
	return inc.notResolved()
}

func (inc *incident) setSeverity(ctx workflow.Context, r ChangeRequest) (IncidentState, error) {
	inc.event(ctx, Event{Kind: EventSeverityChanged, Actor: r.Actor, Origin: r.Origin, Detail: inc.st.Severity + " → " + r.Value})
	inc.st.Severity = r.Value
	inc.dirty = true
	return inc.view(), inc.upsertSearch(ctx)
}

func (inc *incident) validateStatus(_ workflow.Context, r ChangeRequest) error {
	if err := inc.allow(policy.Status, r.actor()); err != nil {
		return err
	}
	if r.Value == StatusResolved {
		return errors.New("use resolve to resolve an incident")
	}
	if !slices.Contains(IncidentStatuses(), r.Value) {
		return fmt.Errorf("unknown status %q: use %s", r.Value, strings.Join(IncidentStatuses()[:4], ", "))
	}
	return inc.notResolved()
}

func (inc *incident) setStatus(ctx workflow.Context, r ChangeRequest) (IncidentState, error) {
	inc.event(ctx, Event{Kind: EventStatusChanged, Actor: r.Actor, Origin: r.Origin, Detail: inc.st.Status + " → " + r.Value})
	inc.st.Status = r.Value
	inc.dirty = true
	return inc.view(), inc.upsertSearch(ctx)
}

func (inc *incident) validateResolve(_ workflow.Context, r ChangeRequest) error {
	if err := inc.allow(policy.Resolve, r.actor()); err != nil {
		return err
	}
	if err := inc.notResolved(); err != nil {
		return err
	}
	var running []string
	for _, ref := range inc.st.Runs {
		if inc.active[ref.ID] {
			running = append(running, ref.Playbook+" ("+ref.ID+")")
		}
	}
	if len(running) > 0 {
		return fmt.Errorf("playbooks are still running: %s; abort them or wait", strings.Join(running, ", "))
	}
	return nil
}

func (inc *incident) resolve(ctx workflow.Context, r ChangeRequest) (IncidentState, error) {
	inc.st.Status = StatusResolved
	inc.st.ResolvedAt = workflow.Now(ctx)
	inc.st.Summary = r.Text
	inc.event(ctx, Event{Kind: EventResolved, Actor: r.Actor, Origin: r.Origin, Outcome: StatusResolved, Detail: r.Text})
	inc.dirty = true
	return inc.view(), inc.upsertSearch(ctx)
}

func (inc *incident) view() IncidentState {
	cp := *inc.st
	cp.Timeline = nil
	return cp
}

func (inc *incident) validateRun(_ workflow.Context, r RunRequest) error {
	op := policy.Run
	switch r.Mode {
	case "", ModeRun:
	case ModePlan:
		op = policy.Plan
	default:
		return fmt.Errorf("unknown mode %q", r.Mode)
	}
	if err := inc.allow(op, r.actor()); err != nil {
		return err
	}
	if r.Playbook == nil {
		return errors.New("no playbook given")
	}
	if r.RequestID != "" {
		for _, ref := range inc.st.Runs {
			if ref.ID == inc.runID(r) {
				return nil // a retry: startRun returns the existing run
			}
		}
	}
	return inc.notResolved()
}

// runID derives the child's workflow ID from the request when there is
// one, so a retried Slack request cannot start a second run.
func (inc *incident) runID(r RunRequest) string {
	suffix := r.RequestID
	if suffix == "" {
		suffix = fmt.Sprintf("%d", len(inc.st.Runs)+1)
	}
	return fmt.Sprintf("%s/%s-%s", IncidentWorkflowID(inc.st.Key), r.Playbook.Metadata.Name, suffix)
}

// startRun starts a playbook as a child that outlives this run (it
// reports back by signal), and records it.
func (inc *incident) startRun(ctx workflow.Context, r RunRequest) (RunRef, error) {
	id := inc.runID(r)
	for _, ref := range inc.st.Runs {
		if ref.ID == id {
			return ref, nil
		}
	}
	mode := r.Mode
	if mode == "" {
		mode = ModeRun
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	var target *RunSlack
	if inc.st.Channel != "" {
		target = &RunSlack{Channel: inc.st.Channel}
	}
	child := workflow.ExecuteChildWorkflow(cctx, PlaybookWorkflow, PlaybookInput{
		Playbook: r.Playbook, Inputs: r.Inputs, Mode: mode, Requester: r.Actor, Origin: r.Origin,
		Incident: inc.vars(), Config: inc.in.Config, ReportTo: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Slack: target,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return RunRef{}, fmt.Errorf("start %s: %w", r.Playbook.Metadata.Name, err)
	}
	ref := RunRef{ID: id, Playbook: r.Playbook.Metadata.Name, Mode: mode, Status: RunRunning, RequestedBy: r.Actor, StartedAt: workflow.Now(ctx)}
	inc.st.Runs = append(inc.st.Runs, ref)
	inc.active[id] = true
	inc.watch(ctx, id, child)
	inc.event(ctx, Event{Kind: EventRunRequested, Actor: r.Actor, Origin: r.Origin, Resource: id,
		Detail: fmt.Sprintf("%s (%s mode)", ref.Playbook, mode)})
	return ref, nil
}

// vars is what playbooks see as `incident`.
func (inc *incident) vars() map[string]any {
	roles := map[string]any{}
	for _, role := range IncidentRoles() {
		roles[role] = inc.st.Roles[role]
	}
	return map[string]any{
		"key": inc.st.Key, "title": inc.st.Title, "severity": inc.st.Severity,
		"status": inc.st.Status, "channel": inc.st.Channel, "roles": roles,
	}
}

func (inc *incident) runFinished(ctx workflow.Context, f RunFinished) {
	delete(inc.active, f.RunID)
	for i := range inc.st.Runs {
		ref := &inc.st.Runs[i]
		if ref.ID != f.RunID || !ref.EndedAt.IsZero() {
			continue
		}
		ref.Status, ref.Error, ref.EndedAt, ref.Plan = f.Status, f.Error, workflow.Now(ctx), f.Plan
		// The run's own events join the incident's timeline for the post-mortem.
		for _, e := range f.Timeline {
			if e.Kind == EventRunStarted || e.Kind == EventRunFinished {
				continue
			}
			e.Resource = cmp.Or(e.Resource, f.RunID)
			inc.st.Timeline = append(inc.st.Timeline, e)
		}
		// Keep the post-mortem chronological: the run's events happened
		// while the incident went on.
		slices.SortStableFunc(inc.st.Timeline, func(a, b Event) int { return a.Time.Compare(b.Time) })
		for i := range inc.st.Timeline {
			inc.st.Timeline[i].Seq = i + 1
		}
		inc.event(ctx, Event{Kind: EventPlaybookFinished, Outcome: f.Status, Resource: f.RunID, Detail: cmp.Or(f.Error, ref.Playbook)})
		inc.dirty = true
	}
}

// watch waits on a run's child future for as long as this generation of
// the incident lasts, so a run that ends without reporting (terminated,
// timed out, its report signal lost) is noticed at once.
func (inc *incident) watch(ctx workflow.Context, id string, child workflow.ChildWorkflowFuture) {
	inc.watched[id] = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res PlaybookResult
		err := child.Get(ctx, &res)
		inc.ended = append(inc.ended, endedRun{id: id, res: res, err: err})
	})
}

// reapEnded settles runs whose future resolved while they were still
// active: a run that completed without reporting is finished from its
// result; one that failed, was terminated or timed out is lost.
func (inc *incident) reapEnded(ctx workflow.Context) {
	if !inc.noticeLost {
		inc.ended = nil
		return
	}
	for _, e := range inc.ended {
		delete(inc.watched, e.id)
		if !inc.active[e.id] {
			continue
		}
		if e.err == nil {
			inc.runFinished(ctx, RunFinished{RunID: e.id, Status: e.res.Status, Error: e.res.Error, Plan: e.res.Plan, Timeline: e.res.Timeline})
			continue
		}
		inc.runLost(ctx, e.id, endedHow(e.err))
	}
	inc.ended = nil
}

// endedHow says in a word or two how a child run ended badly.
func endedHow(err error) string {
	var terminated *temporal.TerminatedError
	var canceled *temporal.CanceledError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &terminated):
		return "terminated"
	case errors.As(err, &canceled):
		return "canceled"
	case errors.As(err, &timeout):
		return "timed out"
	}
	return errorMessage(err)
}

// unwatched are active runs inherited from an earlier generation.
func (inc *incident) unwatched() []string {
	var ids []string
	for _, ref := range inc.st.Runs {
		if inc.active[ref.ID] && !inc.watched[ref.ID] {
			ids = append(ids, ref.ID)
		}
	}
	return ids
}

// sweep asks Temporal about inherited runs; those that ended are lost to
// the incident (a run that reports is no longer active by now).
func (inc *incident) sweep(ctx workflow.Context) {
	ids := inc.unwatched()
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var runs *activities.Runs
	var res activities.RunStatesResult
	if err := workflow.ExecuteActivity(actx, runs.RunStates, activities.RunStatesInput{IDs: ids}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("could not look at runs", "error", errorMessage(err))
		return
	}
	for _, id := range ids {
		if how, ok := res.Ended[id]; ok {
			inc.runLost(ctx, id, strings.ToLower(how)+" without reporting back; `firebreak playbook timeline "+id+"` shows what it did")
		}
	}
}

// runLost records a run that ended without reporting, so the incident
// does not wait for it (and can be resolved).
func (inc *incident) runLost(ctx workflow.Context, id, why string) {
	delete(inc.active, id)
	for i := range inc.st.Runs {
		ref := &inc.st.Runs[i]
		if ref.ID != id || !ref.EndedAt.IsZero() {
			continue
		}
		ref.Status, ref.Error, ref.EndedAt = RunLost, why, workflow.Now(ctx)
		inc.event(ctx, Event{Kind: EventRunLost, Outcome: RunLost, Resource: id, Detail: fmt.Sprintf("%s ended without reporting back: %s", ref.Playbook, why)})
		inc.dirty = true
	}
}

// slackOptions: Slack calls retry for a while, then the incident goes on
// without them (and says so on the timeline); chat must never block the
// response. Each is a few Web API calls that answer in well under a
// second, so 10 seconds bounds an attempt lost with a crashed worker (it
// is retried then, not after 30). A 429 is retried by the Web API client
// within the attempt, then by this policy after Slack's Retry-After
// (activities.SlackError).
func slackOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
}

func (inc *incident) card() activities.IncidentCard {
	var suggested []string
	if inc.in.Slack != nil {
		suggested = inc.in.Slack.Suggested
	}
	return activities.IncidentCard{
		Key: inc.st.Key, Title: inc.st.Title, Severity: inc.st.Severity, Status: inc.st.Status,
		Commander: inc.st.Roles[RoleCommander], DeclaredBy: inc.st.DeclaredBy, Channel: inc.st.Channel,
		Suggested: suggested, Summary: inc.st.Summary, Private: inc.st.Private,
	}
}

// openChannel creates the incident's channel (private when asked),
// invites people, sets the topic and posts the summary with its buttons,
// then tells the announce channel and the channel the declare came from.
// If the channel cannot be created after Slack's retries, the incident
// stays unbound (Slack cannot steer it; the CLI can), and says so.
func (inc *incident) openChannel(ctx workflow.Context) {
	actx := slackOptions(ctx)
	var s *activities.Slack
	var ch activities.ChannelResult
	if err := workflow.ExecuteActivity(actx, s.CreateIncidentChannel, activities.CreateChannelInput{
		Key: inc.st.Key, Title: inc.st.Title, Private: inc.st.Private,
	}).Get(ctx, &ch); err != nil {
		why := errorMessage(err)
		inc.event(ctx, Event{Kind: EventSlackFailed, Outcome: "failed", Detail: "create channel: " + why + "; Slack cannot reach this incident, the firebreak CLI can"})
		if in := inc.in.Slack.DeclaredIn; in != "" {
			inc.post(ctx, in, fmt.Sprintf(":warning: %s, Firebreak could not create a channel for %s (%s). The incident exists; steer it with `firebreak incident …` and ask an operator to check the Slack app.", mention(inc.st.DeclaredBy), inc.st.Key, why))
		}
		return
	}
	inc.st.Channel, inc.st.ChannelName = ch.ID, ch.Name
	inc.event(ctx, Event{Kind: EventChannelCreated, Resource: ch.ID, Detail: "#" + ch.Name})
	invite := append([]string{inc.st.DeclaredBy}, inc.in.Slack.Invite...)
	if err := workflow.ExecuteActivity(actx, s.SetUpChannel, activities.SetUpChannelInput{
		Channel: ch.ID, Invite: invite, Topic: fmt.Sprintf("%s %s: %s", inc.st.Severity, inc.st.Key, inc.st.Title),
	}).Get(ctx, nil); err != nil {
		inc.event(ctx, Event{Kind: EventSlackFailed, Outcome: "failed", Detail: "set up channel: " + errorMessage(err)})
	}
	inc.refreshSummary(ctx)
	// Announcements are rendered by the Slack activity, which escapes the
	// title (a title holding <!channel> must not ping anyone).
	rendered := workflow.GetVersion(ctx, "announce-rendered", workflow.DefaultVersion, 1) == 1
	var told []string
	for _, to := range []string{inc.in.Slack.Announce, inc.in.Slack.DeclaredIn} {
		if to == "" || slices.Contains(told, to) || (!rendered && to != inc.in.Slack.Announce) {
			continue
		}
		told = append(told, to)
		var err error
		if rendered {
			err = workflow.ExecuteActivity(actx, s.Announce, activities.AnnounceInput{Channel: to, Card: inc.card(), IdempotencyKey: SlackKey(ctx, "announce/"+to)}).Get(ctx, nil)
		} else {
			err = workflow.ExecuteActivity(actx, s.Post, activities.PostInput{
				Channel:        to,
				Text:           fmt.Sprintf(":rotating_light: %s declared %s (%s): %s — join <#%s>", mention(inc.st.DeclaredBy), inc.st.Key, inc.st.Severity, inc.st.Title, ch.ID),
				IdempotencyKey: SlackKey(ctx, "announce/"+to),
			}).Get(ctx, nil)
		}
		if err != nil {
			inc.event(ctx, Event{Kind: EventSlackFailed, Outcome: "failed", Detail: "announce: " + errorMessage(err)})
		}
	}
}

// post sends a plain message; chat is a courtesy, so a failure only goes
// on the timeline.
func (inc *incident) post(ctx workflow.Context, channel, text string) {
	var s *activities.Slack
	if err := workflow.ExecuteActivity(slackOptions(ctx), s.Post, activities.PostInput{Channel: channel, Text: text}).Get(ctx, nil); err != nil {
		inc.event(ctx, Event{Kind: EventSlackFailed, Outcome: "failed", Detail: "post: " + errorMessage(err)})
	}
}

func mention(user string) string {
	if user == "" {
		return "someone"
	}
	return "<@" + user + ">"
}

// refreshSummary posts the summary message, or updates it in place.
func (inc *incident) refreshSummary(ctx workflow.Context) {
	if inc.st.Channel == "" {
		return
	}
	var s *activities.Slack
	var res activities.PostResult
	if err := workflow.ExecuteActivity(slackOptions(ctx), s.PostIncidentSummary, activities.SummaryInput{
		Channel: inc.st.Channel, TS: inc.st.SummaryTS, Card: inc.card(), IdempotencyKey: SlackKey(ctx, "summary"),
	}).Get(ctx, &res); err != nil {
		inc.event(ctx, Event{Kind: EventSlackFailed, Outcome: "failed", Detail: "summary: " + errorMessage(err)})
		return
	}
	inc.st.SummaryTS = res.TS
}
