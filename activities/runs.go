package activities

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Runs looks at playbook runs from outside, for an incident that lost
// track of them (it continued as new while they ran, so their futures are
// gone, and a run may have ended without reporting back).
type Runs struct {
	Temporal client.Client
}

// RunStatesInput names the runs to look at.
type RunStatesInput struct {
	IDs []string `json:"ids"`
}

// RunStatesResult says which of them have ended. A run still going is not
// listed.
type RunStatesResult struct {
	// Ended maps a run's workflow ID to how it ended: Temporal's status
	// (Completed, Failed, Terminated, TimedOut, Canceled, ContinuedAsNew)
	// or "NotFound".
	Ended map[string]string `json:"ended,omitempty"`
}

// RunStates describes each run; read-only.
func (r *Runs) RunStates(ctx context.Context, in RunStatesInput) (RunStatesResult, error) {
	res := RunStatesResult{Ended: map[string]string{}}
	for _, id := range in.IDs {
		d, err := r.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			res.Ended[id] = "NotFound"
		case err != nil:
			return RunStatesResult{}, fmt.Errorf("describe run %s: %w", id, err)
		case d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			res.Ended[id] = statusName(d.GetWorkflowExecutionInfo().GetStatus())
		}
	}
	return res, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "Completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "Failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "Canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "Terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "ContinuedAsNew"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "TimedOut"
	}
	return s.String()
}
