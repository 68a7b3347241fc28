package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/workflows"
)

func newIncidentCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Declare, list, inspect and steer incidents (keys are case-insensitive)"}
	cmd.AddCommand(newIncidentDeclareCommand(g), newIncidentListCommand(g), newIncidentStatusCommand(g),
		newTimelineCommand(g, "timeline KEY", "Print an incident's whole timeline, playbook runs included", incidentWorkflowID))
	addIncidentSteerCommands(cmd, g)
	return cmd
}

// incidentKey is the canonical form of a key as typed: INC-2026-0042 from
// inc-2026-0042 (or from the workflow ID, incident-INC-2026-0042).
func incidentKey(arg string) string {
	key := strings.ToUpper(strings.TrimSpace(arg))
	if rest, ok := strings.CutPrefix(key, "INCIDENT-"); ok && strings.HasPrefix(rest, "INC-") {
		return rest
	}
	return key
}

// incidentWorkflowID is the workflow of the incident arg names.
func incidentWorkflowID(arg string) string { return workflows.IncidentWorkflowID(incidentKey(arg)) }

func newIncidentDeclareCommand(g *globals) *cobra.Command {
	var sev, as string
	cmd := &cobra.Command{
		Use:   "declare TITLE [SEV]",
		Short: "Declare an incident (with a Slack channel when the worker has Slack configured)",
		Long: `declare starts an incident. The severity is --sev or, as in Slack's
/incident declare "title" sev2, a second argument: sev1 (worst) to sev4, or 1 to 4.`,
		Example: `  firebreak incident declare "Checkout is down" sev2
  firebreak incident declare "Disk full on db-3" --sev 3`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if cmd.Flags().Changed("sev") {
					return usageError{fmt.Errorf("severity given twice (%q and --sev %q): give one", args[1], sev)}
				}
				if !validSeverity(args[1]) {
					return usageError{fmt.Errorf("severity %q: use sev1, sev2, sev3 or sev4 (or 1 to 4); quote a title with spaces", args[1])}
				}
				sev = args[1]
			}
			if !validSeverity(sev) {
				return usageError{fmt.Errorf("--sev %q: use 1, 2, 3 or 4", sev)}
			}
			req := workflows.DeclareRequest{
				Title: args[0], Severity: "SEV" + strings.TrimPrefix(strings.ToUpper(sev), "SEV"), DeclaredBy: g.requester(as),
				Origin: "cli", RequestID: fmt.Sprintf("cli-%d", time.Now().UnixNano()),
			}
			if err := req.Validate(); err != nil {
				return usageError{err}
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				req.Config = s.cfg.PlaybookView()
				if s.cfg.Slack.BotToken.IsSet() {
					req.Slack = &workflows.IncidentSlack{Invite: s.cfg.Access.Invite, Announce: s.cfg.Channels.Announce, Suggested: s.cfg.Channels.Suggested}
				}
				// One signal, stored at once whatever the registry is doing;
				// then wait for the key. The request ID makes a repeat of
				// this signal harmless.
				if _, err := s.client.SignalWithStartWorkflow(ctx, workflows.RegistryWorkflowID, workflows.SignalDeclare, req,
					client.StartWorkflowOptions{ID: workflows.RegistryWorkflowID, TaskQueue: s.cfg.Temporal.TaskQueue},
					workflows.IncidentRegistryWorkflow, workflows.RegistryInput{}); err != nil {
					return fmt.Errorf("declare: %w", err)
				}
				res, err := awaitDeclared(ctx, s.client, req.RequestID, declareWait)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if res.Existing {
					fmt.Fprintf(out, "%s already declared by %s with this title; nothing new was created (workflow %s)\n", res.Key, req.DeclaredBy, res.WorkflowID)
					return nil
				}
				fmt.Fprintf(out, "%s declared (workflow %s)\n", res.Key, res.WorkflowID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&sev, "sev", "3", "severity 1 (worst) to 4")
	cmd.Flags().StringVar(&as, "as", "", "who declares (default $FIREBREAK_USER or $USER)")
	return cmd
}

// declareWait bounds how long the CLI waits for the registry to start the
// incident it declared; the registry takes declares in batches, so under
// load this can be seconds.
const declareWait = 30 * time.Second

// awaitDeclared asks the registry which incident request got until the
// incident has started (or the registry says why it did not).
func awaitDeclared(ctx context.Context, c client.Client, requestID string, within time.Duration) (workflows.DeclareResult, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		var res workflows.DeclareResult
		v, err := c.QueryWorkflow(ctx, workflows.RegistryWorkflowID, "", workflows.QueryDeclared, requestID)
		if err == nil {
			err = v.Get(&res)
		}
		switch {
		case err == nil && res.Error != "":
			return res, fmt.Errorf("declare: the registry did not create the incident: %s", res.Error)
		case err == nil && res.Key != "":
			return res, nil
		case ctx.Err() != nil:
			if err == nil {
				err = ctx.Err()
			}
			return res, fmt.Errorf("declare %s: sent, but the registry did not confirm it within %s; `firebreak incident list` shows whether it started: %w", requestID, within, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// settableStatuses are the statuses `incident status KEY NEW` moves to.
func settableStatuses() []string {
	return []string{workflows.StatusInvestigating, workflows.StatusContained, workflows.StatusRecovering}
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
					Title    string    `json:"title"`
					Started  time.Time `json:"started"`
				}
				rows := []row{}
				for _, e := range resp.GetExecutions() {
					r := row{Key: strings.TrimPrefix(e.GetExecution().GetWorkflowId(), "incident-"), Started: e.GetStartTime().AsTime()}
					// The title is not a search attribute; it is in the
					// incident's input, which continue-as-new carries on.
					var in workflows.IncidentInput
					if err := startInput(ctx, s.client, s.cfg.Temporal.Namespace, e.GetExecution(), &in); err != nil {
						return fmt.Errorf("list incidents: %w", err)
					}
					r.Title = in.Title
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
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tSEV\tSTATUS\tDECLARED\tTITLE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Key, r.Severity, r.Status, r.Started.UTC().Format(time.RFC3339), foldSpace(r.Title))
				}
				return tw.Flush()
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
	var as string
	cmd := &cobra.Command{
		Use:   "status KEY [investigating|contained|recovering]",
		Short: "Show an incident: severity, status, roles, channel and playbook runs; or move it to a new status",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if !slices.Contains(settableStatuses(), strings.ToLower(args[1])) {
					return usageError{fmt.Errorf("status %q: use %s (resolve with `firebreak incident resolve`)", args[1], strings.Join(settableStatuses(), ", "))}
				}
				return g.changeIncident(cmd, args[0], workflows.UpdateSetStatus, workflows.ChangeRequest{Actor: g.requester(as), Value: strings.ToLower(args[1])})
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				qctx, cancel := context.WithTimeout(ctx, callWait)
				defer cancel()
				v, err := s.client.QueryWorkflow(qctx, incidentWorkflowID(args[0]), "", workflows.QueryStatus)
				var st workflows.IncidentState
				if err == nil {
					err = v.Get(&st)
				}
				if err != nil {
					return fmt.Errorf("incident %s: %w", incidentKey(args[0]), timedOut(qctx, err, "the incident's status", callWait))
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
	cmd.Flags().StringVar(&as, "as", "", "who changes the status (default $FIREBREAK_USER or $USER)")
	return cmd
}
