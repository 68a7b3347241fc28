package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// addInspectCommands adds check, list, show, graph and iam-policy: the
// commands that read playbooks without touching Temporal.
func addInspectCommands(cmd *cobra.Command, g *globals, f *playbookFlags) {
	cmd.AddCommand(
		newPlaybookCheckCommand(g, f),
		newPlaybookListCommand(g, f),
		newPlaybookShowCommand(g, f),
		newPlaybookGraphCommand(g, f),
		newPlaybookIAMPolicyCommand(g, f),
	)
}

// checkFailed reports playbooks with errors that were already printed,
// one per line. It exits 1, not 2: the files are what is wrong, not the
// command line.
type checkFailed struct{ errors, files int }

func (e checkFailed) Error() string {
	return countNoun(e.errors, "error") + " in " + countNoun(e.files, "file")
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// loadFailure turns a failure to load playbooks into what the user needs:
// every problem on stderr, exactly as the loader formats it, and a short
// summary to return; or a usage error when --dir (or FIREBREAK_PLAYBOOKS)
// names a directory that cannot be read.
func loadFailure(stderr io.Writer, err error) error {
	var list playbooks.ErrorList
	if errors.As(err, &list) {
		files := map[string]bool{}
		for _, e := range list {
			fmt.Fprintln(stderr, e)
			files[e.File] = true
		}
		return checkFailed{errors: len(list), files: len(files)}
	}
	var ue usageError
	var pe *fs.PathError
	if !errors.As(err, &ue) && errors.As(err, &pe) {
		return usageError{err}
	}
	return err
}

// inspectLibrary loads every playbook, for list.
func inspectLibrary(cmd *cobra.Command, g *globals, f *playbookFlags) ([]*playbooks.Playbook, error) {
	reg, err := actionRegistry()
	if err != nil {
		return nil, err
	}
	pbs, err := f.library(g, reg, cmd.ErrOrStderr())
	if err != nil {
		return nil, cannotLoad(cmd, err)
	}
	return pbs, nil
}

// inspectPlaybook loads the playbook called name.
func inspectPlaybook(cmd *cobra.Command, g *globals, f *playbookFlags, name string) (*playbooks.Playbook, *activities.Registry, error) {
	reg, err := actionRegistry()
	if err != nil {
		return nil, nil, err
	}
	pb, err := f.find(g, reg, name, cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, cannotLoad(cmd, err)
	}
	return pb, reg, nil
}

// cannotLoad reports a library that does not load; outside check, the
// summary says why the command did nothing.
func cannotLoad(cmd *cobra.Command, err error) error {
	err = loadFailure(cmd.ErrOrStderr(), err)
	var cf checkFailed
	if errors.As(err, &cf) {
		return fmt.Errorf("cannot load playbooks: %w", err)
	}
	return err
}

// completePlaybookNames completes NAME arguments from the library.
func completePlaybookNames(g *globals, f *playbookFlags) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		reg, err := actionRegistry()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		pbs, err := f.library(g, reg, nil)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []cobra.Completion
		for _, pb := range pbs {
			names = append(names, cobra.CompletionWithDesc(pb.Metadata.Name, pb.Metadata.Title))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newPlaybookCheckCommand(g *globals, f *playbookFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE...]",
		Short: "Check playbooks: the library (or --dir), or the given files",
		Long: `check loads playbooks the way a run would and reports every problem at once,
one per line as file:line:col: message.

With no arguments it checks the library: the built-in one plus --dir (else
$FIREBREAK_PLAYBOOKS), linked together as a run would see them. With files, it checks exactly those, as one set: a call
step must name a playbook among them.

Exit status: 0 when every playbook is valid, 1 when any has errors, 2 for a
bad command line (including a --dir that cannot be read or holds no playbook).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := actionRegistry()
			if err != nil {
				return err
			}
			var pbs []*playbooks.Playbook
			if len(args) > 0 {
				if f.dir != "" {
					return usageError{errors.New("playbook check: give --dir or FILE arguments, not both")}
				}
				pbs, err = playbooks.LoadFiles(args, reg)
			} else {
				// With a directory, check your playbooks (linked with the
				// shipped ones); without, the shipped ones.
				var ov playbooks.Overlay
				ov, err = f.overlay(g, reg, cmd.ErrOrStderr())
				pbs = ov.Playbooks
				if ov.Own > 0 {
					pbs = pbs[:ov.Own]
				}
			}
			if err != nil {
				return loadFailure(cmd.ErrOrStderr(), err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, pb := range pbs {
				fmt.Fprintf(tw, "ok\t%s\t(%s)\n", pb.Metadata.Name, pb.Source)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			// Approver groups this configuration lacks are warnings, not
			// errors: the worker's configuration is the one that counts.
			if cfg, err := g.load(config.ModeClient); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: approver groups not checked: %v\n", err)
			} else {
				for _, pb := range pbs {
					for _, w := range pb.UnconfiguredGroups(cfg.Access.Groups) {
						fmt.Fprintln(cmd.ErrOrStderr(), w)
					}
				}
			}
			return nil
		},
	}
}

// playbookSummary is one row of `playbook list`.
type playbookSummary struct {
	Name        string   `json:"name"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags"`
	// Steps counts the steps that do something: a parallel group counts
	// as its members.
	Steps     int      `json:"steps"`
	Approvals int      `json:"approvals"`
	Calls     []string `json:"calls,omitempty"`
	Source    string   `json:"source"`
}

func summarizePlaybook(pb *playbooks.Playbook) playbookSummary {
	s := playbookSummary{
		Name:        pb.Metadata.Name,
		Title:       pb.Metadata.Title,
		Description: pb.Metadata.Description,
		Tags:        append([]string{}, pb.Metadata.Tags...),
		Source:      pb.Source,
	}
	for _, st := range pb.AllSteps() {
		if st.Kind != playbooks.KindParallel {
			s.Steps++
		}
		if st.Approval != nil {
			s.Approvals++
		}
	}
	for name := range pb.Calls {
		s.Calls = append(s.Calls, name)
	}
	slices.Sort(s.Calls)
	return s
}

func newPlaybookListCommand(g *globals, f *playbookFlags) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List playbooks: name, title, tags, steps and approval steps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pbs, err := inspectLibrary(cmd, g, f)
			if err != nil {
				return err
			}
			rows := make([]playbookSummary, len(pbs))
			for i, pb := range pbs {
				rows[i] = summarizePlaybook(pb)
			}
			slices.SortFunc(rows, func(a, b playbookSummary) int { return strings.Compare(a.Name, b.Name) })
			if jsonOut {
				return writeIndentedJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTITLE\tTAGS\tSTEPS\tAPPROVALS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", r.Name, cmp.Or(foldSpace(r.Title), "-"), cmp.Or(strings.Join(r.Tags, ","), "-"), r.Steps, r.Approvals)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON array")
	return cmd
}

// writeIndentedJSON prints v indented. CEL expressions and task text are
// full of && and <, which encoding/json would otherwise escape for HTML.
func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// foldSpace folds whitespace, newlines included, so text from YAML block
// scalars fits a table cell or a summary line.
func foldSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newPlaybookShowCommand(g *globals, f *playbookFlags) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:               "show NAME",
		Short:             "Describe a playbook: inputs, failure handling and steps",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePlaybookNames(g, f),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, _, err := inspectPlaybook(cmd, g, f, args[0])
			if err != nil {
				return err
			}
			if jsonOut {
				return writeIndentedJSON(cmd.OutOrStdout(), pb)
			}
			return showPlaybook(cmd.OutOrStdout(), pb)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the parsed playbook as JSON")
	return cmd
}

// showPlaybook writes the human summary of pb.
func showPlaybook(w io.Writer, pb *playbooks.Playbook) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	s := summarizePlaybook(pb)
	field("Name", pb.Metadata.Name)
	field("Title", foldSpace(pb.Metadata.Title))
	field("Description", foldSpace(pb.Metadata.Description))
	field("Tags", strings.Join(pb.Metadata.Tags, ", "))
	field("Source", pb.Source)
	field("On failure", pb.OnFailure)
	field("Calls", strings.Join(s.Calls, ", "))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nInputs:")
	if len(pb.Inputs) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, in := range pb.Inputs {
		var cols []string
		switch {
		case in.Required:
			cols = append(cols, "required")
		case in.Default != nil:
			cols = append(cols, "default "+jsonText(in.Default))
		default:
			cols = append(cols, "optional")
		}
		if len(in.Enum) > 0 {
			cols = append(cols, "enum "+jsonText(in.Enum))
		}
		if in.Pattern != "" {
			cols = append(cols, "pattern "+jsonText(in.Pattern))
		}
		row := []string{"  " + in.Name, in.Type, strings.Join(cols, ", ")}
		if in.Description != "" {
			// A trailing empty cell would pad the line with spaces.
			row = append(row, foldSpace(in.Description))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nSteps (%d, %d with approval):\n", s.Steps, s.Approvals)
	width := len(strconv.Itoa(len(pb.Steps)))
	for i, st := range pb.Steps {
		num := fmt.Sprintf("  %*d. ", width, i+1)
		indent := strings.Repeat(" ", len(num))
		fmt.Fprintf(w, "%s%s\n", num, stepHeadline(st))
		writeStepDetails(w, indent+"  ", st)
		for _, m := range st.Parallel {
			fmt.Fprintf(w, "%s- %s\n", indent, stepHeadline(m))
			writeStepDetails(w, indent+"    ", m)
		}
	}
	return nil
}

// jsonText formats an input's default, enum or pattern unambiguously:
// "" stays visible and strings are quoted.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// stepHeadline is "id: what the step does".
func stepHeadline(st playbooks.Step) string {
	head := st.ID
	if st.Name != "" {
		head += fmt.Sprintf(" (%s)", foldSpace(st.Name))
	}
	switch st.Kind {
	case playbooks.KindAction:
		return head + ": action " + st.Action
	case playbooks.KindParallel:
		return head + ": parallel, " + countNoun(len(st.Parallel), "step")
	case playbooks.KindManual:
		if st.Manual.Role != "" {
			return fmt.Sprintf("%s: manual, role %s: %s", head, st.Manual.Role, foldSpace(st.Manual.Task))
		}
		return head + ": manual: " + foldSpace(st.Manual.Task)
	case playbooks.KindWait:
		if st.Wait.Signal != "" {
			return fmt.Sprintf("%s: wait for signal %q", head, st.Wait.Signal)
		}
		return head + ": wait " + st.Wait.String()
	case playbooks.KindCall:
		return head + ": call " + st.Call.Playbook
	}
	return head + ": " + string(st.Kind)
}

func writeStepDetails(w io.Writer, indent string, st playbooks.Step) {
	line := func(format string, args ...any) {
		fmt.Fprintf(w, "%s%s\n", indent, fmt.Sprintf(format, args...))
	}
	if st.When != "" {
		line("when: %s", foldSpace(st.When))
	}
	if a := st.Approval; a != nil {
		line("approval: %s", approvalText(a))
	}
	if c := st.Compensate; c != nil {
		line("compensate: %s", c.Action)
	}
	if r := st.Retry; r != nil {
		var parts []string
		if r.MaxAttempts > 0 {
			parts = append(parts, countNoun(r.MaxAttempts, "attempt"))
		}
		if r.InitialInterval > 0 {
			parts = append(parts, "initial interval "+r.InitialInterval.String())
		}
		if r.BackoffCoefficient > 0 {
			parts = append(parts, "backoff "+strconv.FormatFloat(r.BackoffCoefficient, 'g', -1, 64))
		}
		if r.MaxInterval > 0 {
			parts = append(parts, "max interval "+r.MaxInterval.String())
		}
		line("retry: %s", cmp.Or(strings.Join(parts, ", "), "worker defaults"))
	}
	if st.Timeout > 0 {
		line("timeout: %s", st.Timeout)
	}
	if st.ContinueOnError {
		line("continue on error")
	}
}

// approvers lists who may approve: the group, then the named users.
func approvers(a *playbooks.Approval) []string {
	var who []string
	if a.Group != "" {
		who = append(who, a.Group)
	}
	if a.UsersFrom != "" {
		who = append(who, a.UsersFrom)
	}
	return append(who, a.Users...)
}

// approvalText is "min 1 of group incident-commanders, timeout 15m, then
// escalate to engineering-managers".
func approvalText(a *playbooks.Approval) string {
	var who []string
	if a.Group != "" {
		who = append(who, "group "+a.Group)
	}
	if len(a.Users) > 0 {
		who = append(who, "users "+strings.Join(a.Users, ", "))
	}
	if a.UsersFrom != "" {
		who = append(who, "users "+a.UsersFrom)
	}
	s := fmt.Sprintf("min %d of %s", max(a.Min, 1), strings.Join(who, " or "))
	if a.Timeout > 0 {
		s += ", timeout " + a.Timeout.String()
		switch {
		case a.OnTimeout == playbooks.OnTimeoutEscalate && a.Escalate != "":
			s += ", then escalate to " + a.Escalate
		case a.OnTimeout == playbooks.OnTimeoutEscalate:
			s += ", then escalate"
		default:
			s += ", then abort"
		}
	}
	if a.AllowRequester {
		s += ", requester may approve"
	}
	return s
}

func newPlaybookGraphCommand(g *globals, f *playbookFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "graph NAME",
		Short: "Print a playbook's steps as a Mermaid flowchart",
		Long: `graph prints a Mermaid flowchart (https://mermaid.js.org) of the playbook, for
Markdown that GitHub, GitLab and most wikis render:

  rectangle       action step
  hexagon         action step that waits for approval
  parallelogram   manual step
  circle          wait step
  subroutine box  call to another playbook
  diamonds        fan-out and fan-in of a parallel group
  dotted edge     the compensation a rollback runs

A step's when condition labels the edge into it.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePlaybookNames(g, f),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, _, err := inspectPlaybook(cmd, g, f, args[0])
			if err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), mermaidGraph(pb))
			return err
		},
	}
}

// flowchart accumulates a Mermaid flowchart. Node IDs come from step IDs
// so the source stays readable, made safe and unique by nodeID.
type flowchart struct {
	b            strings.Builder
	used         map[string]bool
	approvals    []string
	compensators []string
}

// nodeID derives a Mermaid node ID: a prefix keeps clear of keywords like
// "end", and '-' (an edge to Mermaid) becomes '_'. Since "a-b" and "a_b"
// would then clash, later ones get a numeric suffix.
func (fc *flowchart) nodeID(prefix, stepID string) string {
	base := prefix + strings.ReplaceAll(stepID, "-", "_")
	id := base
	for n := 2; fc.used[id]; n++ {
		id = base + "_" + strconv.Itoa(n)
	}
	fc.used[id] = true
	return id
}

func (fc *flowchart) linef(format string, args ...any) {
	fmt.Fprintf(&fc.b, "    "+format+"\n", args...)
}

// edge links two nodes, labelled with the target step's when condition.
func (fc *flowchart) edge(from, to, when string) {
	if when == "" {
		fc.linef("%s --> %s", from, to)
		return
	}
	fc.linef("%s -->|\"when %s\"| %s", from, mermaidText(foldSpace(when)), to)
}

// step declares st's node and returns its ID.
func (fc *flowchart) step(st playbooks.Step) string {
	id := fc.nodeID("s_", st.ID)
	label := mermaidText(st.ID)
	if st.Name != "" {
		label += "<br/>" + mermaidText(foldSpace(st.Name))
	}
	switch st.Kind {
	case playbooks.KindAction:
		label += "<br/>" + mermaidText(st.Action)
		if a := st.Approval; a != nil {
			label += "<br/>" + mermaidText(fmt.Sprintf("approval: %d of %s", max(a.Min, 1), strings.Join(approvers(a), ", ")))
			fc.linef(`%s{{"%s"}}`, id, label)
			fc.approvals = append(fc.approvals, id)
		} else {
			fc.linef(`%s["%s"]`, id, label)
		}
	case playbooks.KindManual:
		label += "<br/>manual"
		if st.Manual.Role != "" {
			label += ": " + mermaidText(st.Manual.Role)
		}
		fc.linef(`%s[/"%s"/]`, id, label)
	case playbooks.KindWait:
		if st.Wait.Signal != "" {
			label += "<br/>wait for signal " + mermaidText(st.Wait.Signal)
		} else {
			label += "<br/>wait " + mermaidText(st.Wait.String())
		}
		fc.linef(`%s(("%s"))`, id, label)
	case playbooks.KindCall:
		label += "<br/>call " + mermaidText(st.Call.Playbook)
		fc.linef(`%s[["%s"]]`, id, label)
	default:
		fc.linef(`%s["%s<br/>%s"]`, id, label, mermaidText(string(st.Kind)))
	}
	return id
}

// compensation draws the action a rollback runs to undo step id.
func (fc *flowchart) compensation(id string, st playbooks.Step) {
	if c := st.Compensate; c != nil {
		cid := fc.nodeID("c_", st.ID)
		fc.linef(`%s["undo %s<br/>%s"]`, cid, mermaidText(st.ID), mermaidText(c.Action))
		fc.linef("%s -.->|compensate| %s", id, cid)
		fc.compensators = append(fc.compensators, cid)
	}
}

// mermaidGraph renders pb as a top-down Mermaid flowchart. The output
// depends only on pb, so it can be checked in and diffed.
func mermaidGraph(pb *playbooks.Playbook) string {
	fc := &flowchart{used: map[string]bool{"begin": true, "finish": true}}
	fc.b.WriteString("flowchart TD\n")
	title := pb.Metadata.Name
	if pb.Metadata.Title != "" {
		title += ": " + foldSpace(pb.Metadata.Title)
	}
	fc.linef("%%%% %s (on_failure: %s)", title, pb.OnFailure)
	fc.linef("begin([start])")
	prev := "begin"
	for _, st := range pb.Steps {
		if st.Kind != playbooks.KindParallel {
			id := fc.step(st)
			fc.edge(prev, id, st.When)
			fc.compensation(id, st)
			prev = id
			continue
		}
		// A group's when gates the fork; each member's its own edge.
		fork := fc.nodeID("s_", st.ID)
		join := fc.nodeID("j_", st.ID)
		fc.linef(`%s{"%s<br/>parallel"}`, fork, mermaidText(st.ID))
		fc.edge(prev, fork, st.When)
		members := make([]string, len(st.Parallel))
		for i, m := range st.Parallel {
			members[i] = fc.step(m)
			fc.edge(fork, members[i], m.When)
			fc.compensation(members[i], m)
		}
		fc.linef(`%s{"%s<br/>join"}`, join, mermaidText(st.ID))
		for _, m := range members {
			fc.edge(m, join, "")
		}
		prev = join
	}
	fc.linef("finish([end])")
	fc.edge(prev, "finish", "")
	if len(fc.approvals) > 0 {
		fc.linef("classDef approval fill:#fff3bf,stroke:#e67700,stroke-width:2px")
		fc.linef("class %s approval", strings.Join(fc.approvals, ","))
	}
	if len(fc.compensators) > 0 {
		fc.linef("classDef compensation fill:#f1f3f5,stroke:#868e96,stroke-dasharray:4 3")
		fc.linef("class %s compensation", strings.Join(fc.compensators, ","))
	}
	return fc.b.String()
}

// mermaidText escapes text for a double-quoted Mermaid label: characters
// that end the label or the statement, or start an entity, become Mermaid
// entity codes (#34; and so on), which render as the character.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"', '#', '&', '<', '>', '|', ';', '`', '\\':
			fmt.Fprintf(&b, "#%d;", r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Which permissions iam-policy prints, named as in "needs no ...".
const (
	permsAWS    = "AWS permissions"
	permsGitHub = "GitHub permissions"
	permsSlack  = "Slack scopes"
)

func newPlaybookIAMPolicyCommand(g *globals, f *playbookFlags) *cobra.Command {
	var github, slack bool
	cmd := &cobra.Command{
		Use:   "iam-policy NAME",
		Short: "Print the least-privilege IAM policy a playbook needs (or --github, --slack)",
		Long: `iam-policy prints the IAM policy (JSON) that grants exactly the AWS actions and
resources the playbook's actions declare: every action step, every compensating
action, and every playbook it calls, at any depth. Attach it to the role the
worker assumes.

With --github it prints the GitHub token permissions instead, with --slack the
Slack OAuth scopes, one per line. A playbook that needs none prints nothing on
stdout and says so on stderr.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePlaybookNames(g, f),
		RunE: func(cmd *cobra.Command, args []string) error {
			which := permsAWS
			switch {
			case github && slack:
				return usageError{errors.New("playbook iam-policy: give --github or --slack, not both")}
			case github:
				which = permsGitHub
			case slack:
				which = permsSlack
			}
			pb, reg, err := inspectPlaybook(cmd, g, f, args[0])
			if err != nil {
				return err
			}
			return writePermissions(cmd.OutOrStdout(), cmd.ErrOrStderr(), reg, pb, which)
		},
	}
	cmd.Flags().BoolVar(&github, "github", false, "print the GitHub token permissions instead")
	cmd.Flags().BoolVar(&slack, "slack", false, "print the Slack OAuth scopes instead")
	return cmd
}

// writePermissions prints one kind of permission pb needs: the IAM policy
// for permsAWS, one permission or scope per line otherwise.
func writePermissions(stdout, stderr io.Writer, reg *activities.Registry, pb *playbooks.Playbook, which string) error {
	name := pb.Metadata.Name
	var lines []string
	switch which {
	case permsAWS:
		pol, err := activities.IAMPolicy(reg, pb)
		if err != nil {
			return fmt.Errorf("iam policy for %s: %w", name, err)
		}
		if len(pol.Statement) > 0 {
			return writeIndentedJSON(stdout, pol)
		}
	default:
		perms, err := activities.PlaybookPermissions(reg, pb)
		if err != nil {
			return fmt.Errorf("permissions of %s: %w", name, err)
		}
		lines = perms.GitHub
		if which == permsSlack {
			lines = perms.Slack
		}
	}
	if len(lines) == 0 {
		// An empty IAM policy is invalid and an empty list looks like a
		// failure; say what it means instead.
		fmt.Fprintf(stderr, "playbook %s needs no %s\n", name, which)
		return nil
	}
	_, err := io.WriteString(stdout, strings.Join(lines, "\n")+"\n")
	return err
}
