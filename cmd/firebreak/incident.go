package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/workflows"
)

func newIncidentCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Declare, list and inspect incidents"}
	cmd.AddCommand(newIncidentDeclareCommand(g), newIncidentListCommand(g), newIncidentStatusCommand(g), newTimelineCommand(g, "timeline KEY", "Print an incident's whole timeline, playbook runs included", workflows.IncidentWorkflowID))
	return cmd
}

func newIncidentDeclareCommand(g *globals) *cobra.Command {
	var sev, as string
	cmd := &cobra.Command{
		Use:   "declare TITLE",
		Short: "Declare an incident (with a Slack channel when the worker has Slack configured)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validSeverity(sev) {
				return usageError{fmt.Errorf("--sev %q: use 1, 2, 3 or 4", sev)}
			}
			return g.withClient(cmd, func(ctx context.Context, s *stack) error {
				req := workflows.DeclareRequest{
					Title: args[0], Severity: "SEV" + strings.TrimPrefix(strings.ToUpper(sev), "SEV"), DeclaredBy: g.requester(as),
					Origin: "cli", RequestID: fmt.Sprintf("cli-%d", time.Now().UnixNano()), Config: s.cfg.PlaybookView(),
				}
				if s.cfg.Slack.BotToken.IsSet() {
					req.Slack = &workflows.IncidentSlack{Invite: s.cfg.Access.Invite, Announce: s.cfg.Channels.Announce, Suggested: s.cfg.Channels.Suggested}
				}
				start := s.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
					ID: workflows.RegistryWorkflowID, TaskQueue: s.cfg.Temporal.TaskQueue,
					WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
				}, workflows.IncidentRegistryWorkflow, workflows.RegistryInput{})
				h, err := s.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
					StartWorkflowOperation: start,
					UpdateOptions: client.UpdateWorkflowOptions{
						UpdateID: "declare-" + req.RequestID, UpdateName: workflows.UpdateDeclare, Args: []any{req},
						WaitForStage: client.WorkflowUpdateStageCompleted,
					},
				})
				var res workflows.DeclareResult
				if err == nil {
					err = h.Get(ctx, &res)
				}
				if err != nil {
					return refused(fmt.Errorf("declare: %w", err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s declared (workflow %s)\n", res.Key, res.WorkflowID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&sev, "sev", "3", "severity 1 (worst) to 4")
	cmd.Flags().StringVar(&as, "as", "", "who declares (default $FIREBREAK_USER or $USER)")
	return cmd
}

func validSeverity(s string) bool {
	switch strings.TrimPrefix(strings.ToUpper(s), "SEV") {
	case "1", "2", "3", "4":
		return true
	}
	return false
}

func newIncidentListCommand(g *globals) *cobra.Command {
	var all bool
	var sev string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents (open ones unless --all), filtered by the FirebreakSeverity and FirebreakStatus search attributes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			query := "WorkflowType = 'IncidentWorkflow'"
			if !all {
				query += fmt.Sprintf(" AND %s != '%s'", workflows.StatusKey.GetName(), workflows.StatusResolved)
			}
			if sev != "" {
				if !validSeverity(sev) {
					return usageError{fmt.Errorf("--sev %q: use 1, 2, 3 or 4", sev)}
				}
				query += fmt.Sprintf(" AND %s = 'SEV%s'", workflows.SeverityKey.GetName(), strings.TrimPrefix(strings.ToUpper(sev), "SEV"))
			}
			return g.withClient(cmd, func(ctx context.Context, s *stack) error {
				resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
					Namespace: s.cfg.Temporal.Namespace, Query: query, PageSize: 1000,
				})
				if err != nil {
					return fmt.Errorf("list incidents: %w", err)
				}
				type row struct {
					Key      string    `json:"key"`
					Severity string    `json:"severity"`
					Status   string    `json:"status"`
					Started  time.Time `json:"started"`
				}
				var rows []row
				for _, e := range resp.GetExecutions() {
					r := row{Key: strings.TrimPrefix(e.GetExecution().GetWorkflowId(), "incident-"), Started: e.GetStartTime().AsTime()}
					fields := e.GetSearchAttributes().GetIndexedFields()
					if p := fields[workflows.SeverityKey.GetName()]; p != nil {
						_ = json.Unmarshal(p.GetData(), &r.Severity)
					}
					if p := fields[workflows.StatusKey.GetName()]; p != nil {
						_ = json.Unmarshal(p.GetData(), &r.Status)
					}
					rows = append(rows, r)
				}
				out := cmd.OutOrStdout()
				if jsonOut {
					return writeIndentedJSON(out, rows)
				}
				if len(rows) == 0 {
					fmt.Fprintln(out, "no incidents")
					return nil
				}
				fmt.Fprintf(out, "%-16s %-5s %-14s %s\n", "KEY", "SEV", "STATUS", "DECLARED")
				for _, r := range rows {
					fmt.Fprintf(out, "%-16s %-5s %-14s %s\n", r.Key, r.Severity, r.Status, r.Started.UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include resolved incidents")
	cmd.Flags().StringVar(&sev, "sev", "", "only this severity (1-4)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}

func newIncidentStatusCommand(g *globals) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status KEY",
		Short: "Show an incident: severity, status, roles, channel and playbook runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withClient(cmd, func(ctx context.Context, s *stack) error {
				v, err := s.client.QueryWorkflow(ctx, workflows.IncidentWorkflowID(args[0]), "", workflows.QueryStatus)
				var st workflows.IncidentState
				if err == nil {
					err = v.Get(&st)
				}
				if err != nil {
					return fmt.Errorf("incident %s: %w", args[0], err)
				}
				out := cmd.OutOrStdout()
				if jsonOut {
					return writeIndentedJSON(out, st)
				}
				fmt.Fprintf(out, "%s  %s  %s  %s\n", st.Key, st.Severity, st.Status, st.Title)
				for _, r := range workflows.IncidentRoles() {
					if u := st.Roles[r]; u != "" {
						fmt.Fprintf(out, "  %-10s %s\n", r, u)
					}
				}
				if st.ChannelName != "" {
					fmt.Fprintf(out, "  channel    #%s (%s)\n", st.ChannelName, st.Channel)
				}
				for _, r := range st.Runs {
					fmt.Fprintf(out, "  run        %s %s (%s, by %s)\n", r.Playbook, r.Status, r.ID, r.RequestedBy)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}
