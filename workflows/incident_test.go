package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// incidentEnv runs IncidentWorkflow with the real playbook activities and
// recorded (mocked) Slack calls.
type incidentEnv struct {
	t         *testing.T
	h         *harness
	env       *testsuite.TestWorkflowEnvironment
	summaries []activities.SummaryInput
	invited   []string
	// createErr fails channel creation; created, posts and announced
	// record the Slack calls.
	createErr error
	created   []activities.CreateChannelInput
	posts     []activities.PostInput
	announced []activities.AnnounceInput
}

func newIncidentEnv(t *testing.T) *incidentEnv {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &incidentEnv{t: t, env: s.NewTestWorkflowEnvironment()}
	e.env.RegisterWorkflow(IncidentWorkflow)
	e.env.RegisterWorkflow(PlaybookWorkflow)
	e.env.RegisterActivity(&activities.Steps{Registry: registry(t), Groups: testGroups})
	var sl *activities.Slack
	e.env.RegisterActivity(sl)
	e.env.OnActivity(sl.CreateIncidentChannel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CreateChannelInput) (activities.ChannelResult, error) {
			e.created = append(e.created, in)
			if e.createErr != nil {
				return activities.ChannelResult{}, e.createErr
			}
			return activities.ChannelResult{ID: "C0INC", Name: activities.ChannelName(in.Key, in.Title)}, nil
		})
	e.env.OnActivity(sl.SetUpChannel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetUpChannelInput) error {
			e.invited = append(e.invited, in.Invite...)
			return nil
		})
	e.env.OnActivity(sl.PostIncidentSummary, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SummaryInput) (activities.PostResult, error) {
			e.summaries = append(e.summaries, in)
			return activities.PostResult{Channel: in.Channel, TS: "1700000000.000100"}, nil
		})
	e.env.OnActivity(sl.Post, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PostInput) (activities.PostResult, error) {
			e.posts = append(e.posts, in)
			return activities.PostResult{TS: "1"}, nil
		})
	e.env.OnActivity(sl.Announce, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AnnounceInput) (activities.PostResult, error) {
			e.announced = append(e.announced, in)
			return activities.PostResult{TS: "1"}, nil
		})
	return e
}

func (e *incidentEnv) change(at time.Duration, name string, arg any) *updateOutcome {
	if e.h == nil {
		e.h = &harness{t: e.t, env: e.env}
	}
	return e.h.update(at, name, func() any { return arg })
}

func (e *incidentEnv) state() IncidentState {
	e.t.Helper()
	v, err := e.env.QueryWorkflow(QueryStatus)
	if err != nil {
		e.t.Fatal(err)
	}
	var st IncidentState
	if err := v.Get(&st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func TestIncidentLifecycle(t *testing.T) {
	e := newIncidentEnv(t)
	pb := load(t, header+`
steps:
  - id: pause
    wait: {duration: 10m}
  - id: contain
    action: core.log
    with: {message: "contain ${{ incident.key }} for ${{ incident.roles.commander }}"}
`)
	var midState IncidentState
	note := e.change(time.Minute, UpdateNote, ChangeRequest{Actor: "U1", Text: "5xx on checkout", Origin: "slack", Channel: "C0INC", Holds: []policy.Principal{policy.Noters}})
	role := e.change(2*time.Minute, UpdateSetRole, ChangeRequest{Actor: "U1", Role: RoleCommander, User: "U_IC1"})
	sev := e.change(3*time.Minute, UpdateSetSeverity, ChangeRequest{Actor: "U_IC1", Value: "SEV1"})
	status := e.change(4*time.Minute, UpdateSetStatus, ChangeRequest{Actor: "U_IC1", Value: StatusInvestigating})
	run := e.change(5*time.Minute, UpdateRunPlaybook, RunRequest{Playbook: pb, Actor: "U_IC1", Origin: "slack", Channel: "C0INC", RequestID: "trig-1"})
	again := e.change(6*time.Minute, UpdateRunPlaybook, RunRequest{Playbook: pb, Actor: "U_IC1", Origin: "slack", Channel: "C0INC", RequestID: "trig-1"})
	during := e.change(7*time.Minute, UpdateNote, ChangeRequest{Actor: "U1", Text: "while the playbook waits"})
	e.env.RegisterDelayedCallback(func() { midState = e.state() }, 17*time.Minute)
	lookalike := e.change(17*time.Minute+time.Second, UpdateNote, ChangeRequest{Actor: "U1", Text: "from a look-alike channel", Channel: "C0FAKE"})
	resolve := e.change(18*time.Minute, UpdateResolve, ChangeRequest{Actor: "U_IC1", Text: "rolled back the deploy"})

	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{
		Key: "INC-2026-0042", Title: "Checkout down", Severity: "sev2", DeclaredBy: "U1", Origin: "slack",
		Slack: &IncidentSlack{Invite: []string{"U_SRE"}, Suggested: []string{"t"}},
	})
	if !e.env.IsWorkflowCompleted() {
		t.Fatal("incident did not complete after resolve")
	}
	var final IncidentState
	if err := e.env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	if lookalike.rejected == nil || !strings.Contains(lookalike.rejected.Error(), "this is not INC-2026-0042's channel") {
		t.Fatalf("look-alike channel: %v", lookalike.rejected)
	}
	for name, u := range map[string]*updateOutcome{"during": during, "note": note, "role": role, "sev": sev, "status": status, "run": run, "again": again, "resolve": resolve} {
		if !u.done || u.rejected != nil {
			t.Fatalf("%s: done=%v rejected=%v", name, u.done, u.rejected)
		}
	}
	if final.Status != StatusResolved || final.Severity != "SEV1" || final.Roles[RoleCommander] != "U_IC1" || final.Summary != "rolled back the deploy" {
		t.Fatalf("final state %+v", final)
	}
	if final.Channel != "C0INC" || final.ChannelName != "inc-2026-0042-checkout-down" {
		t.Fatalf("channel %s #%s", final.Channel, final.ChannelName)
	}
	if !slices.Equal(e.invited, []string{"U1", "U_SRE"}) {
		t.Fatalf("invited %v", e.invited)
	}
	if len(final.Runs) != 1 || final.Runs[0].Status != RunSucceeded || final.Runs[0].ID != "incident-INC-2026-0042/t-trig-1" {
		t.Fatalf("runs %+v (a retried request must not start a second run)", final.Runs)
	}
	if midState.Runs[0].Status != RunSucceeded {
		t.Fatalf("run not reported back by 17m: %+v", midState.Runs)
	}
	// The summary was posted once, then updated in place after changes.
	if len(e.summaries) < 3 || e.summaries[0].TS != "" || e.summaries[len(e.summaries)-1].TS == "" {
		t.Fatalf("summaries %+v", e.summaries)
	}
	if last := e.summaries[len(e.summaries)-1].Card; last.Status != StatusResolved || last.Severity != "SEV1" || last.Commander != "U_IC1" {
		t.Fatalf("last summary %+v", last)
	}
	ev := final.Timeline
	mustHaveInOrder(t, kinds(ev), "incident_declared:", "channel_created:", "note:", "role_assigned:", "severity_changed:",
		"status_changed:", "playbook_run_started:", "wait_started:pause", "note:", "step_succeeded:contain", "playbook_run_finished:", "incident_resolved:")
	for i, x := range ev {
		if x.Seq != i+1 {
			t.Fatalf("event %d has seq %d", i, x.Seq)
		}
		if i > 0 && x.Time.Before(ev[i-1].Time) {
			t.Fatalf("timeline not chronological at %d: %s before %s", i, x.Time, ev[i-1].Time)
		}
	}
	for _, x := range ev {
		if x.Kind == EventStepSucceeded && x.Step == "contain" && x.Detail != `logged "contain INC-2026-0042 for U_IC1"` {
			t.Fatalf("playbook did not see the incident: %q", x.Detail)
		}
	}
}

func TestIncidentValidators(t *testing.T) {
	e := newIncidentEnv(t)
	pb := load(t, header+"steps:\n  - id: hold\n    wait: {duration: 1h}\n")
	cases := []struct {
		name string
		out  *updateOutcome
		want string
	}{
		{"no actor", e.change(time.Minute, UpdateNote, ChangeRequest{Text: "x"}), "identity of who made it"},
		{"empty note", e.change(time.Minute, UpdateNote, ChangeRequest{Actor: "U1", Text: "  "}), "a note needs text"},
		{"bad role", e.change(time.Minute, UpdateSetRole, ChangeRequest{Actor: "U1", Role: "captain", User: "U2"}), `unknown role "captain"`},
		{"role without user", e.change(time.Minute, UpdateSetRole, ChangeRequest{Actor: "U1", Role: RoleScribe}), "say who takes the scribe role"},
		{"bad severity", e.change(time.Minute, UpdateSetSeverity, ChangeRequest{Actor: "U1", Value: "SEV9"}), `unknown severity "SEV9"`},
		{"same severity", e.change(time.Minute, UpdateSetSeverity, ChangeRequest{Actor: "U1", Value: "SEV3"}), "is already SEV3"},
		{"resolve via status", e.change(time.Minute, UpdateSetStatus, ChangeRequest{Actor: "U1", Value: StatusResolved}), "use resolve"},
		{"bad status", e.change(time.Minute, UpdateSetStatus, ChangeRequest{Actor: "U1", Value: "panicking"}), `unknown status "panicking"`},
		{"run without playbook", e.change(time.Minute, UpdateRunPlaybook, RunRequest{Actor: "U1"}), "no playbook given"},
		{"start a long run", e.change(2*time.Minute, UpdateRunPlaybook, RunRequest{Actor: "U1", Playbook: pb}), ""},
		{"resolve while running", e.change(3*time.Minute, UpdateResolve, ChangeRequest{Actor: "U1"}), "playbooks are still running: t"},
		{"resolve after run", e.change(2*time.Hour, UpdateResolve, ChangeRequest{Actor: "U1"}), ""},
	}
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0001", Title: "x", Severity: "SEV3", DeclaredBy: "U1"})
	for _, c := range cases {
		switch {
		case !c.out.done:
			t.Errorf("%s: never finished", c.name)
		case c.want == "" && c.out.rejected != nil:
			t.Errorf("%s: refused: %v", c.name, c.out.rejected)
		case c.want != "" && (c.out.rejected == nil || !strings.Contains(c.out.rejected.Error(), c.want)):
			t.Errorf("%s: want %q, got %v", c.name, c.want, c.out.rejected)
		}
	}
	if !e.env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
	if len(e.summaries) != 0 {
		t.Fatal("an incident without Slack must not post")
	}
}

// TestIncidentContinuesAsNewWithoutLoss has the server suggest
// continue-as-new in the middle of a stream of notes and checks the next
// generation starts with every accepted note.
func TestIncidentContinuesAsNewWithoutLoss(t *testing.T) {
	e := newIncidentEnv(t)
	const notes = 40
	var outs []*updateOutcome
	for i := range notes {
		outs = append(outs, e.change(time.Duration(i+1)*time.Second, UpdateNote, ChangeRequest{Actor: "U1", Text: fmt.Sprintf("note %d", i)}))
	}
	e.env.RegisterDelayedCallback(func() { e.env.SetContinueAsNewSuggested(true) }, (notes+1)*time.Second)
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0002", Title: "x", DeclaredBy: "U1"})
	err := e.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var next IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.Key != "INC-2026-0002" {
		t.Fatalf("state not carried: %+v", next)
	}
	for i, o := range outs {
		if !o.done || o.rejected != nil {
			t.Fatalf("note %d: done=%v rejected=%v", i, o.done, o.rejected)
		}
	}
	var texts []string
	for _, ev := range next.State.Timeline {
		if ev.Kind == EventNote {
			texts = append(texts, ev.Detail)
		}
	}
	if len(texts) != notes || texts[0] != "note 0" || texts[notes-1] != fmt.Sprintf("note %d", notes-1) {
		t.Fatalf("carried %d notes: %v", len(texts), texts)
	}
	accepted := len(next.State.Timeline)

	// The next generation picks up where the last left off.
	e2 := newIncidentEnv(t)
	e2.change(time.Minute, UpdateNote, ChangeRequest{Actor: "U2", Text: "after the hand-over"})
	e2.change(2*time.Minute, UpdateResolve, ChangeRequest{Actor: "U2"})
	e2.env.ExecuteWorkflow(IncidentWorkflow, next)
	var final IncidentState
	if err := e2.env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	if final.Generation != 1 || len(final.Timeline) != accepted+2 || final.Timeline[accepted].Detail != "after the hand-over" {
		t.Fatalf("generation %d, %d events", final.Generation, len(final.Timeline))
	}
}

// TestIncidentEnforcesThePolicy sends Slack requests straight to the
// workflow, as a client that skipped the bot's checks would: what the
// incident knows (its commander, its channel) decides.
func TestIncidentEnforcesThePolicy(t *testing.T) {
	e := newIncidentEnv(t)
	slack := func(user string, holds ...policy.Principal) ChangeRequest {
		return ChangeRequest{Actor: user, Origin: "slack", Channel: "C0INC", Holds: holds}
	}
	role := func(r ChangeRequest, user string) ChangeRequest { r.Role, r.User = RoleCommander, user; return r }
	var own, cli, other error
	query := func(q ...any) error {
		_, err := e.env.QueryWorkflow(QueryTimeline, q...)
		return err
	}
	e.env.RegisterDelayedCallback(func() {
		own = query(QueryRequest{User: "U0X", Origin: "slack", Channel: "C0INC"})
		other = query(QueryRequest{User: "U0X", Origin: "slack", Channel: "C0FAKE"})
		cli = query()
	}, 30*time.Second)
	cases := []struct {
		name string
		out  *updateOutcome
		want string
	}{
		{"responder takes command", e.change(time.Minute, UpdateSetRole, role(slack("U_RESP", policy.Responders), "U_RESP")), "you are not allowed to assign the commander role"},
		{"responder resolves", e.change(time.Minute+time.Second, UpdateResolve, slack("U_RESP", policy.Responders)), "you are not allowed to resolve incidents"},
		{"responder from another channel", e.change(time.Minute+2*time.Second, UpdateSetSeverity, ChangeRequest{Actor: "U_RESP", Origin: "slack", Channel: "C0FAKE", Value: "SEV1", Holds: []policy.Principal{policy.Responders}}), "this is not INC-2026-0042's channel"},
		{"slack request without a channel", e.change(time.Minute+3*time.Second, UpdateNote, ChangeRequest{Actor: "U_RESP", Origin: "slack", Text: "x", Holds: []policy.Principal{policy.Noters}}), "this is not INC-2026-0042's channel"},
		{"commander appoints", e.change(2*time.Minute, UpdateSetRole, role(slack("U_CMD", policy.Commanders), "U_IC")), ""},
		{"claimed incident commander", e.change(3*time.Minute, UpdateSetSeverity, slack("U_NOBODY", policy.IncidentCommander)), "you are not allowed to change the severity"},
		{"incident commander hands over", e.change(4*time.Minute, UpdateSetRole, role(slack("U_IC"), "U_NEXT")), ""},
		{"former commander resolves", e.change(5*time.Minute, UpdateResolve, slack("U_IC")), "you are not allowed to resolve incidents"},
		{"stranger notes", e.change(5*time.Minute+time.Second, UpdateNote, func() ChangeRequest { r := slack("U_STRANGER"); r.Text = "hi"; return r }()), "you are not allowed to add notes"},
		{"new commander resolves", e.change(6*time.Minute, UpdateResolve, slack("U_NEXT")), ""},
	}
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0042", Title: "x", Severity: "SEV3", DeclaredBy: "U1", Origin: "slack",
		Slack: &IncidentSlack{}})
	for _, c := range cases {
		switch {
		case !c.out.done:
			t.Errorf("%s: never finished", c.name)
		case c.want == "" && c.out.rejected != nil:
			t.Errorf("%s: refused: %v", c.name, c.out.rejected)
		case c.want != "" && (c.out.rejected == nil || !strings.Contains(c.out.rejected.Error(), c.want)):
			t.Errorf("%s: want %q, got %v", c.name, c.want, c.out.rejected)
		}
	}
	if own != nil || cli != nil {
		t.Fatalf("reads from the own channel (%v) or the CLI (%v) refused", own, cli)
	}
	if other == nil || !strings.Contains(other.Error(), "this is not INC-2026-0042's channel") {
		t.Fatalf("read from a look-alike channel: %v", other)
	}
}

// TestUnboundIncidentRefusesSlack: an incident without a channel (declared
// from the CLI, or whose channel creation failed) cannot be reached from
// any Slack channel, while the CLI still works.
func TestUnboundIncidentRefusesSlack(t *testing.T) {
	e := newIncidentEnv(t)
	fromSlack := e.change(time.Minute, UpdateNote, ChangeRequest{Actor: "U1", Origin: "slack", Channel: "C0ANY", Text: "x", Holds: []policy.Principal{policy.Noters}})
	fromCLI := e.change(2*time.Minute, UpdateNote, ChangeRequest{Actor: "alice", Origin: "cli", Text: "x"})
	resolve := e.change(3*time.Minute, UpdateResolve, ChangeRequest{Actor: "alice", Origin: "cli"})
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0043", Title: "x", Severity: "SEV3", DeclaredBy: "alice", Origin: "cli"})
	if fromSlack.rejected == nil || !strings.Contains(fromSlack.rejected.Error(), "INC-2026-0043 has no Slack channel yet") {
		t.Fatalf("slack note on an unbound incident: %v", fromSlack.rejected)
	}
	if fromCLI.rejected != nil || resolve.rejected != nil {
		t.Fatalf("cli refused: %v %v", fromCLI.rejected, resolve.rejected)
	}
}

// TestDeclaredPlaybookPassesTheRunRule: a playbook asked for at declare
// time is checked like one asked for in the channel (issue item 1).
func TestDeclaredPlaybookPassesTheRunRule(t *testing.T) {
	pb := load(t, header+"steps:\n  - id: contain\n    action: core.log\n    with: {message: hi}\n")
	for _, c := range []struct {
		name  string
		holds []policy.Principal
		runs  int
	}{
		{"declarer only", []policy.Principal{policy.Declarers}, 0},
		{"responder", []policy.Principal{policy.Declarers, policy.Responders}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newIncidentEnv(t)
			var st IncidentState
			var ev []Event
			e.env.RegisterDelayedCallback(func() {
				st = e.state()
				v, err := e.env.QueryWorkflow(QueryTimeline)
				if err != nil || v.Get(&ev) != nil {
					t.Errorf("timeline: %v", err)
				}
				e.env.CancelWorkflow()
			}, time.Hour)
			e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0044", Title: "x", Severity: "SEV3", DeclaredBy: "U1", Origin: "slack",
				Slack: &IncidentSlack{}, Run: &RunRequest{Playbook: pb, Actor: "U1", Origin: "slack", RequestID: "t1", Holds: c.holds}})
			if len(st.Runs) != c.runs {
				t.Fatalf("runs %+v", st.Runs)
			}
			if c.runs == 0 {
				if !slices.ContainsFunc(ev, func(x Event) bool {
					return x.Kind == EventRunRequested && x.Outcome == "refused" && strings.Contains(x.Detail, "not allowed to run playbooks")
				}) {
					t.Fatalf("no refusal on the timeline: %+v", ev)
				}
			}
		})
	}
}

func TestPrivateIncident(t *testing.T) {
	e := newIncidentEnv(t)
	var st IncidentState
	var fromElsewhere error
	e.env.RegisterDelayedCallback(func() {
		st = e.state()
		_, fromElsewhere = e.env.QueryWorkflow(QueryStatus, QueryRequest{User: "U0X", Origin: "slack", Channel: "C0GENERAL"})
		e.env.CancelWorkflow()
	}, time.Minute)
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0007", Title: "Payroll insider", Severity: "SEV1", DeclaredBy: "U1", Origin: "slack",
		Slack: &IncidentSlack{Announce: "C0ANNOUNCE", DeclaredIn: "C0GENERAL", Private: true}})
	if len(e.created) != 1 || !e.created[0].Private || !st.Private {
		t.Fatalf("created %+v, state private=%v", e.created, st.Private)
	}
	if len(e.announced) != 2 || e.announced[0].Channel != "C0ANNOUNCE" || e.announced[1].Channel != "C0GENERAL" || !e.announced[0].Card.Private {
		t.Fatalf("announced %+v", e.announced)
	}
	if fromElsewhere == nil || !strings.Contains(fromElsewhere.Error(), "INC-2026-0007 is private") || strings.Contains(fromElsewhere.Error(), "C0INC") {
		t.Fatalf("read of a private incident from another channel: %v", fromElsewhere)
	}
}

// TestChannelFailureIsTold: an incident whose channel cannot be created
// says so on the timeline and to the channel the declare came from, and
// Slack cannot reach it (issue item 3: never silently unbound).
func TestChannelFailureIsTold(t *testing.T) {
	e := newIncidentEnv(t)
	e.createErr = temporal.NewNonRetryableApplicationError("create channel #inc-2026-0043-x: missing_scope", "SlackError", nil)
	note := e.change(time.Minute, UpdateNote, ChangeRequest{Actor: "U1", Origin: "slack", Channel: "C0GENERAL", Text: "x", Holds: []policy.Principal{policy.Noters}})
	var ev []Event
	e.env.RegisterDelayedCallback(func() {
		v, err := e.env.QueryWorkflow(QueryTimeline)
		if err != nil || v.Get(&ev) != nil {
			t.Errorf("timeline: %v", err)
		}
		e.env.CancelWorkflow()
	}, 2*time.Minute)
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0043", Title: "x", Severity: "SEV2", DeclaredBy: "U1", Origin: "slack",
		Slack: &IncidentSlack{Announce: "C0ANNOUNCE", DeclaredIn: "C0GENERAL"}})
	if !slices.ContainsFunc(ev, func(x Event) bool {
		return x.Kind == EventSlackFailed && strings.Contains(x.Detail, "missing_scope") && strings.Contains(x.Detail, "the firebreak CLI can")
	}) {
		t.Fatalf("no failure on the timeline: %+v", ev)
	}
	if len(e.posts) != 1 || e.posts[0].Channel != "C0GENERAL" || !strings.Contains(e.posts[0].Text, "could not create a channel for INC-2026-0043") {
		t.Fatalf("declaring channel not told: %+v", e.posts)
	}
	if len(e.announced) != 0 {
		t.Fatalf("an incident without a channel was announced: %+v", e.announced)
	}
	if note.rejected == nil || !strings.Contains(note.rejected.Error(), "has no Slack channel yet") {
		t.Fatalf("slack note on the unbound incident: %v", note.rejected)
	}
}

// TestRunsThatNeverReportAreNoticed: a run that ends without reporting
// back (terminated, say) no longer keeps the incident from resolving;
// one that completed without its report is finished from its result.
func TestRunsThatNeverReportAreNoticed(t *testing.T) {
	pb := load(t, header+"steps:\n  - id: hold\n    wait: {duration: 1h}\n")
	for _, c := range []struct {
		name   string
		res    PlaybookResult
		err    error
		status string
	}{
		{"failed", PlaybookResult{}, errors.New("worker lost the playbook"), RunLost},
		{"report lost", PlaybookResult{Playbook: "t", Status: RunSucceeded}, nil, RunSucceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newIncidentEnv(t)
			e.env.OnWorkflow(PlaybookWorkflow, mock.Anything, mock.Anything).Return(c.res, c.err)
			resolve := e.change(time.Minute, UpdateResolve, ChangeRequest{Actor: "alice", Origin: "cli"})
			e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0045", Title: "x", Severity: "SEV3", DeclaredBy: "alice", Origin: "cli",
				Run: &RunRequest{Playbook: pb, Actor: "alice", Origin: "cli", RequestID: "r1"}})
			if resolve.rejected != nil || !e.env.IsWorkflowCompleted() {
				t.Fatalf("resolve refused: %v", resolve.rejected)
			}
			var final IncidentState
			if err := e.env.GetWorkflowResult(&final); err != nil {
				t.Fatal(err)
			}
			if len(final.Runs) != 1 || final.Runs[0].Status != c.status || final.Runs[0].EndedAt.IsZero() {
				t.Fatalf("runs %+v", final.Runs)
			}
			lost := slices.ContainsFunc(final.Timeline, func(x Event) bool {
				return x.Kind == EventRunLost && strings.Contains(x.Detail, "worker lost the playbook")
			})
			if lost != (c.status == RunLost) {
				t.Fatalf("lost event %v; timeline %+v", lost, final.Timeline)
			}
		})
	}
}

// TestInheritedRunsAreSwept: after continue-as-new the incident holds no
// future for runs it started before; it asks Temporal about them.
func TestInheritedRunsAreSwept(t *testing.T) {
	e := newIncidentEnv(t)
	var runs *activities.Runs
	e.env.RegisterActivity(runs)
	asked := 0
	e.env.OnActivity(runs.RunStates, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RunStatesInput) (activities.RunStatesResult, error) {
			asked++
			if asked < 3 {
				return activities.RunStatesResult{}, nil // still running
			}
			return activities.RunStatesResult{Ended: map[string]string{in.IDs[0]: "TimedOut"}}, nil
		})
	early := e.change(90*time.Second, UpdateResolve, ChangeRequest{Actor: "alice", Origin: "cli"})
	late := e.change(5*time.Minute, UpdateResolve, ChangeRequest{Actor: "alice", Origin: "cli"})
	id := "incident-INC-2026-0046/t-r1"
	e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Key: "INC-2026-0046", State: &IncidentState{
		Key: "INC-2026-0046", Title: "x", Severity: "SEV3", Status: StatusInvestigating, Roles: map[string]string{},
		Runs: []RunRef{{ID: id, Playbook: "t", Mode: ModeRun, Status: RunRunning, RequestedBy: "alice"}},
	}})
	if early.rejected == nil || !strings.Contains(early.rejected.Error(), "playbooks are still running") {
		t.Fatalf("resolve while the run is still going: %v", early.rejected)
	}
	if late.rejected != nil || !e.env.IsWorkflowCompleted() {
		t.Fatalf("resolve after the sweep: %v", late.rejected)
	}
	var final IncidentState
	if err := e.env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	if final.Runs[0].Status != RunLost || !strings.Contains(final.Runs[0].Error, "timedout without reporting back") {
		t.Fatalf("run %+v", final.Runs[0])
	}
}
