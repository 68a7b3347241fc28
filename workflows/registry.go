package workflows

import (
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"
)

// recentDeclares bounds the request IDs the registry remembers to answer
// retries; Slack retries within minutes, so a few hundred is plenty.
const recentDeclares = 500

// RegistryInput carries the registry's state across continue-as-new.
type RegistryInput struct {
	Year int `json:"year,omitempty"`
	Seq  int `json:"seq,omitempty"`
	// Recent maps request IDs to the incidents they declared, oldest first.
	Recent []RecentDeclare `json:"recent,omitempty"`
}

// RecentDeclare is one remembered declare.
type RecentDeclare struct {
	RequestID string        `json:"request_id"`
	Result    DeclareResult `json:"result"`
}

// IncidentRegistryWorkflow hands out human-friendly incident keys
// (INC-2026-0042: year and a per-year sequence) and starts each incident.
// It is one long-running workflow, so keys are unique without a database;
// the bot reaches it with a single update-with-start call per declare.
func IncidentRegistryWorkflow(ctx workflow.Context, in RegistryInput) error {
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
	validate := func(_ workflow.Context, r DeclareRequest) error {
		switch {
		case strings.TrimSpace(r.Title) == "":
			return errors.New("an incident needs a title")
		case strings.TrimSpace(r.DeclaredBy) == "":
			return errors.New("an incident needs the identity of who declared it")
		case strings.TrimSpace(r.RequestID) == "":
			return errors.New("a declare needs a request ID so retries are safe")
		}
		return nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDeclare, declare, workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistoryEvents
	}); err != nil {
		return err
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return workflow.NewContinueAsNewError(ctx, IncidentRegistryWorkflow, *reg)
}
