package workflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
)

const (
	// registrySignalsChange marks the move from one update per declare
	// to declare signals; registries started before it keep their update
	// handler until they hand over to a signal-driven run.
	registrySignalsChange = "registry-signals"

	// duplicateWindow: the same person declaring the same title again
	// within it (a retry after a timeout, say) gets the incident they
	// already have.
	duplicateWindow = 10 * time.Minute
	// rememberFor and rememberAtMost bound what the registry remembers to
	// answer retried requests, so its continue-as-new input stays small
	// (about 80 bytes a declare): Slack and the bot retry within minutes.
	rememberFor    = time.Hour
	rememberAtMost = 2000
	// startsPerRun bounds the declares one registry run takes, so its
	// history, and the replay a hand-over can force, stay small.
	startsPerRun = 1000
	// startBatch bounds the incidents one local activity is given,
	// startParallel how many it starts at once, and startBudget how long
	// it goes on starting them (see startQueued).
	startBatch    = 100
	startParallel = 8
	startBudget   = 300 * time.Millisecond
	// maxStartFailures: failed batches in a row before their declares
	// are given up (about 5 minutes of trying).
	maxStartFailures = 15
	// recentDeclares bounded the update-era memory.
	recentDeclares = 500
)

// RegistryInput carries the registry's state across continue-as-new.
type RegistryInput struct {
	Year int `json:"year,omitempty"`
	Seq  int `json:"seq,omitempty"`
	// Declares remembers recent declares, oldest first.
	Declares []RememberedDeclare `json:"declares,omitempty"`
	// Pending are declares that arrived while the previous run was
	// handing over; this run handles them first.
	Pending []DeclareRequest `json:"pending,omitempty"`
	// Recent is what registries from before declare signals remembered;
	// a signal-driven run turns it into Declares.
	Recent []RecentDeclare `json:"recent,omitempty"`
	// StartsPerRun overrides startsPerRun (tests use a small one).
	StartsPerRun int `json:"starts_per_run,omitempty"`
}

// RememberedDeclare is one handled declare. Request and Dedupe are short
// hashes: of the request ID, and of the declarer and normalized title.
type RememberedDeclare struct {
	Request string `json:"r"`
	Dedupe  string `json:"d,omitempty"`
	Key     string `json:"k,omitempty"`
	// At is when the registry handled it, in Unix seconds.
	At int64 `json:"t"`
	// Existing: the declare repeated an earlier one and created nothing.
	Existing bool   `json:"x,omitempty"`
	Error    string `json:"e,omitempty"`
}

// RecentDeclare is one declare remembered by an update-era registry.
type RecentDeclare struct {
	RequestID string        `json:"request_id"`
	Result    DeclareResult `json:"result"`
}

// Validate says what a declare lacks; clients call it before signalling,
// so a refused declare is answered at once and never reaches the registry.
func (d DeclareRequest) Validate() error {
	switch {
	case strings.TrimSpace(d.Title) == "":
		return errors.New("an incident needs a title")
	case strings.TrimSpace(d.DeclaredBy) == "":
		return errors.New("an incident needs the identity of who declared it")
	case strings.TrimSpace(d.RequestID) == "":
		return errors.New("a declare needs a request ID so retries are safe")
	}
	return nil
}

// IncidentRegistryWorkflow hands out human-friendly incident keys
// (INC-2026-0042: year and a per-year sequence) and starts each incident.
// It is one long-running workflow, so keys are unique without a database.
// Clients declare with one signal-with-start call, which returns as soon
// as the signal is stored, so no one waits behind the registry; the
// registry drains its signals in batches, dedupes them, allocates keys,
// starts each batch's incidents from one local activity, and continues
// as new before its history grows large, carrying the signals that are
// still buffered.
func IncidentRegistryWorkflow(ctx workflow.Context, in RegistryInput) error {
	if workflow.GetVersion(ctx, registrySignalsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return updateRegistry(ctx, in)
	}
	r := newRegistry(ctx, in)
	if err := workflow.SetQueryHandler(ctx, QueryDeclared, r.result); err != nil {
		return err
	}
	for _, d := range in.Pending {
		r.declare(ctx, d)
	}
	if err := r.startQueued(ctx); err != nil {
		return err
	}
	declares := workflow.GetSignalChannel(ctx, SignalDeclare)
	for !r.full(ctx) {
		if err := workflow.Await(ctx, func() bool { return declares.Len() > 0 || r.full(ctx) }); err != nil {
			return err
		}
		for !r.full(ctx) {
			var d DeclareRequest
			if !declares.ReceiveAsync(&d) {
				break
			}
			r.declare(ctx, d)
		}
		// Signals that arrive meanwhile wait in the channel: the next
		// batch is whatever came while this one was starting.
		if err := r.startQueued(ctx); err != nil {
			return err
		}
	}
	// Hand over: let every notice finish, then carry what is still
	// buffered, so no declare sent to this run is lost.
	if err := workflow.Await(ctx, func() bool { return r.busy == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	next := r.st
	next.Pending = nil
	for {
		var d DeclareRequest
		if !declares.ReceiveAsync(&d) {
			break
		}
		next.Pending = append(next.Pending, d)
	}
	return workflow.NewContinueAsNewError(ctx, IncidentRegistryWorkflow, next)
}

// registryRun is one signal-driven registry run.
type registryRun struct {
	st RegistryInput
	// queue are the incidents to start; starting holds their request
	// hashes until they have started. busy counts notices being posted.
	queue    []IncidentStart
	starting map[string]bool
	busy     int
	started  int
}

func newRegistry(ctx workflow.Context, in RegistryInput) *registryRun {
	r := &registryRun{st: in, starting: map[string]bool{}}
	r.st.Declares = append([]RememberedDeclare(nil), in.Declares...)
	now := workflow.Now(ctx).Unix()
	for _, old := range in.Recent {
		r.st.Declares = append(r.st.Declares, RememberedDeclare{Request: shortHash(old.RequestID), Key: old.Result.Key, At: now})
	}
	r.st.Recent = nil
	return r
}

// full says this run should hand over to a fresh one.
func (r *registryRun) full(ctx workflow.Context) bool {
	limit := r.st.StartsPerRun
	if limit <= 0 {
		limit = startsPerRun
	}
	info := workflow.GetInfo(ctx)
	return r.started >= limit || info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistoryEvents
}

// declare handles one declare: a repeat of a request already handled is
// ignored, a repeat of an open incident's declare (same person, same
// title, within duplicateWindow) is told so, and anything else gets the
// next key and its incident.
func (r *registryRun) declare(ctx workflow.Context, d DeclareRequest) {
	now := workflow.Now(ctx)
	r.forget(now)
	if err := d.Validate(); err != nil {
		workflow.GetLogger(ctx).Warn("declare refused", "request_id", d.RequestID, "error", err.Error())
		if strings.TrimSpace(d.RequestID) != "" {
			r.remember(RememberedDeclare{Request: shortHash(d.RequestID), At: now.Unix(), Error: err.Error()})
		}
		return
	}
	req := shortHash(d.RequestID)
	if r.find(req) != nil {
		return
	}
	dedupe := shortHash(d.DeclaredBy + "\x00" + normalizeTitle(d.Title))
	if prev := r.duplicate(dedupe, now); prev != nil {
		r.remember(RememberedDeclare{Request: req, Key: prev.Key, At: now.Unix(), Existing: true})
		r.tellDuplicate(ctx, d, *prev, now)
		return
	}
	key := r.nextKey(now)
	r.remember(RememberedDeclare{Request: req, Dedupe: dedupe, Key: key, At: now.Unix()})
	r.starting[req] = true
	r.started++
	r.queue = append(r.queue, IncidentStart{Request: req, Input: IncidentInput{
		Key: key, Title: d.Title, Severity: d.Severity, DeclaredBy: d.DeclaredBy, Origin: d.Origin,
		Slack: d.Slack, Run: d.Run, Config: d.Config,
	}})
}

// startQueued starts the queued incidents, a batch per local activity:
// one history event for the whole batch instead of a child's three
// events (and a workflow task) per incident, and incidents that are not
// children of the registry, so no limit on pending children applies.
//
// The activity keeps to a time budget and is not retried inside the
// workflow task: while a task is open, the server buffers new signals,
// and more than 100 buffered events make it fail the task, which at 50
// declares a second would happen within 2 s. Failures wait on a timer
// instead, and what the budget left over goes into the next batch.
//
// A key that is taken (the registry was reset and counts from zero
// again) moves its declare to the next key.
func (r *registryRun) startQueued(ctx workflow.Context) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	failures := 0
	for len(r.queue) > 0 {
		batch := r.queue[:min(len(r.queue), startBatch)]
		var res StartIncidentsResult
		err := workflow.ExecuteLocalActivity(lctx, StartIncidents, StartIncidentsInput{
			TaskQueue: workflow.GetInfo(ctx).TaskQueueName, Starts: batch,
		}).Get(ctx, &res)
		if err != nil {
			failures++
			workflow.GetLogger(ctx).Warn("incidents did not start; trying again", "keys", len(batch), "failures", failures, "error", err.Error())
			if failures < maxStartFailures {
				if err := workflow.Sleep(ctx, min(time.Duration(failures)*time.Second, 30*time.Second)); err != nil {
					return err
				}
				continue
			}
			// Give up on this batch, so the declares behind it get their turn.
			r.queue = r.queue[len(batch):]
			for _, s := range batch {
				if rd := r.find(s.Request); rd != nil {
					rd.Key, rd.Dedupe, rd.Error = "", "", fmt.Sprintf("start incident %s: %s", s.Input.Key, errorMessage(err))
				}
				delete(r.starting, s.Request)
			}
			failures = 0
			continue
		}
		failures = 0
		r.queue = r.queue[len(batch):]
		var again []IncidentStart
		for _, s := range batch {
			switch {
			case slices.Contains(res.Started, s.Input.Key):
				delete(r.starting, s.Request)
			case slices.Contains(res.Taken, s.Input.Key):
				s.Input.Key = r.nextKey(workflow.Now(ctx))
				if rd := r.find(s.Request); rd != nil {
					rd.Key = s.Input.Key
				}
				again = append(again, s)
			default: // not reached within the budget
				again = append(again, s)
			}
		}
		r.queue = append(again, r.queue...)
		if len(r.queue) > 0 {
			// Local activities run inside one workflow task; a short
			// timer ends it, so the signals buffered meanwhile come in.
			if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *registryRun) nextKey(now time.Time) string {
	if year := now.UTC().Year(); year != r.st.Year {
		r.st.Year, r.st.Seq = year, 0
	}
	r.st.Seq++
	return fmt.Sprintf("INC-%d-%04d", r.st.Year, r.st.Seq)
}

// IncidentStart is one incident for the registry's local activity to
// start. Request, its declare's request hash, goes into the incident's
// memo, so a retried start knows its own incident from an earlier one.
type IncidentStart struct {
	Request string        `json:"request"`
	Input   IncidentInput `json:"input"`
}

// StartIncidentsInput is a batch of incidents to start.
type StartIncidentsInput struct {
	TaskQueue string          `json:"task_queue"`
	Starts    []IncidentStart `json:"starts"`
}

// StartIncidentsResult lists the keys whose incidents started and the
// keys another incident already has; the rest of the batch was not tried.
type StartIncidentsResult struct {
	Started []string `json:"started,omitempty"`
	Taken   []string `json:"taken,omitempty"`
}

// declareMemo is the memo field holding an incident's request hash.
const declareMemo = "firebreak_declare"

// StartIncidents starts a batch of incidents with the worker's own
// Temporal client; it is the registry's local activity, so it needs no
// registration and records one marker for the whole batch. Starting is
// idempotent: a workflow ID holds one incident ever (REJECT_DUPLICATE),
// and one already started for the same request counts as started.
func StartIncidents(ctx context.Context, in StartIncidentsInput) (StartIncidentsResult, error) {
	return startIncidents(ctx, activity.GetClient(ctx), in, startBudget)
}

// startIncidents starts in.Starts in order, at most startParallel at a
// time, until budget has passed (the first is always tried).
func startIncidents(ctx context.Context, c client.Client, in StartIncidentsInput, budget time.Duration) (StartIncidentsResult, error) {
	tried := make([]bool, len(in.Starts))
	taken := make([]bool, len(in.Starts))
	errs := make([]error, len(in.Starts))
	var wg sync.WaitGroup
	slots := make(chan struct{}, startParallel)
	began := time.Now()
	for i, s := range in.Starts {
		if i > 0 && time.Since(began) > budget {
			break // the rest go into the next batch
		}
		slots <- struct{}{}
		tried[i] = true
		wg.Go(func() {
			defer func() { <-slots }()
			taken[i], errs[i] = startIncident(ctx, c, in.TaskQueue, s)
		})
	}
	wg.Wait()
	// Any failure fails the batch, to be tried again: what did start is
	// then recognised by its memo.
	if err := errors.Join(errs...); err != nil {
		return StartIncidentsResult{}, err
	}
	var res StartIncidentsResult
	for i, s := range in.Starts {
		switch {
		case taken[i]:
			res.Taken = append(res.Taken, s.Input.Key)
		case tried[i]:
			res.Started = append(res.Started, s.Input.Key)
		}
	}
	return res, nil
}

// startIncident starts one incident, or says its key is taken by an
// incident of another declare.
func startIncident(ctx context.Context, c client.Client, taskQueue string, s IncidentStart) (taken bool, err error) {
	id := IncidentWorkflowID(s.Input.Key)
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{declareMemo: s.Request},
	}, IncidentWorkflow, s.Input)
	if err == nil {
		return false, nil
	}
	if !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return false, fmt.Errorf("start %s: %w", id, err)
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", id, err)
	}
	var req string
	if p := d.GetWorkflowExecutionInfo().GetMemo().GetFields()[declareMemo]; p != nil {
		if err := converter.GetDefaultDataConverter().FromPayload(p, &req); err != nil {
			return false, fmt.Errorf("read %s's memo: %w", id, err)
		}
	}
	return req != s.Request, nil
}

// tellDuplicate tells the channel the repeat came from which incident
// the person already has. The title is left out: the person just typed
// it. A private incident is not named in a channel at all.
func (r *registryRun) tellDuplicate(ctx workflow.Context, d DeclareRequest, prev RememberedDeclare, now time.Time) {
	if d.Slack == nil || d.Slack.DeclaredIn == "" || d.Slack.Private {
		return // a private incident's declarer hears it in the ack alone
	}
	ago := "less than a minute ago"
	if m := int(now.Sub(time.Unix(prev.At, 0)).Minutes()); m == 1 {
		ago = "a minute ago"
	} else if m > 1 {
		ago = fmt.Sprintf("%d minutes ago", m)
	}
	text := fmt.Sprintf("%s, you already declared this incident %s: it is *%s*. Nothing new was created.", mention(d.DeclaredBy), ago, prev.Key)
	if d.Run != nil && d.Run.Playbook != nil {
		text += fmt.Sprintf(" `%s` was not started; run it from the incident's channel.", d.Run.Playbook.Metadata.Name)
	}
	r.busy++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { r.busy-- }()
		// A few tries only: the notice is a courtesy, and the run hands
		// over only once it is done.
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		})
		var s *activities.Slack
		post := activities.PostInput{Channel: d.Slack.DeclaredIn, Text: text, IdempotencyKey: SlackKey(ctx, "repeat/"+shortHash(d.RequestID))}
		if err := workflow.ExecuteActivity(actx, s.Post, post).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("duplicate declare notice not posted", "key", prev.Key, "error", errorMessage(err))
		}
	})
}

// result answers QueryDeclared: the incident a request declared (or
// repeated), or an empty result while it is unknown or still starting.
func (r *registryRun) result(requestID string) (DeclareResult, error) {
	req := shortHash(requestID)
	rd := r.find(req)
	if rd == nil || r.starting[req] {
		return DeclareResult{}, nil
	}
	res := DeclareResult{Key: rd.Key, Existing: rd.Existing, Error: rd.Error}
	if rd.Key != "" {
		res.WorkflowID = IncidentWorkflowID(rd.Key)
	}
	return res, nil
}

func (r *registryRun) find(req string) *RememberedDeclare {
	for i := range r.st.Declares {
		if r.st.Declares[i].Request == req {
			return &r.st.Declares[i]
		}
	}
	return nil
}

// duplicate finds the incident an earlier declare with the same dedupe
// hash created within duplicateWindow.
func (r *registryRun) duplicate(dedupe string, now time.Time) *RememberedDeclare {
	since := now.Add(-duplicateWindow).Unix()
	for i := len(r.st.Declares) - 1; i >= 0; i-- {
		rd := &r.st.Declares[i]
		if rd.At < since {
			break
		}
		if rd.Dedupe == dedupe && rd.Key != "" {
			return rd
		}
	}
	return nil
}

func (r *registryRun) remember(rd RememberedDeclare) {
	r.st.Declares = append(r.st.Declares, rd)
	if n := len(r.st.Declares) - rememberAtMost; n > 0 {
		r.st.Declares = append(r.st.Declares[:0:0], r.st.Declares[n:]...)
	}
}

// forget drops what is older than rememberFor (entries are in order).
func (r *registryRun) forget(now time.Time) {
	since := now.Add(-rememberFor).Unix()
	n := 0
	for n < len(r.st.Declares) && r.st.Declares[n].At < since {
		n++
	}
	if n > 0 {
		r.st.Declares = append(r.st.Declares[:0:0], r.st.Declares[n:]...)
	}
}

// shortHash keeps remembered request IDs and titles small: 64 bits is
// plenty to tell a few thousand apart.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// normalizeTitle makes "DB down!" and "db  down" the same declare.
func normalizeTitle(title string) string {
	words := strings.FieldsFunc(strings.ToLower(title), func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsDigit(c)
	})
	return strings.Join(words, " ")
}

// updateRegistry is the registry as it was before declare signals, kept
// so registries started then still replay: it answers declare updates as
// before until a signal arrives or its history is long, then hands its
// state, and the buffered signals, to a signal-driven run.
func updateRegistry(ctx workflow.Context, in RegistryInput) error {
	reg := &in
	declare := func(ctx workflow.Context, r DeclareRequest) (DeclareResult, error) {
		for _, rd := range reg.Recent {
			if rd.RequestID == r.RequestID {
				res := rd.Result
				res.Existing = true
				return res, nil
			}
		}
		year := workflow.Now(ctx).UTC().Year()
		if year != reg.Year {
			reg.Year, reg.Seq = year, 0
		}
		reg.Seq++
		key := fmt.Sprintf("INC-%d-%04d", reg.Year, reg.Seq)
		res := DeclareResult{Key: key, WorkflowID: IncidentWorkflowID(key)}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: res.WorkflowID,
			// Incidents outlive the registry's runs.
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		child := workflow.ExecuteChildWorkflow(cctx, IncidentWorkflow, IncidentInput{
			Key: key, Title: r.Title, Severity: r.Severity, DeclaredBy: r.DeclaredBy, Origin: r.Origin,
			Slack: r.Slack, Run: r.Run, Config: r.Config,
		})
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return DeclareResult{}, fmt.Errorf("start incident %s: %w", key, err)
		}
		reg.Recent = append(reg.Recent, RecentDeclare{RequestID: r.RequestID, Result: res})
		if len(reg.Recent) > recentDeclares {
			reg.Recent = reg.Recent[len(reg.Recent)-recentDeclares:]
		}
		return res, nil
	}
	validate := func(_ workflow.Context, r DeclareRequest) error { return r.Validate() }
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDeclare, declare, workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return err
	}
	declares := workflow.GetSignalChannel(ctx, SignalDeclare)
	if err := workflow.Await(ctx, func() bool {
		info := workflow.GetInfo(ctx)
		return declares.Len() > 0 || info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistoryEvents
	}); err != nil {
		return err
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	next := RegistryInput{Year: reg.Year, Seq: reg.Seq, Recent: reg.Recent, StartsPerRun: reg.StartsPerRun}
	for {
		var d DeclareRequest
		if !declares.ReceiveAsync(&d) {
			break
		}
		next.Pending = append(next.Pending, d)
	}
	return workflow.NewContinueAsNewError(ctx, IncidentRegistryWorkflow, next)
}
