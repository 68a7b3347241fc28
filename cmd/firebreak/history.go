package main

import (
	"context"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// The lists (playbook runs, incident list) show what visibility does not
// index, the playbook, requester and title, from the execution's own
// history: its start event's input and, once closed, its result. Reading
// history needs no worker, unlike a query, so a list works with the
// worker down and for closed runs.

// startInput decodes the input exec was started with into into.
func startInput(ctx context.Context, c client.Client, namespace string, exec *commonpb.WorkflowExecution, into any) error {
	resp, err := c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: namespace, Execution: exec, MaximumPageSize: 1,
	})
	if err != nil {
		return fmt.Errorf("history of %s: %w", exec.GetWorkflowId(), err)
	}
	for _, ev := range resp.GetHistory().GetEvents() {
		if attrs := ev.GetWorkflowExecutionStartedEventAttributes(); attrs != nil {
			return firstPayload(attrs.GetInput(), into)
		}
	}
	return fmt.Errorf("history of %s: no start event", exec.GetWorkflowId())
}

// closeResult decodes the result of a completed exec into into; it
// reports false when exec did not complete (failed, terminated, ...).
func closeResult(ctx context.Context, c client.Client, namespace string, exec *commonpb.WorkflowExecution, into any) (bool, error) {
	resp, err := c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: namespace, Execution: exec, HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
	})
	if err != nil {
		return false, fmt.Errorf("history of %s: %w", exec.GetWorkflowId(), err)
	}
	for _, ev := range resp.GetHistory().GetEvents() {
		if attrs := ev.GetWorkflowExecutionCompletedEventAttributes(); attrs != nil {
			return true, firstPayload(attrs.GetResult(), into)
		}
	}
	return false, nil
}

func firstPayload(p *commonpb.Payloads, into any) error {
	if len(p.GetPayloads()) == 0 {
		return errors.New("no payload")
	}
	return converter.GetDefaultDataConverter().FromPayload(p.GetPayloads()[0], into)
}
