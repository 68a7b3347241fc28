package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// Action IDs of Firebreak's interactive elements, and the callback ID of
// its message shortcut.
const (
	ActionApprove         = "firebreak.approve"
	ActionReject          = "firebreak.reject"
	ActionRunPlaybook     = "firebreak.run_playbook"
	ActionSetSeverity     = "firebreak.set_severity"
	ActionResolve         = "firebreak.resolve"
	ShortcutAddToTimeline = "firebreak.add_to_timeline"
)

// Slack's documented Block Kit limits, in characters.
const (
	maxBlocks        = 50   // blocks per message
	maxText          = 3000 // a section's or context element's text
	maxFieldText     = 2000 // one section field
	maxHeaderText    = 150
	maxButtonText    = 75
	maxOptionText    = 75
	maxValue         = 2000 // a button's or option's value
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
)

// Our own budgets, tighter than Slack's, so messages stay readable.
const (
	// maxMessageText bounds the text of a list (plan steps, run steps,
	// changes) in one message; clients collapse longer messages anyway,
	// and the rest is a link or a command away.
	maxMessageText = 12000
	maxFallback    = 1000 // the notification text
	maxSuggestions = 10   // Run buttons under an incident
	maxSummary     = 800  // a step's summary inside a list
	maxItem        = 300  // one change, error or detail inside a list
	maxName        = 200  // an ID or name shown as code
	maxURL         = 1000
	shortHash      = 12
)

// IncidentView is what the incident summary shows. Commander and
// DeclaredBy are Slack user IDs (or plain names), Channel a channel ID.
type IncidentView struct {
	Key, Title, Severity, Status, Commander, DeclaredBy, Channel string
	// Suggested are playbook names offered as Run buttons.
	Suggested []string
}

// Severities offered by the severity menu, most severe first.
func severities() []string { return []string{"SEV1", "SEV2", "SEV3", "SEV4"} }

// IncidentSummary is the incident's pinned message: title, facts, and
// buttons to run suggested playbooks, change severity and resolve.
func IncidentSummary(s IncidentView) ([]goslack.Block, string) {
	blocks := []goslack.Block{
		goslack.NewHeaderBlock(plain(":rotating_light: "+s.Key+": "+s.Title, maxHeaderText)),
	}
	fields := []*goslack.TextBlockObject{
		field("Severity", escTrunc(orDash(s.Severity), maxName)),
		field("Status", escTrunc(orDash(s.Status), maxName)),
		field("Commander", orText(userRef(s.Commander), "_unassigned_")),
		field("Declared by", orText(userRef(s.DeclaredBy), "-")),
	}
	if s.Channel != "" {
		fields = append(fields, field("Channel", channelRef(s.Channel)))
	}
	blocks = append(blocks, goslack.NewSectionBlock(nil, fields, nil, goslack.SectionBlockOptionBlockID("incident.facts")))

	// One section per suggestion: Slack refuses two elements with the same
	// action ID in one block, and every Run button shares ActionRunPlaybook.
	var names []string
	for _, name := range s.Suggested {
		if name != "" && len(name) <= maxValue {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		blocks = append(blocks, goslack.NewSectionBlock(mrkdwn("*Suggested playbooks*"), nil, nil))
	}
	for i, name := range names {
		if i == maxSuggestions {
			blocks = append(blocks, contextBlock(fmt.Sprintf("…and %d more: `/incident run &lt;playbook&gt;`", len(names)-i)))
			break
		}
		btn := goslack.NewButtonBlockElement(ActionRunPlaybook, name, plain("Run "+name, maxButtonText))
		blocks = append(blocks, goslack.NewSectionBlock(mrkdwn(code(name)), nil, goslack.NewAccessory(btn),
			goslack.SectionBlockOptionBlockID(fmt.Sprintf("incident.run.%d", i))))
	}

	var opts []*goslack.OptionBlockObject
	var initial *goslack.OptionBlockObject
	for _, sev := range severities() {
		o := goslack.NewOptionBlockObject(sev, plain(sev, maxOptionText), nil)
		opts = append(opts, o)
		if strings.EqualFold(sev, s.Severity) {
			initial = o
		}
	}
	sel := goslack.NewOptionsSelectBlockElement(goslack.OptTypeStatic, plain("Change severity", maxOptionText), ActionSetSeverity, opts...)
	if initial != nil {
		sel.WithInitialOption(initial)
	}
	elems := []goslack.BlockElement{sel}
	if !strings.EqualFold(s.Status, "resolved") {
		resolve := goslack.NewButtonBlockElement(ActionResolve, truncate(s.Key, maxValue), plain("Resolve", maxButtonText)).
			WithConfirm(confirm("Resolve "+s.Key+"?", "This marks the incident resolved for everyone in the channel.", "Resolve", "Cancel"))
		elems = append(elems, resolve)
	}
	blocks = append(blocks, goslack.NewActionBlock("incident.actions", elems...))

	fallback := fmt.Sprintf("%s: %s (%s, %s)", s.Key, s.Title, orDash(s.Severity), orDash(s.Status))
	return blocks, escTrunc(oneLine(fallback), maxFallback)
}

// PlanMessage shows what a playbook run would do, step by step. Steps that
// don't fit Slack's limits are counted in a last line that points at
// fullPlanURL, or at /incident status when there is none.
func PlanMessage(playbook, runID string, plan *workflows.RunPlan, fullPlanURL string) ([]goslack.Block, string) {
	if plan == nil {
		plan = &workflows.RunPlan{}
	}
	if textLen(fullPlanURL) > maxURL {
		fullPlanURL = "" // a cut URL is a broken link
	}
	gated := 0
	for _, s := range plan.Steps {
		if s.Approval != nil {
			gated++
		}
	}
	blocks := []goslack.Block{goslack.NewHeaderBlock(plain(":memo: Plan: "+playbook, maxHeaderText))}
	facts := fmt.Sprintf("Run %s · plan %s · %s · %s",
		code(runID), code(short(plan.Hash)), plural(len(plan.Steps), "step"), needApproval(gated))
	if fullPlanURL != "" {
		facts += " · " + link(fullPlanURL, "full plan")
	}
	blocks = append(blocks, contextBlock(facts))
	if len(plan.Steps) == 0 {
		blocks = append(blocks, goslack.NewSectionBlock(mrkdwn("This plan has no steps."), nil, nil))
	}

	items := make([]string, len(plan.Steps))
	for i, s := range plan.Steps {
		items[i] = plannedStepText(i+1, s)
	}
	more := func(n int) string {
		if fullPlanURL != "" {
			return fmt.Sprintf("…and %s — full plan: %s", plural(n, "more step"), link(fullPlanURL, ""))
		}
		return fmt.Sprintf("…and %s — see them all with `/incident status`", plural(n, "more step"))
	}
	list, _ := packList(items, "\n\n", maxBlocks-len(blocks), maxMessageText, more)
	blocks = append(blocks, list...)

	fallback := fmt.Sprintf("Plan for %s: %s, %s", playbook, plural(len(plan.Steps), "step"), needApproval(gated))
	return blocks, escTrunc(oneLine(fallback), maxFallback)
}

func needApproval(n int) string {
	if n == 1 {
		return "1 needs approval"
	}
	return fmt.Sprintf("%d need approval", n)
}

func plannedStepText(n int, s workflows.PlannedStep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d. %s*", n, code(s.ID))
	if s.Action != "" {
		b.WriteString(" · " + code(s.Action))
	} else if s.Kind != "" {
		b.WriteString(" · " + escTrunc(s.Kind, maxName))
	}
	if s.Summary != "" {
		b.WriteString("\n" + escTrunc(s.Summary, maxSummary))
	}
	if len(s.Changes) > 0 {
		b.WriteString("\n" + bullets(s.Changes, 900))
	}
	if s.Approval != nil {
		b.WriteString("\n:lock: " + approvalRule(s.Approval))
	}
	if s.Note != "" {
		b.WriteString("\n_" + escTrunc(oneLine(s.Note), maxName) + "_")
	}
	// The parts are bounded to fit; this only guards the sum.
	return truncate(b.String(), maxText)
}

// approvalRule says who must approve: "Needs 2 approvals from `group`".
func approvalRule(a *playbooks.Approval) string {
	text := "Needs " + plural(max(a.Min, 1), "approval")
	var from []string
	if a.Group != "" {
		from = append(from, code(a.Group))
	}
	for i, u := range a.Users {
		if i == 5 {
			from = append(from, fmt.Sprintf("%d more", len(a.Users)-i))
			break
		}
		from = append(from, userRef(u))
	}
	if len(from) > 0 {
		text += " from " + joinAnd(from)
	}
	return text
}

// RunStatusMessage shows a playbook run: its status and one line per step
// with its status and how long it took (or has been running).
func RunStatusMessage(runID string, st workflows.RunStatus, now time.Time) ([]goslack.Block, string) {
	head := fmt.Sprintf("%s *%s* run %s: *%s*", runEmoji(st.Status), escTrunc(oneLine(st.Playbook), maxName), code(runID), escTrunc(st.Status, maxName))
	if st.Requester != "" {
		head += " · requested by " + userRef(st.Requester)
	}
	if st.Error != "" {
		head += "\n" + escTrunc(st.Error, maxSummary)
	}
	blocks := []goslack.Block{goslack.NewSectionBlock(mrkdwn(truncate(head, maxText)), nil, nil)}
	if len(st.Steps) > 0 {
		blocks = append(blocks, contextBlock(stepCounts(st.Steps)))
	}

	items := make([]string, len(st.Steps))
	for i, s := range st.Steps {
		items[i] = stepLine(s, now)
	}
	room := maxBlocks - len(blocks)
	list, shown := packList(items, "\n", room, maxMessageText, nil)
	if shown < len(items) {
		// Not every step fits: start just before the first step that is
		// not done (running, waiting, failed...), which is what people
		// look for, and count the rest.
		for i, s := range st.Steps {
			if !settled(s.Status) {
				if from := i - 2; from > 0 {
					earlier := fmt.Sprintf("…%s done before", plural(from, "earlier step"))
					items = append([]string{earlier}, items[from:]...)
				}
				break
			}
		}
		list, _ = packList(items, "\n", room, maxMessageText, func(n int) string {
			return fmt.Sprintf("…and %s", plural(n, "more step"))
		})
	}
	blocks = append(blocks, list...)

	fallback := fmt.Sprintf("%s run %s: %s", st.Playbook, runID, st.Status)
	return blocks, escTrunc(oneLine(fallback), maxFallback)
}

// settled reports whether a step is done and needs no attention.
func settled(status string) bool {
	switch status {
	case workflows.StepSucceeded, workflows.StepSkipped, workflows.StepCompensated, workflows.StepPlanned:
		return true
	}
	return false
}

func stepLine(s workflows.StepState, now time.Time) string {
	line := fmt.Sprintf("%s %s %s", stepEmoji(s.Status), code(s.ID), escTrunc(strings.ReplaceAll(s.Status, "_", " "), maxName))
	if d := elapsed(s, now); d != "" {
		line += " · " + d
	}
	var detail string
	switch {
	case s.Error != "":
		detail = s.Error
	case s.Status == workflows.StepAwaitingApproval && s.Approval != nil:
		detail = fmt.Sprintf("%d of %d approvals", len(s.Approval.Approvers), max(s.Approval.Min, 1))
	case s.Status == workflows.StepAwaitingTask && s.Task != "":
		detail = s.Task
	case s.Status == workflows.StepWaiting && s.Signal != "":
		detail = "for signal " + s.Signal
	case s.Status == workflows.StepWaiting && !s.Until.IsZero():
		detail = "until " + s.Until.UTC().Format(time.RFC3339)
		if s.Extendable {
			detail += fmt.Sprintf(", extendable to %s: /incident extend %s <duration>", s.Latest.UTC().Format(time.RFC3339), s.ID)
		}
	default:
		detail = s.Summary
	}
	if detail != "" {
		line += ": " + escTrunc(oneLine(detail), maxItem)
	}
	return line
}

// elapsed is how long a step ran: start to end, or to now while it is
// still going.
func elapsed(s workflows.StepState, now time.Time) string {
	if s.StartedAt.IsZero() {
		return ""
	}
	end := s.EndedAt
	if end.IsZero() {
		switch s.Status {
		case workflows.StepRunning, workflows.StepAwaitingApproval, workflows.StepAwaitingTask, workflows.StepWaiting:
			end = now
		default:
			return ""
		}
	}
	if end.Before(s.StartedAt) {
		return ""
	}
	return formatDuration(end.Sub(s.StartedAt))
}

func formatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	if d = d.Round(time.Second); d < time.Hour {
		if d < time.Minute {
			return fmt.Sprintf("%ds", int(d.Seconds()))
		}
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func stepCounts(steps []workflows.StepState) string {
	var order []string
	n := map[string]int{}
	for _, s := range steps {
		if n[s.Status] == 0 {
			order = append(order, s.Status)
		}
		n[s.Status]++
	}
	parts := make([]string, 0, len(order))
	for _, st := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[st], escTrunc(strings.ReplaceAll(st, "_", " "), maxName)))
	}
	return strings.Join(parts, " · ")
}

func stepEmoji(status string) string {
	switch status {
	case workflows.StepPending:
		return ":white_circle:"
	case workflows.StepRunning:
		return ":arrows_counterclockwise:"
	case workflows.StepAwaitingApproval:
		return ":lock:"
	case workflows.StepAwaitingTask:
		return ":clipboard:"
	case workflows.StepWaiting:
		return ":hourglass_flowing_sand:"
	case workflows.StepSucceeded:
		return ":white_check_mark:"
	case workflows.StepFailed:
		return ":x:"
	case workflows.StepSkipped:
		return ":fast_forward:"
	case workflows.StepRejected:
		return ":no_entry:"
	case workflows.StepAborted:
		return ":octagonal_sign:"
	case workflows.StepCompensated:
		return ":leftwards_arrow_with_hook:"
	case workflows.StepCompensationFailed:
		return ":warning:"
	case workflows.StepPlanned:
		return ":memo:"
	}
	return ":grey_question:"
}

func runEmoji(status string) string {
	switch status {
	case workflows.RunRunning:
		return ":arrows_counterclockwise:"
	case workflows.RunSucceeded:
		return ":white_check_mark:"
	case workflows.RunFailed:
		return ":x:"
	case workflows.RunRejected:
		return ":no_entry:"
	case workflows.RunAborted:
		return ":octagonal_sign:"
	case workflows.RunPlanned:
		return ":memo:"
	}
	return ":grey_question:"
}

// ApprovalRef is what an Approve or Reject button carries: the run, the
// step and the hash of the plan the approver was shown.
type ApprovalRef struct {
	Run      string `json:"r"`
	Step     string `json:"s"`
	PlanHash string `json:"h,omitempty"`
}

var (
	// ErrBadApprovalRef is wrapped by DecodeApprovalRef's errors.
	ErrBadApprovalRef = errors.New("bad approval button value")
	errValueTooLong   = errors.New("longer than a button value may be")
)

func encodeApprovalRef(ref ApprovalRef) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keeps the value short; it is not HTML
	if err := enc.Encode(ref); err != nil {
		return "", fmt.Errorf("encode approval ref: %w", err)
	}
	v := strings.TrimSuffix(b.String(), "\n")
	if len(v) > maxValue {
		return "", fmt.Errorf("encode approval ref: %w: %d bytes", errValueTooLong, len(v))
	}
	return v, nil
}

// DecodeApprovalRef reads the value of an Approve or Reject button.
func DecodeApprovalRef(value string) (ApprovalRef, error) {
	var ref ApprovalRef
	if len(value) > maxValue {
		return ref, fmt.Errorf("%w: %d bytes", ErrBadApprovalRef, len(value))
	}
	dec := json.NewDecoder(strings.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ref); err != nil {
		return ApprovalRef{}, fmt.Errorf("%w: %w", ErrBadApprovalRef, err)
	}
	if dec.More() {
		return ApprovalRef{}, fmt.Errorf("%w: trailing data", ErrBadApprovalRef)
	}
	if ref.Run == "" || ref.Step == "" {
		return ApprovalRef{}, fmt.Errorf("%w: run and step are required", ErrBadApprovalRef)
	}
	return ref, nil
}

// ApprovalRequest asks for approval of one step: who is asked, exactly
// what will change, how many approvals are needed, and Approve and Reject
// buttons bound to the plan hash. mention is trusted mrkdwn, like
// "<!subteam^S0123>" or "<@U0123>"; "" mentions no one.
func ApprovalRequest(runID string, step workflows.StepState, mention string) ([]goslack.Block, string) {
	head := "Approval needed"
	if mention != "" {
		head = mention + " approval needed"
	}
	blocks := approvalBlocks(runID, step, ":lock: "+head, "", true)
	return blocks, truncate(head+": "+escTrunc(oneLine(fmt.Sprintf("%s in run %s", step.ID, runID)), maxFallback), maxFallback)
}

// ApprovalProgress is ApprovalRequest's message after a vote: who approved
// so far, or the decision, with the buttons gone once decided.
func ApprovalProgress(runID string, step workflows.StepState, result workflows.VoteResult) ([]goslack.Block, string) {
	approvers := result.Approvers
	needed := result.Needed
	rejectedBy := ""
	if a := step.Approval; a != nil {
		if len(approvers) == 0 {
			approvers = a.Approvers
		}
		if needed == 0 {
			needed = a.Min
		}
		rejectedBy = a.RejectedBy
	}
	needed = max(needed, 1)
	refs := make([]string, len(approvers))
	for i, u := range approvers {
		refs[i] = userRef(u)
	}

	var head, progress string
	decided := result.Released || result.Rejected
	// Once decided, the message says how the gate closed and nothing
	// that goes stale: it is not updated when the run moves on.
	switch {
	case result.Rejected:
		head, progress = closedText(workflows.GateRejected, rejectedBy, refs, needed)
	case result.Released:
		head, progress = closedText(workflows.GateApproved, rejectedBy, refs, needed)
	case step.Approval != nil && !step.Approval.Open:
		decided = true
		head, progress = closedText(closedOutcome(step), rejectedBy, refs, needed)
	case len(refs) > 0:
		head = ":lock: Approval needed"
		progress = fmt.Sprintf("Approved by %s, %d of %d", people(refs), max(result.Approvals, len(refs)), needed)
	default:
		head = ":lock: Approval needed"
		progress = fmt.Sprintf("0 of %d approvals", needed)
	}
	blocks := approvalBlocks(runID, step, head, progress, !decided)
	return blocks, truncate(progress+" ("+escTrunc(oneLine(fmt.Sprintf("%s in run %s", step.ID, runID)), maxFallback)+")", maxFallback)
}

// ApprovalClosed is the request message once its gate has closed, the
// way outcome (a workflows.Gate* value) says it did; an empty outcome
// (from a workflow that predates it) is read from the step.
func ApprovalClosed(runID string, step workflows.StepState, outcome string) ([]goslack.Block, string) {
	if outcome == "" {
		outcome = closedOutcome(step)
	}
	var approvers []string
	needed, rejectedBy := 1, ""
	if a := step.Approval; a != nil {
		approvers, needed, rejectedBy = a.Approvers, max(a.Min, 1), a.RejectedBy
	}
	refs := make([]string, len(approvers))
	for i, u := range approvers {
		refs[i] = userRef(u)
	}
	head, progress := closedText(outcome, rejectedBy, refs, needed)
	blocks := approvalBlocks(runID, step, head, progress, false)
	return blocks, truncate(progress+" ("+escTrunc(oneLine(fmt.Sprintf("%s in run %s", step.ID, runID)), maxFallback)+")", maxFallback)
}

// closedOutcome reads how a closed gate ended from the step alone: only
// a timeout marks the step aborted before its gate closes.
func closedOutcome(step workflows.StepState) string {
	a := step.Approval
	switch {
	case a == nil:
		return ""
	case a.RejectedBy != "":
		return workflows.GateRejected
	case len(a.Approvers) >= max(a.Min, 1):
		return workflows.GateApproved
	case step.Status == workflows.StepAborted:
		return workflows.GateTimedOut
	}
	return ""
}

// closedText is the head and progress line of a closed gate.
func closedText(outcome, rejectedBy string, refs []string, needed int) (head, progress string) {
	so := fmt.Sprintf("%d of %d approvals", len(refs), needed)
	if len(refs) > 0 {
		so += " (" + people(refs) + ")"
	}
	switch outcome {
	case workflows.GateApproved:
		return ":white_check_mark: Approved", "Approved by " + people(refs)
	case workflows.GateRejected:
		progress = "Rejected"
		if rejectedBy != "" {
			progress += " by " + userRef(rejectedBy)
		}
		return ":no_entry: Rejected", progress
	case workflows.GateTimedOut:
		return ":hourglass: Timed out", "Timed out without a decision, with " + so
	case workflows.GateAborted:
		return ":octagonal_sign: Aborted", "Closed without a decision: the run was aborted, with " + so
	}
	return ":hourglass: Approval closed", "Closed without a decision, with " + so
}

func approvalBlocks(runID string, step workflows.StepState, head, progress string, buttons bool) []goslack.Block {
	summary, changes := step.Summary, []string(nil)
	var a workflows.ApprovalState
	if step.Approval != nil {
		a = *step.Approval
		if a.Plan.Summary != "" {
			summary = a.Plan.Summary
		}
		changes = a.Plan.Changes
	}
	what := head + "\n*Step* " + code(step.ID)
	if step.Action != "" {
		what += " · " + code(step.Action)
	}
	what += " · run " + code(runID)
	blocks := []goslack.Block{goslack.NewSectionBlock(mrkdwn(truncate(what, maxText)), nil, nil, goslack.SectionBlockOptionBlockID("approval.head"))}
	if summary != "" {
		blocks = append(blocks, goslack.NewSectionBlock(mrkdwn("*What will happen*\n"+escTrunc(summary, maxText-30)), nil, nil))
	}

	rule := "Needs " + plural(max(a.Min, 1), "approval")
	if a.Group != "" {
		rule += " from " + code(a.Group)
	}
	facts := []string{rule, "plan " + code(short(a.PlanHash))}
	if !a.Deadline.IsZero() && buttons {
		facts = append(facts, "decide by "+slackDate(a.Deadline))
	}
	if a.Escalated {
		facts = append(facts, "escalated")
	}
	// Blocks after the changes: facts, progress, buttons or their stand-in.
	tail := []goslack.Block{contextBlock(strings.Join(facts, " · "))}
	if progress != "" {
		tail = append(tail, goslack.NewSectionBlock(mrkdwn(progress), nil, nil, goslack.SectionBlockOptionBlockID("approval.progress")))
	}
	if buttons {
		tail = append(tail, voteButtons(runID, step.ID, a.PlanHash))
	}

	if len(changes) > 0 {
		items := make([]string, len(changes))
		for i, c := range changes {
			items[i] = "• " + escTrunc(oneLine(c), maxItem*3)
		}
		items[0] = "*Changes*\n" + items[0]
		list, _ := packList(items, "\n", maxBlocks-len(blocks)-len(tail), maxMessageText, func(n int) string {
			return fmt.Sprintf("…and %s not shown", plural(n, "more change"))
		})
		blocks = append(blocks, list...)
	}
	return append(blocks, tail...)
}

func voteButtons(runID, stepID, planHash string) goslack.Block {
	value, err := encodeApprovalRef(ApprovalRef{Run: runID, Step: stepID, PlanHash: planHash})
	if err != nil {
		// Only an absurdly long run ID gets here; the command still works.
		return goslack.NewSectionBlock(mrkdwn("Answer with `/incident approve "+escTrunc(stepID, maxName)+"` or `/incident reject "+escTrunc(stepID, maxName)+" [reason]`."), nil, nil)
	}
	approve := goslack.NewButtonBlockElement(ActionApprove, value, plain("Approve", maxButtonText)).
		WithStyle(goslack.StylePrimary).
		WithConfirm(confirm("Approve "+stepID+"?", "You approve exactly the plan shown (plan "+short(planHash)+"). A changed plan needs a new approval.", "Approve", "Cancel"))
	reject := goslack.NewButtonBlockElement(ActionReject, value, plain("Reject", maxButtonText)).
		WithStyle(goslack.StyleDanger).
		WithConfirm(confirm("Reject "+stepID+"?", "The run stops at this step.", "Reject", "Cancel"))
	return goslack.NewActionBlock("approval.vote", approve, reject)
}

// packList lays items out in sections of at most maxText characters, at
// most maxSections of them and budget characters in all. Items that don't
// fit are left off the end and, when more is not nil, counted by a last
// section more(n). It returns the sections and how many items they show.
func packList(items []string, sep string, maxSections, budget int, more func(n int) string) ([]goslack.Block, int) {
	sections, shown := pack(items, sep, maxSections, budget)
	if shown < len(items) && more != nil && maxSections > 0 {
		// more(len(items)) is the longest the last line can be.
		sections, shown = pack(items, sep, maxSections-1, budget-textLen(more(len(items))))
		sections = append(sections, more(len(items)-shown))
	}
	out := make([]goslack.Block, len(sections))
	for i, s := range sections {
		out[i] = goslack.NewSectionBlock(mrkdwn(s), nil, nil)
	}
	return out, shown
}

func pack(items []string, sep string, maxSections, budget int) ([]string, int) {
	var sections []string
	var cur strings.Builder
	curLen, used := 0, 0
	for i, it := range items {
		it = truncate(it, maxText)
		n := textLen(it)
		if used+n > budget {
			return flush(sections, &cur), i
		}
		if curLen > 0 && curLen+textLen(sep)+n <= maxText {
			cur.WriteString(sep)
			curLen += textLen(sep)
		} else {
			sections = flush(sections, &cur)
			if len(sections) >= maxSections {
				return sections, i
			}
			cur.Reset()
			curLen = 0
		}
		cur.WriteString(it)
		curLen += n
		used += n
	}
	return flush(sections, &cur), len(items)
}

// flush appends the section being built, if any.
func flush(sections []string, cur *strings.Builder) []string {
	if cur.Len() > 0 {
		sections = append(sections, cur.String())
	}
	return sections
}

// bullets lists items as "• item" lines within about budget characters.
func bullets(items []string, budget int) string {
	lines := make([]string, 0, len(items))
	used := 0
	for i, it := range items {
		line := "• " + escTrunc(oneLine(it), maxItem)
		if used+textLen(line) > budget {
			lines = append(lines, "• …and "+plural(len(items)-i, "more change"))
			break
		}
		lines = append(lines, line)
		used += textLen(line) + 1
	}
	return strings.Join(lines, "\n")
}

// Text objects and mrkdwn helpers.

func mrkdwn(s string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.MarkdownType, truncate(s, maxText), false, false)
}

// plain is a plain_text object; Slack shows it literally, so no escaping.
func plain(s string, limit int) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.PlainTextType, truncate(oneLine(s), limit), true, false)
}

func field(name, value string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.MarkdownType, truncate("*"+name+"*\n"+value, maxFieldText), false, false)
}

func contextBlock(s string) *goslack.ContextBlock {
	return goslack.NewContextBlock("", mrkdwn(s))
}

func confirm(title, text, yes, no string) *goslack.ConfirmationBlockObject {
	return goslack.NewConfirmationBlockObject(
		plain(title, maxConfirmTitle), plain(text, maxConfirmText),
		plain(yes, maxConfirmButton), plain(no, maxConfirmButton))
}

// esc escapes the three characters Slack's mrkdwn treats as control
// characters, so user text cannot make mentions (<!channel>) or links.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// escTrunc escapes s and shortens the result to limit characters without
// cutting an escape sequence in half. It stops reading past the limit.
func escTrunc(s string, limit int) string {
	var b strings.Builder
	n, cut := 0, -1
	for _, r := range s {
		entity, pn := "", utf16.RuneLen(r)
		switch r {
		case '&':
			entity = "&amp;"
		case '<':
			entity = "&lt;"
		case '>':
			entity = "&gt;"
		}
		if entity != "" {
			pn = len(entity)
		}
		if cut < 0 && n+pn > limit-1 {
			cut = b.Len() // where "…" goes if the rest doesn't fit
		}
		if n+pn > limit {
			return b.String()[:cut] + "…"
		}
		if entity != "" {
			b.WriteString(entity)
		} else {
			b.WriteRune(r)
		}
		n += pn
	}
	return b.String()
}

// code shows s as inline code, shortened; a backtick would end the span.
func code(s string) string {
	if s == "" {
		return "`-`"
	}
	return "`" + escTrunc(strings.ReplaceAll(oneLine(s), "`", "'"), maxName) + "`"
}

// link is a mrkdwn link, labelled with the URL itself when label is "".
// Both are escaped, and a "|" in the URL would end it.
func link(url, label string) string {
	l := "<" + esc(strings.ReplaceAll(oneLine(url), "|", "%7C"))
	if label != "" {
		l += "|" + esc(label)
	}
	return l + ">"
}

// userIDPattern matches Slack user IDs, as the config package does.
const userIDPattern = `[UW][A-Z0-9]{2,}`

var (
	userIDRE    = regexp.MustCompile(`^` + userIDPattern + `$`)
	channelIDRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
)

// userRef mentions a Slack user ID; anything else (a CLI user name) is
// shown as escaped text.
func userRef(id string) string {
	if userIDRE.MatchString(id) {
		return "<@" + id + ">"
	}
	return escTrunc(oneLine(id), maxName)
}

func channelRef(id string) string {
	if channelIDRE.MatchString(id) {
		return "<#" + id + ">"
	}
	return escTrunc(oneLine(id), maxName)
}

// slackDate renders t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// people lists mentions, at most ten of them.
func people(refs []string) string {
	if len(refs) > 10 {
		return joinAnd(append(refs[:9:9], plural(len(refs)-9, "other")))
	}
	return joinAnd(refs)
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func short(hash string) string {
	if len(hash) > shortHash {
		return hash[:shortHash]
	}
	return hash
}

func orDash(s string) string { return orText(s, "-") }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// textLen counts UTF-16 code units, as Slack's limits do; it is never less
// than the rune count.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncate shortens s to limit characters, ending in "…" when cut.
func truncate(s string, limit int) string {
	if textLen(s) <= limit {
		return s
	}
	n := 0
	for i, r := range s {
		rn := utf16.RuneLen(r)
		if n+rn > limit-1 {
			return s[:i] + "…"
		}
		n += rn
	}
	return s
}
