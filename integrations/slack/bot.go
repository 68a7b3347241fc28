package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// Options configure the bot.
type Options struct {
	API       *goslack.Client
	Temporal  client.Client
	Namespace string
	TaskQueue string
	Access    config.Access
	Channels  config.Channels
	Groups    *Groups
	// Playbooks returns the library the bot may run.
	Playbooks func() ([]*playbooks.Playbook, error)
	// Config is what playbooks see as `config`.
	Config map[string]any
	Log    *slog.Logger
	// Health receives the Socket Mode connection state; NewBot makes one
	// when nil.
	Health *Health
	// CallTimeout bounds the one Temporal call a request makes, so Slack
	// always gets its answer within its 3 seconds.
	CallTimeout time.Duration
}

// Bot answers Slack: slash commands, button clicks, the message shortcut
// and app mentions. Every request is verified (HTTP) or arrives over an
// authenticated socket (Socket Mode), is parsed, makes one Temporal call
// with a short deadline, and is answered; slow work happens in workflows.
type Bot struct {
	o Options
	// background tracks response_url posts still in flight, for shutdown.
	background sync.WaitGroup
	events     *seen
}

// NewBot checks options and builds a bot.
func NewBot(o Options) (*Bot, error) {
	if o.API == nil || o.Temporal == nil || o.Playbooks == nil || o.Groups == nil {
		return nil, errors.New("slack bot needs the Web API client, a Temporal client, groups and playbooks")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Health == nil {
		o.Health = NewHealth()
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 2 * time.Second
	}
	if len(o.Access.Responders) == 0 {
		o.Log.Warn("access.responders is empty: every workspace member may run playbooks (approvals still apply)")
	}
	return &Bot{o: o, events: newSeen(1000)}, nil
}

// Wait blocks until background responses have been sent.
func (b *Bot) Wait() { b.background.Wait() }

// reply is a message answered to Slack: a slash command's response body,
// or what is posted to a response_url.
type reply struct {
	ResponseType    string          `json:"response_type,omitempty"`
	Text            string          `json:"text"`
	Blocks          []goslack.Block `json:"blocks,omitempty"`
	ReplaceOriginal bool            `json:"replace_original,omitempty"`
}

func ephemeral(format string, args ...any) reply {
	return reply{ResponseType: goslack.ResponseTypeEphemeral, Text: fmt.Sprintf(format, args...)}
}

func inChannel(text string) reply {
	return reply{ResponseType: goslack.ResponseTypeInChannel, Text: text}
}

// asker is who asked, where, and the identity Slack gave the request.
type asker struct {
	User        string
	Channel     string
	ChannelName string
	// ID identifies the request across Slack's retries (trigger ID or
	// action timestamp), for idempotent workflow and update IDs.
	ID          string
	ResponseURL string
}

var channelKeyRe = regexp.MustCompile(`^inc-(\d{4})-(\d{4,})(?:-|$)`)

// incidentKey finds the incident a channel belongs to from its name,
// #inc-2026-0042-<slug>, which the incident workflow chose.
func incidentKey(channelName string) (string, bool) {
	m := channelKeyRe.FindStringSubmatch(channelName)
	if m == nil {
		return "", false
	}
	return fmt.Sprintf("INC-%s-%s", m[1], m[2]), true
}

func (b *Bot) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.o.CallTimeout)
}

// HandleCommand answers one /incident command. The whole answer, however
// many lookups it takes, fits in CallTimeout, inside Slack's 3 seconds.
func (b *Bot) HandleCommand(ctx context.Context, sc goslack.SlashCommand) reply {
	ctx, cancel := context.WithTimeout(ctx, b.o.CallTimeout)
	defer cancel()
	req := asker{User: sc.UserID, Channel: sc.ChannelID, ChannelName: sc.ChannelName, ID: sc.TriggerID, ResponseURL: sc.ResponseURL}
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		return ephemeral("%s", err.Error())
	}
	switch cmd.Verb {
	case "help":
		return ephemeral("%s", HelpText())
	case "declare":
		return b.declare(ctx, req, cmd)
	case "list":
		return b.list(ctx, req)
	}
	key, ok := incidentKey(req.ChannelName)
	if !ok {
		return ephemeral("`/incident %s` works in an incident channel (`#inc-…`); this is #%s. Declare one with `/incident declare <title>`.", cmd.Verb, req.ChannelName)
	}
	switch cmd.Verb {
	case "run", "plan":
		return b.run(ctx, req, key, cmd)
	case "status":
		if cmd.Text != "" {
			return b.change(ctx, req, key, workflows.UpdateSetStatus, workflows.ChangeRequest{Value: cmd.Text})
		}
		return b.status(ctx, req, key)
	case "timeline":
		return b.timeline(ctx, req, key)
	case "sev":
		return b.change(ctx, req, key, workflows.UpdateSetSeverity, workflows.ChangeRequest{Value: cmd.Severity})
	case "role":
		return b.change(ctx, req, key, workflows.UpdateSetRole, workflows.ChangeRequest{Role: cmd.Role, User: cmd.User})
	case "note":
		return b.change(ctx, req, key, workflows.UpdateNote, workflows.ChangeRequest{Text: cmd.Text})
	case "resolve":
		return b.change(ctx, req, key, workflows.UpdateResolve, workflows.ChangeRequest{Text: cmd.Text})
	case "abort":
		return b.abort(ctx, req, key, cmd.Text)
	case "approve":
		return b.showApproval(ctx, req, key, cmd.Step)
	case "reject":
		return b.vote(ctx, req, key, ApprovalRef{Step: cmd.Step}, false, cmd.Text)
	case "done":
		return b.completeTask(ctx, req, key, cmd.Step, cmd.Text)
	case "extend":
		return b.extendWait(ctx, req, key, cmd)
	}
	return ephemeral("`%s` is not handled yet. %s", cmd.Verb, "Try `/incident help`.")
}

func (b *Bot) declare(ctx context.Context, req asker, cmd Command) reply {
	op := policy.Declare
	if cmd.Playbook != "" {
		op = policy.DeclarePlaybook // it runs the playbook too
	}
	actor, why := b.allow(ctx, op, req, nil)
	if why != "" {
		return ephemeral("%s", why)
	}
	var run *workflows.RunRequest
	if cmd.Playbook != "" {
		rr, errText := b.runRequest(req, cmd, workflows.ModeRun)
		if errText != "" {
			return ephemeral("%s", errText)
		}
		rr.Holds = actor.Holds
		rr.Channel = "" // declared elsewhere; the run belongs to the new channel
		run = &rr
	}
	d := workflows.DeclareRequest{
		Title: cmd.Title, Severity: cmd.Severity, DeclaredBy: req.User, Origin: "slack", RequestID: req.ID,
		Slack: b.incidentSlack(req, cmd),
		Run:   run, Config: b.o.Config,
	}
	return b.submitDeclare(ctx, req, cmd, d)
}

// suggested are the playbooks offered as Run buttons on a new incident:
// channels.suggested, else the library's playbooks tagged "triage".
func (b *Bot) suggested() []string {
	if len(b.o.Channels.Suggested) > 0 {
		return b.o.Channels.Suggested
	}
	lib, err := b.o.Playbooks()
	if err != nil {
		return nil
	}
	var out []string
	for _, pb := range lib {
		for _, tag := range pb.Metadata.Tags {
			if tag == "triage" {
				out = append(out, pb.Metadata.Name)
				break
			}
		}
	}
	return out
}

// runRequest resolves a playbook and its inputs, or explains what is wrong.
func (b *Bot) runRequest(req asker, cmd Command, mode string) (workflows.RunRequest, string) {
	lib, err := b.o.Playbooks()
	if err != nil {
		return workflows.RunRequest{}, "The playbook library does not load; ask an operator to run `firebreak playbook check`."
	}
	var names []string
	for _, pb := range lib {
		if pb.Metadata.Name == cmd.Playbook {
			inputs, err := playbooks.ResolveInputs(pb, cmd.InputMap())
			if err != nil {
				return workflows.RunRequest{}, fmt.Sprintf("Playbook `%s`: %s", pb.Metadata.Name, esc(err.Error()))
			}
			return workflows.RunRequest{Playbook: pb, Inputs: inputs, Mode: mode, Actor: req.User, Origin: "slack", RequestID: req.ID, Channel: req.Channel}, ""
		}
		names = append(names, "`"+pb.Metadata.Name+"`")
	}
	return workflows.RunRequest{}, fmt.Sprintf("No playbook named `%s`. Available: %s.", esc(cmd.Playbook), strings.Join(names, ", "))
}

func (b *Bot) run(ctx context.Context, req asker, key string, cmd Command) reply {
	mode, op := workflows.ModeRun, policy.Run
	if cmd.Verb == "plan" {
		mode, op = workflows.ModePlan, policy.Plan
	}
	_, actor, why := b.allowIn(ctx, op, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	rr, errText := b.runRequest(req, cmd, mode)
	if errText != "" {
		return ephemeral("%s", errText)
	}
	rr.Holds = actor.Holds
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var ref workflows.RunRef
	if err := b.update(ctx, workflows.IncidentWorkflowID(key), workflows.UpdateRunPlaybook, "run-"+req.ID, rr, &ref); err != nil {
		return ephemeral("Could not start `%s`: %s", rr.Playbook.Metadata.Name, refusal(err))
	}
	verb := "is running"
	if mode == workflows.ModePlan {
		verb = "is being planned"
	}
	return inChannel(fmt.Sprintf("<@%s> started `%s` — it %s; the plan and its progress follow here. (run `%s`)", req.User, ref.Playbook, verb, ref.ID))
}

func (b *Bot) change(ctx context.Context, req asker, key, update string, c workflows.ChangeRequest) reply {
	op := map[string]policy.Op{
		workflows.UpdateNote: policy.Note, workflows.UpdateSetSeverity: policy.Severity,
		workflows.UpdateSetStatus: policy.Status, workflows.UpdateResolve: policy.Resolve,
		workflows.UpdateSetRole: policy.RoleOp(c.Role),
	}[update]
	st, actor, why := b.allowIn(ctx, op, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	c.Actor, c.Origin, c.Channel, c.Holds = req.User, actor.Origin, req.Channel, actor.Holds
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	if err := b.update(ctx, workflows.IncidentWorkflowID(key), update, update+"-"+req.ID, c, &st); err != nil {
		return ephemeral("Not done: %s", refusal(err))
	}
	switch update {
	case workflows.UpdateSetSeverity:
		return inChannel(fmt.Sprintf("<@%s> set severity to *%s*.", req.User, st.Severity))
	case workflows.UpdateSetRole:
		return inChannel(fmt.Sprintf("<@%s> is now %s (set by <@%s>).", c.User, c.Role, req.User))
	case workflows.UpdateSetStatus:
		return inChannel(fmt.Sprintf("<@%s> moved %s to *%s*.", req.User, st.Key, st.Status))
	case workflows.UpdateResolve:
		return inChannel(fmt.Sprintf(":white_check_mark: <@%s> resolved *%s*.", req.User, st.Key))
	default:
		return ephemeral("Added to the %s timeline.", st.Key)
	}
}

// update sends one Temporal update and waits for its result; updateID
// makes a retried Slack request land on the same update.
func (b *Bot) update(ctx context.Context, workflowID, name, updateID string, arg, result any) error {
	h, err := b.o.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, UpdateID: updateID, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}

// refusal turns a Temporal error into a sentence for the person: the
// validator's reason, or a plain word for infrastructure trouble.
func refusal(err error) string {
	var appErr interface{ Message() string }
	if errors.As(err, &appErr) {
		return escKeepChannelLinks(appErr.Message())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Firebreak did not answer in time; try again in a moment."
	}
	if strings.Contains(err.Error(), "not found") {
		return "this incident is not known to Firebreak (was it declared here?)"
	}
	return "something went wrong on Firebreak's side; an operator can find it in the logs."
}

// escKeepChannelLinks escapes s for mrkdwn except channel links of the
// exact shape <#C0123ABC>, which validators use to point at the right
// channel. A channel link cannot notify anyone, so letting one through
// (even from text a person typed) is harmless; everything else, such as
// <!channel> or <#C1|label>, stays escaped.
func escKeepChannelLinks(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "<#")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		id := s[i+2 : i+j]
		if !channelIDRE.MatchString(id) {
			b.WriteString(esc(s[:i+2]))
			s = s[i+2:]
			continue
		}
		b.WriteString(esc(s[:i]) + "<#" + id + ">")
		s = s[i+j+1:]
	}
	b.WriteString(esc(s))
	return b.String()
}

func (b *Bot) status(ctx context.Context, req asker, key string) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	st, _, why := b.allowIn(ctx, policy.ReadStatus, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("*%s* %s — %s, %s", st.Key, esc(st.Title), st.Severity, st.Status))
	for _, r := range workflows.IncidentRoles() {
		if u := st.Roles[r]; u != "" {
			lines = append(lines, fmt.Sprintf("%s: <@%s>", r, u))
		}
	}
	for _, run := range st.Runs {
		line := fmt.Sprintf("• `%s` %s (by <@%s>, run `%s`)", run.Playbook, run.Status, run.RequestedBy, run.ID)
		if run.Error != "" {
			// Why a run failed or stopped, with the external API's code and request ID.
			line += ": " + escTrunc(run.Error, maxSummary)
		}
		lines = append(lines, line)
	}
	return ephemeral("%s", strings.Join(lines, "\n"))
}

func (b *Bot) timeline(ctx context.Context, req asker, key string) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	_, _, why := b.allowIn(ctx, policy.ReadTimeline, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	v, err := b.o.Temporal.QueryWorkflow(ctx, workflows.IncidentWorkflowID(key), "", workflows.QueryTimeline, b.query(req))
	var ev []workflows.Event
	if err == nil {
		err = v.Get(&ev)
	}
	if err != nil {
		return ephemeral("Could not read the %s timeline: %s", key, queryRefusal(err))
	}
	// The newest events matter most: keep as many of the last 40 as fit in one message, and
	// say how many earlier ones are left out.
	const shown = 40
	var lines []string
	size := 0
	for i := len(ev) - 1; i >= max(0, len(ev)-shown); i-- {
		e := ev[i]
		line := fmt.Sprintf("`%s` %s", e.Time.UTC().Format("15:04:05"), e.Kind)
		if e.Step != "" {
			line += " " + e.Step
		}
		if e.Actor != workflows.SystemActor {
			line += " by <@" + e.Actor + ">"
		}
		if e.Detail != "" {
			line += ": " + esc(truncate(e.Detail, 200))
		}
		if size+len(line)+1 > maxText-200 { // room for the "earlier events" line
			break
		}
		size += len(line) + 1
		lines = append(lines, line)
	}
	slices.Reverse(lines)
	if earlier := len(ev) - len(lines); earlier > 0 {
		lines = append([]string{fmt.Sprintf("_…%d earlier events; `firebreak incident timeline %s` has them all_", earlier, key)}, lines...)
	}
	return ephemeral("%s", strings.Join(lines, "\n"))
}

func (b *Bot) list(ctx context.Context, req asker) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	if _, why := b.allow(ctx, policy.List, req, nil); why != "" {
		return ephemeral("%s", why)
	}
	resp, err := b.o.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: b.o.Namespace, PageSize: 50,
		Query: fmt.Sprintf("WorkflowType = 'IncidentWorkflow' AND ExecutionStatus = 'Running' AND %s != '%s'", workflows.StatusKey.GetName(), workflows.StatusResolved),
	})
	if err != nil {
		return ephemeral("Could not list incidents: %s", refusal(err))
	}
	if len(resp.GetExecutions()) == 0 {
		return ephemeral("No open incidents.")
	}
	var lines []string
	for _, e := range resp.GetExecutions() {
		key := strings.TrimPrefix(e.GetExecution().GetWorkflowId(), "incident-")
		sev, status := "", ""
		if p := e.GetSearchAttributes().GetIndexedFields()[workflows.SeverityKey.GetName()]; p != nil {
			_ = json.Unmarshal(p.GetData(), &sev)
		}
		if p := e.GetSearchAttributes().GetIndexedFields()[workflows.StatusKey.GetName()]; p != nil {
			_ = json.Unmarshal(p.GetData(), &status)
		}
		lines = append(lines, fmt.Sprintf("• *%s* %s, %s (since %s)", key, sev, status, e.GetStartTime().AsTime().UTC().Format("Jan 2 15:04 UTC")))
	}
	return ephemeral("%s", strings.Join(lines, "\n"))
}

// activeRuns lists the incident's runs still going, newest first.
func activeRuns(st workflows.IncidentState) []workflows.RunRef {
	var out []workflows.RunRef
	for i := len(st.Runs) - 1; i >= 0; i-- {
		if st.Runs[i].EndedAt.IsZero() {
			out = append(out, st.Runs[i])
		}
	}
	return out
}

func (b *Bot) abort(ctx context.Context, req asker, key, reason string) reply {
	st, actor, why := b.allowIn(ctx, policy.Abort, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	runs := activeRuns(st)
	if len(runs) == 0 {
		return ephemeral("No playbook is running in %s.", key)
	}
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var aborted []string
	for _, r := range runs {
		var out string
		if err := b.update(ctx, r.ID, workflows.UpdateAbort, "abort-"+req.ID, workflows.AbortRequest{Actor: req.User, Reason: reason, Origin: actor.Origin, Channel: req.Channel, Holds: actor.Holds}, &out); err != nil {
			return ephemeral("Could not abort `%s`: %s", r.Playbook, refusal(err))
		}
		aborted = append(aborted, "`"+r.Playbook+"`")
	}
	return inChannel(fmt.Sprintf(":octagonal_sign: <@%s> aborted %s.", req.User, strings.Join(aborted, ", ")))
}

// findApproval finds the open approval for step among the incident's runs.
func (b *Bot) findApproval(ctx context.Context, req asker, key, step string, op policy.Op) (string, workflows.StepState, string) {
	st, _, why := b.allowIn(ctx, op, req, key)
	if why != "" {
		return "", workflows.StepState{}, why
	}
	for _, r := range activeRuns(st) {
		v, err := b.o.Temporal.QueryWorkflow(ctx, r.ID, "", workflows.QueryStatus, b.query(req))
		if err != nil {
			continue
		}
		var rs workflows.RunStatus
		if v.Get(&rs) != nil {
			continue
		}
		for _, s := range rs.Steps {
			if s.ID == step && s.Approval != nil && s.Approval.Open {
				return r.ID, s, ""
			}
		}
	}
	return "", workflows.StepState{}, fmt.Sprintf("No step `%s` is waiting for approval in %s.", esc(step), key)
}

// completeTask finishes a manual task in whichever run is waiting on it.
func (b *Bot) completeTask(ctx context.Context, req asker, key, step, note string) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	st, actor, why := b.allowIn(ctx, policy.Done, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	for _, r := range activeRuns(st) {
		var done workflows.StepState
		err := b.update(ctx, r.ID, workflows.UpdateCompleteTask, "done-"+step+"-"+req.ID,
			workflows.TaskCompletion{StepID: step, Actor: req.User, Note: note, Origin: actor.Origin, Channel: req.Channel, Holds: actor.Holds}, &done)
		if err == nil {
			return inChannel(fmt.Sprintf(":ballot_box_with_check: <@%s> finished `%s` in `%s`.", req.User, step, r.Playbook))
		}
	}
	return ephemeral("No running playbook in %s has a task `%s` waiting; `/incident status` lists the steps.", key, esc(step))
}

// extendWait moves the end of a waiting step later, in the run where that
// step waits (else the first run that has it, so its validator can say
// why not). The run decides: extendable, not past wait.max, and the policy
// again with what it knows.
func (b *Bot) extendWait(ctx context.Context, req asker, key string, cmd Command) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	st, actor, why := b.allowIn(ctx, policy.ExtendWait, req, key)
	if why != "" {
		return ephemeral("%s", why)
	}
	run, ok := b.runWithStep(ctx, req, st, cmd.Step)
	if !ok {
		return ephemeral("No running playbook in %s has a step `%s`; `/incident status` lists the runs, `firebreak playbook status RUN` their steps.", key, esc(cmd.Step))
	}
	var res workflows.WaitExtended
	err := b.update(ctx, run.ID, workflows.UpdateExtendWait, "extend-"+cmd.Step+"-"+req.ID, workflows.WaitExtension{
		StepID: cmd.Step, By: cmd.By, Actor: req.User, Reason: cmd.Text, Origin: actor.Origin, Channel: req.Channel, Holds: actor.Holds,
	}, &res)
	if err != nil {
		return ephemeral("`%s` was not extended: %s", esc(cmd.Step), refusal(err))
	}
	text := fmt.Sprintf(":hourglass: <@%s> extended `%s` by %s, until %s.", req.User, esc(cmd.Step), esc(res.By), slackDate(res.Until))
	if cmd.Text != "" {
		text += " Reason: " + esc(truncate(cmd.Text, 500))
	}
	return inChannel(text)
}

// runWithStep finds the incident's active run where step is waiting, else
// the first one that has the step at all.
func (b *Bot) runWithStep(ctx context.Context, req asker, st workflows.IncidentState, step string) (workflows.RunRef, bool) {
	var found *workflows.RunRef
	for _, r := range activeRuns(st) {
		v, err := b.o.Temporal.QueryWorkflow(ctx, r.ID, "", workflows.QueryStatus, b.query(req))
		if err != nil {
			continue
		}
		var rs workflows.RunStatus
		if v.Get(&rs) != nil {
			continue
		}
		for _, s := range rs.Steps {
			switch {
			case s.ID != step:
			case s.Status == workflows.StepWaiting:
				return r, true
			case found == nil:
				found = &r
			}
		}
	}
	if found == nil {
		return workflows.RunRef{}, false
	}
	return *found, true
}

// showApproval answers `/incident approve <step>` with the plan and the
// buttons: an approval is always a click on the exact plan shown.
func (b *Bot) showApproval(ctx context.Context, req asker, key, step string) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	runID, s, why := b.findApproval(ctx, req, key, step, policy.ReadPlan)
	if why != "" {
		return ephemeral("%s", why)
	}
	blocks, text := ApprovalRequest(runID, s, "")
	return reply{ResponseType: goslack.ResponseTypeEphemeral, Text: text, Blocks: blocks}
}

// vote casts an approval or rejection and says how it went.
func (b *Bot) vote(ctx context.Context, req asker, key string, ref ApprovalRef, approve bool, comment string) reply {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	op := policy.Approve
	if !approve {
		op = policy.Reject
	}
	if ref.Run == "" {
		runID, s, why := b.findApproval(ctx, req, key, ref.Step, op)
		if why != "" {
			return ephemeral("%s", why)
		}
		ref.Run, ref.PlanHash = runID, s.Approval.PlanHash
	}
	var res workflows.VoteResult
	err := b.update(ctx, ref.Run, workflows.UpdateApprove, fmt.Sprintf("vote-%s-%s-%s", ref.Step, req.User, req.ID),
		workflows.Vote{StepID: ref.Step, Approver: req.User, PlanHash: ref.PlanHash, Approve: approve, Comment: comment, Origin: policy.OriginSlack, Channel: req.Channel}, &res)
	if err != nil {
		return ephemeral("Your vote was not counted: %s", refusal(err))
	}
	v, qerr := b.o.Temporal.QueryWorkflow(ctx, ref.Run, "", workflows.QueryStatus, b.query(req))
	var rs workflows.RunStatus
	if qerr == nil && v.Get(&rs) == nil {
		for _, s := range rs.Steps {
			if s.ID == ref.Step {
				blocks, text := ApprovalProgress(ref.Run, s, res)
				return reply{Text: text, Blocks: blocks, ReplaceOriginal: true}
			}
		}
	}
	word := "Approved"
	if !approve {
		word = "Rejected"
	}
	return reply{Text: fmt.Sprintf("%s by <@%s>, %d of %d", word, req.User, res.Approvals, res.Needed), ReplaceOriginal: true}
}

// sentence shows an error to a person: first letter up, Go convention
// keeps error strings lower-case.
func sentence(err error) string {
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
