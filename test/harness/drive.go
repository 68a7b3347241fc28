package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/workflows"
)

// Driver plays every human in a playbook run: it approves approval gates
// (as an eligible approver other than the requester), completes manual
// tasks, sends the signals waits ask for, and steps into called
// sub-playbooks. A wait longer than MaxWait is cut short with an abort, so
// a recording or test never sits out a real 30-minute timer.
type Driver struct {
	Client  client.Client
	MaxWait time.Duration
	// Actor signs tasks, signals and aborts.
	Actor string
	// Poll is how often the run's status is read.
	Poll time.Duration
	// Channel, for a run bound to a Slack channel (an incident's), is the
	// channel its votes come from, as a click in that channel would.
	Channel string
}

// Drive steers run id until it closes or ctx ends, then returns the
// IDs of every workflow it drove (the run and its children).
func (d *Driver) Drive(ctx context.Context, id string) ([]string, error) {
	driven := []string{id}
	acted := map[string]bool{}
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	for {
		closed, err := d.closed(ctx, id)
		if err != nil {
			return driven, err
		}
		if closed {
			return driven, nil
		}
		st, err := queryStatus(ctx, d.Client, id)
		if err != nil {
			return driven, err
		}
		for _, s := range st.Steps {
			key := id + "/" + s.ID
			switch s.Status {
			case workflows.StepAwaitingApproval:
				if s.Approval == nil || acted[key] {
					continue
				}
				for _, who := range s.Approval.Eligible {
					if who == st.Requester || slices.Contains(s.Approval.Approvers, who) || len(s.Approval.Approvers) >= s.Approval.Min {
						continue
					}
					if err := d.update(ctx, id, workflows.UpdateApprove, workflows.Vote{
						// It plays approvers clicking in Slack, whose votes the
						// bot verified (an unverified CLI claim counts once).
						StepID: s.ID, Approver: who, PlanHash: s.Approval.PlanHash, Approve: true, Origin: "slack", Channel: d.Channel,
					}); err != nil {
						return driven, fmt.Errorf("approve %s as %s: %w", key, who, err)
					}
					s.Approval.Approvers = append(s.Approval.Approvers, who)
				}
				acted[key] = true
			case workflows.StepAwaitingTask:
				if acted[key] {
					continue
				}
				if err := d.update(ctx, id, workflows.UpdateCompleteTask, workflows.TaskCompletion{StepID: s.ID, Actor: d.Actor, Origin: "driver"}); err != nil {
					return driven, fmt.Errorf("complete %s: %w", key, err)
				}
				acted[key] = true
			case workflows.StepWaiting:
				// Signals are sent at once; short timers run out on their
				// own; long ones end the run with an abort.
				if acted[key] || (s.Signal == "" && time.Until(s.Until) <= d.MaxWait) {
					continue
				}
				if err := d.signalOrAbort(ctx, id, s); err != nil {
					return driven, err
				}
				acted[key] = true
			case workflows.StepRunning:
				if s.Kind != "call" {
					continue
				}
				child := id + "/" + s.ID
				if acted[child] {
					continue
				}
				if _, err := d.Client.DescribeWorkflowExecution(ctx, child, ""); err != nil {
					continue // not started yet
				}
				acted[child] = true
				sub, err := d.Drive(ctx, child)
				driven = append(driven, sub...)
				if err != nil {
					return driven, err
				}
			}
		}
		select {
		case <-ctx.Done():
			return driven, ctx.Err()
		case <-tick.C:
		}
	}
}

// signalOrAbort releases a signal wait, or aborts a run stuck on a long timer.
func (d *Driver) signalOrAbort(ctx context.Context, id string, s workflows.StepState) error {
	if s.Signal != "" {
		return d.Client.SignalWorkflow(ctx, id, "", workflows.SignalResume, workflows.Resume{Name: s.Signal, Actor: d.Actor, Origin: "driver"})
	}
	return d.update(ctx, id, workflows.UpdateAbort, workflows.AbortRequest{Actor: d.Actor, Reason: "driver: timer longer than the recording allows", Origin: "driver"})
}

func (d *Driver) closed(ctx context.Context, id string) (bool, error) {
	desc, err := d.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", id, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

func (d *Driver) update(ctx context.Context, id, name string, arg any) error {
	h, err := d.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

func queryStatus(ctx context.Context, c client.Client, id string) (workflows.RunStatus, error) {
	var st workflows.RunStatus
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return st, fmt.Errorf("status of %s: %w", id, err)
	}
	if err := v.Get(&st); err != nil {
		return st, err
	}
	if st.Playbook == "" {
		return st, errors.New("empty status")
	}
	return st, nil
}
