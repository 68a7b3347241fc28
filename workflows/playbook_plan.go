package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/playbooks"
)

// plan describes every step with read-only Plan calls and changes
// nothing. Values that only a real run produces (earlier steps' outputs)
// are unknown here; such steps say so in their note.
func (r *run) plan(ctx workflow.Context) PlaybookResult {
	var planned []PlannedStep
	for _, s := range r.pb.AllSteps() {
		if ctx.Err() != nil {
			return r.stoppedBeforeChange(nil)
		}
		ps, err := r.planStep(ctx, s)
		if ctx.Err() != nil {
			return r.stoppedBeforeChange(err)
		}
		if err != nil {
			r.status = RunFailed
			return PlaybookResult{Playbook: r.pb.Metadata.Name, Status: RunFailed, Error: fmt.Sprintf("step %s: %s", s.ID, errorMessage(err)), Steps: r.snapshot()}
		}
		planned = append(planned, ps...)
	}
	r.status = RunPlanned
	return PlaybookResult{
		Playbook: r.pb.Metadata.Name,
		Status:   RunPlanned,
		Steps:    r.snapshot(),
		Plan:     &RunPlan{Steps: planned, Hash: hashPlan(planned)},
	}
}

func (r *run) planStep(ctx workflow.Context, s *playbooks.Step) ([]PlannedStep, error) {
	st := r.byID[s.ID]
	ps := PlannedStep{ID: s.ID, Kind: string(s.Kind), Action: s.Action, Approval: s.Approval}
	if ok, err := r.eval.EvalBool(s.When, r.vars); err != nil {
		ps.Note = "runs only if " + s.When + " (known at run time)"
	} else if !ok {
		ps.Summary = "skipped: " + s.When + " is false"
		st.Status = StepSkipped
		return []PlannedStep{ps}, nil
	}
	switch s.Kind {
	case playbooks.KindAction:
		if s.Approval != nil && r.firstHour {
			note, err := r.planApprovers(ctx, s)
			if err != nil {
				return nil, err
			}
			ps.Note = joinNote(ps.Note, note)
		}
		with, err := r.eval.Render(s.With, r.vars)
		if err != nil {
			ps.Summary = s.Action + " (inputs known at run time)"
			ps.Note = joinNote(ps.Note, r.unknownYet(s, "with.", err))
			break
		}
		p, err := r.planAction(ctx, s, with, r.idempotencyKey(ctx, s.ID))
		if err != nil {
			return nil, err
		}
		ps.Summary, ps.Changes = p.Summary, p.Changes
	case playbooks.KindParallel:
		ps.Summary = fmt.Sprintf("run %d steps in parallel", len(s.Parallel))
	case playbooks.KindManual:
		task, err := r.eval.RenderString(s.Manual.Task, r.vars)
		if err != nil {
			task = s.Manual.Task
		}
		ps.Summary = "manual task"
		if s.Manual.Role != "" {
			ps.Summary += " for " + s.Manual.Role
		}
		ps.Summary += ": " + task
	case playbooks.KindWait:
		ps.Summary = describeStep(s)
		if s.Wait.DurationExpr != "" {
			// Show what the template gives now; it is rendered again when
			// the step starts.
			if d, err := r.waitDuration(s); err == nil {
				ps.Summary = fmt.Sprintf("wait %s (%s)", playbooks.Duration(d), s.Wait)
			}
		}
	case playbooks.KindCall:
		ps.Summary = "call " + s.Call.Playbook
		callee, ok := r.pb.Callee(s.Call.Playbook)
		if !ok {
			return nil, fmt.Errorf("unknown playbook %s", s.Call.Playbook)
		}
		with, err := r.eval.Render(s.Call.With, r.vars)
		if err != nil {
			ps.Note = joinNote(ps.Note, r.unknownYet(s, "call.with.", err))
			break
		}
		inputs, err := resolveInputs(callee, with)
		if err != nil {
			return nil, fmt.Errorf("inputs of %s: %w", callee.Metadata.Name, err)
		}
		id := r.childID(ctx, s.ID)
		if r.mode() != ModePlan {
			id += "/plan" // the plan pass before a chat run; the real child takes the plain ID
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id})
		var res PlaybookResult
		if err := workflow.ExecuteChildWorkflow(cctx, PlaybookWorkflow, PlaybookInput{
			Playbook: callee, Inputs: inputs, Mode: ModePlan, Requester: r.in.Requester,
			Origin: r.origin, Incident: r.in.Incident, Config: r.in.Config,
		}).Get(ctx, &res); err != nil {
			return nil, err
		}
		if res.Plan == nil {
			return nil, fmt.Errorf("%s: %s", callee.Metadata.Name, res.Error)
		}
		out := []PlannedStep{ps}
		for _, child := range res.Plan.Steps {
			child.ID = s.ID + "/" + child.ID
			out = append(out, child)
		}
		st.Status = StepPlanned
		return out, nil
	}
	st.Status = StepPlanned
	r.event(ctx, Event{Kind: EventStepPlanned, Actor: SystemActor, Step: s.ID, Detail: ps.Summary})
	return []PlannedStep{ps}, nil
}

// unknownYet says, for a plan, why a step's inputs cannot be worked out
// before the run: a sentence naming the step, the field and the
// expression, rather than CEL's "no such key: x".
func (r *run) unknownYet(s *playbooks.Step, prefix string, err error) string {
	var ee *playbooks.ExprError
	if !errors.As(err, &ee) {
		return fmt.Sprintf("step %s: its inputs cannot be worked out before the run: %s", s.ID, err)
	}
	where := "${{ " + ee.Expr + " }}"
	if ee.Field != "" {
		where = prefix + ee.Field + " = " + where
	}
	if k := ee.MissingKey(); k != "" {
		if _, isStep := r.byID[k]; isStep {
			return fmt.Sprintf("step %s: %s reads the outputs of step %s, which only a real run produces; it is worked out when the run gets there", s.ID, where, k)
		}
		return fmt.Sprintf("step %s: %s reads %q, which is not set; the step would fail if it ran now", s.ID, where, k)
	}
	return fmt.Sprintf("step %s: %s cannot be worked out before the run: %v", s.ID, where, ee.Err)
}

// planApprovers says who may approve an approval step, and warns when an
// approver group is not configured or nobody could approve: the run would
// stop there.
func (r *run) planApprovers(ctx workflow.Context, s *playbooks.Step) (string, error) {
	a := s.Approval
	users, err := r.approvalUsers(a)
	if err != nil {
		return r.unknownYet(s, "", err), nil
	}
	res, err := r.resolveGate(ctx, gateInput(a, users))
	if err != nil {
		return "", fmt.Errorf("resolve approvers: %w", err)
	}
	var notes []string
	for _, g := range res.UnknownGroups {
		notes = append(notes, fmt.Sprintf("warning: approver group %q is not configured on this worker (access.groups.%s in firebreak.yaml), so it adds nobody", g, g))
	}
	min := max(a.Min, 1)
	eligible := r.eligible(a, res.Members)
	if len(eligible) < min {
		notes = append(notes, "warning: a run would fail here: "+r.tooFewApprovers(a, min, users, eligible, res))
	} else {
		notes = append(notes, "approvers: "+strings.Join(eligible, ", "))
	}
	return strings.Join(notes, "; "), nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
