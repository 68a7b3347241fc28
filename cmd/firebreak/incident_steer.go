package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// addIncidentSteerCommands adds what Slack's /incident verbs do, for
// incidents steered without Slack: note, sev, role, resolve, run and plan
// (status KEY NEW is on the status command, as in Slack). The CLI acts as
// an operator; the incident's validators still decide.
func addIncidentSteerCommands(cmd *cobra.Command, g *globals) {
	cmd.AddCommand(
		newIncidentChangeCommand(g, "note KEY TEXT...", "Add a note to the incident's timeline", workflows.UpdateNote, 2, -1,
			func(args []string) (workflows.ChangeRequest, error) {
				text := strings.TrimSpace(strings.Join(args[1:], " "))
				if text == "" {
					return workflows.ChangeRequest{}, errors.New("a note needs text")
				}
				return workflows.ChangeRequest{Text: text}, nil
			}),
		newIncidentChangeCommand(g, "sev KEY 1-4", "Change the incident's severity", workflows.UpdateSetSeverity, 2, 2,
			func(args []string) (workflows.ChangeRequest, error) {
				if !validSeverity(args[1]) {
					return workflows.ChangeRequest{}, fmt.Errorf("severity %q: use 1, 2, 3 or 4", args[1])
				}
				return workflows.ChangeRequest{Value: "SEV" + strings.TrimPrefix(strings.ToUpper(args[1]), "SEV")}, nil
			}),
		newIncidentChangeCommand(g, "role KEY commander|scribe|comms USER", "Assign an incident role", workflows.UpdateSetRole, 3, 3,
			func(args []string) (workflows.ChangeRequest, error) {
				role := strings.ToLower(args[1])
				if !slices.Contains(workflows.IncidentRoles(), role) {
					return workflows.ChangeRequest{}, fmt.Errorf("role %q: use %s", args[1], strings.Join(workflows.IncidentRoles(), ", "))
				}
				return workflows.ChangeRequest{Role: role, User: args[2]}, nil
			}),
		newIncidentChangeCommand(g, "resolve KEY [SUMMARY...]", "Resolve the incident (its playbook runs must have finished)", workflows.UpdateResolve, 1, -1,
			func(args []string) (workflows.ChangeRequest, error) {
				return workflows.ChangeRequest{Text: strings.Join(args[1:], " ")}, nil
			}),
		newIncidentRunCommand(g, false),
		newIncidentRunCommand(g, true),
	)
}

// newIncidentChangeCommand builds a command that sends the incident one
// change update; request builds it from the arguments (KEY first), or
// says what is wrong with them before anything is sent.
func newIncidentChangeCommand(g *globals, use, short, update string, minArgs, maxArgs int, request func(args []string) (workflows.ChangeRequest, error)) *cobra.Command {
	var as string
	args := cobra.MinimumNArgs(minArgs)
	switch {
	case maxArgs == minArgs:
		args = cobra.ExactArgs(minArgs)
	case maxArgs > 0:
		args = cobra.RangeArgs(minArgs, maxArgs)
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := request(args)
			if err != nil {
				return usageError{err}
			}
			r.Actor = g.requester(as)
			return g.changeIncident(cmd, args[0], update, r)
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "who makes the change (default $FIREBREAK_USER or $USER)")
	return cmd
}

// changeIncident sends one change to the incident key and prints where
// the incident stands; the workflow's validator refuses what it must.
func (g *globals) changeIncident(cmd *cobra.Command, key, update string, r workflows.ChangeRequest) error {
	r.Origin = "cli"
	return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
		var st workflows.IncidentState
		if err := updateIncident(ctx, s, key, update, r, &st); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s  %s  %s  %s\n", st.Key, st.Severity, st.Status, foldSpace(st.Title))
		return nil
	})
}

// updateIncident sends an update to the incident key, naming the incident
// (not its workflow) in errors.
func updateIncident(ctx context.Context, s *stack, key, name string, arg, result any) error {
	if err := sendUpdate(ctx, s.client, incidentWorkflowID(key), name, arg, result); err != nil {
		return fmt.Errorf("incident %s: %w", incidentKey(key), err)
	}
	return nil
}

func newIncidentRunCommand(g *globals, plan bool) *cobra.Command {
	f := &playbookFlags{}
	var (
		inputs    []string
		as        string
		detach    bool
		jsonOut   bool
		pollEvery time.Duration
		planFlag  bool
	)
	use, short := "run KEY PLAYBOOK [--input k=v ...]", "Run a playbook in the incident (or --plan it) and follow it"
	if plan {
		use, short = "plan KEY PLAYBOOK [--input k=v ...]", "Plan a playbook in the incident: what it would do, changing nothing"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

The incident starts the run (it shows in the incident's status and
timeline, and in its Slack channel if it has one) and the CLI follows it as
playbook run does. Exit status: 0 when the run succeeds (or the plan is
ready), 1 when it fails, is rejected or aborted, 2 for bad input.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) != 1 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completePlaybookNames(g, f)(c, nil, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, vals, err := resolveRun(cmd, g, f, args[1], inputs)
			if err != nil {
				return err
			}
			mode := workflows.ModeRun
			if plan || planFlag {
				mode = workflows.ModePlan
			}
			return g.withWorker(cmd, func(ctx context.Context, s *stack) error {
				req := workflows.RunRequest{
					Playbook: pb, Inputs: vals, Mode: mode, Actor: g.requester(as), Origin: "cli",
					RequestID: fmt.Sprintf("cli-%d", time.Now().UnixNano()),
				}
				var ref workflows.RunRef
				if err := updateIncident(ctx, s, args[0], workflows.UpdateRunPlaybook, req, &ref); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if detach {
					fmt.Fprintln(out, ref.ID)
					return nil
				}
				if !jsonOut {
					fmt.Fprintf(out, "run %s of %s (%s mode) started in %s as %s\n", ref.ID, pb.Metadata.Name, mode, incidentKey(args[0]), req.Actor)
				}
				return followAndReport(cmd, s, ref.ID, pollEvery, jsonOut)
			})
		},
	}
	cmd.Flags().StringVar(&f.dir, "dir", "", "directory of playbook YAML files to add to the built-in library (env FIREBREAK_PLAYBOOKS)")
	if !plan {
		cmd.Flags().BoolVar(&planFlag, "plan", false, "describe every step and change nothing (as `incident plan`)")
	}
	cmd.Flags().StringArrayVarP(&inputs, "input", "i", nil, "playbook input as key=value (repeatable)")
	cmd.Flags().StringVar(&as, "as", "", "who is running it (default $FIREBREAK_USER or $USER)")
	cmd.Flags().BoolVar(&detach, "detach", false, "print the run ID and return without following")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the final result as JSON instead of progress")
	cmd.Flags().DurationVar(&pollEvery, "poll", 300*time.Millisecond, "how often to fetch new timeline events")
	return cmd
}

// resolveRun finds the playbook called name and types its --input values:
// everything a run needs that can be wrong before anything is sent.
func resolveRun(cmd *cobra.Command, g *globals, f *playbookFlags, name string, inputs []string) (*playbooks.Playbook, map[string]any, error) {
	reg, err := actionRegistry()
	if err != nil {
		return nil, nil, err
	}
	pb, err := f.find(g, reg, name, cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	given := map[string]string{}
	for _, kv := range inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, usageError{fmt.Errorf("--input %q: want key=value", kv)}
		}
		given[k] = v
	}
	vals, err := playbooks.ResolveInputs(pb, given)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("playbook %s: %w", pb.Metadata.Name, err)}
	}
	return pb, vals, nil
}
