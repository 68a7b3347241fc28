package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// playbookFlags are shared by the playbook subcommands.
type playbookFlags struct {
	// dir holds playbooks to add to the built-in library.
	dir string
}

func newPlaybookCommand(g *globals) *cobra.Command {
	f := &playbookFlags{}
	cmd := &cobra.Command{
		Use:   "playbook",
		Short: "Check, inspect and run playbooks",
	}
	cmd.PersistentFlags().StringVar(&f.dir, "dir", "", "directory of playbook YAML files to add to the built-in library; one with a shipped playbook's name replaces it (env FIREBREAK_PLAYBOOKS)")
	addInspectCommands(cmd, g, f)
	addRunCommands(cmd, g, f)
	// Where people writing playbooks look first; the same as `firebreak actions`.
	cmd.AddCommand(newActionsCommand())
	return cmd
}

// actionRegistry lists every action this binary knows, for the loader and
// the commands that read specs; it cannot run AWS actions.
func actionRegistry() (*activities.Registry, error) { return newActionRegistry(nil, nil) }

// newActionRegistry is every action, the AWS ones run by aws and the Slack
// ones by slack (nil: specs only). The worker runs from it.
func newActionRegistry(aws *activities.AWS, slack *activities.Slack) (*activities.Registry, error) {
	reg, err := activities.NewRegistry(slices.Concat(activities.CoreActions(), activities.AWSActions(aws), activities.SlackActions(slack))...)
	if err != nil {
		return nil, fmt.Errorf("action registry: %w", err)
	}
	return reg, nil
}

// library loads the built-in library plus, when --dir or
// FIREBREAK_PLAYBOOKS names a directory, the playbooks in it: a call may
// name a playbook in either, and yours replace a shipped one of the same
// name, which notes (when not nil) is told.
func (f *playbookFlags) library(g *globals, reg *activities.Registry, notes io.Writer) ([]*playbooks.Playbook, error) {
	ov, err := f.overlay(g, reg, notes)
	return ov.Playbooks, err
}

// overlay is library with the playbooks from the directory counted (Own
// is 0 without one).
func (f *playbookFlags) overlay(g *globals, reg *activities.Registry, notes io.Writer) (playbooks.Overlay, error) {
	dir := f.playbookDir(g)
	if dir == "" {
		pbs, err := playbooks.Library(reg)
		return playbooks.Overlay{Playbooks: pbs}, err
	}
	ov, err := playbooks.LoadOverlay(dir, reg)
	if err != nil {
		return ov, err
	}
	if ov.Own == 0 {
		// Most likely a wrong path; running on the shipped library alone
		// would hide it.
		return ov, usageError{fmt.Errorf("no playbooks (*.yaml, *.yml) in %s", dir)}
	}
	if notes != nil {
		for _, name := range ov.Overridden {
			for _, pb := range ov.Playbooks[:ov.Own] {
				if pb.Metadata.Name == name {
					fmt.Fprintf(notes, "note: %s replaces the shipped playbook %s\n", pb.Source, name)
				}
			}
		}
	}
	return ov, nil
}

// playbookDir is --dir, else FIREBREAK_PLAYBOOKS.
func (f *playbookFlags) playbookDir(g *globals) string {
	return cmp.Or(f.dir, g.getenv("FIREBREAK_PLAYBOOKS"))
}

// find returns the playbook called name from the library.
func (f *playbookFlags) find(g *globals, reg *activities.Registry, name string, notes io.Writer) (*playbooks.Playbook, error) {
	pbs, err := f.library(g, reg, notes)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, pb := range pbs {
		if pb.Metadata.Name == name {
			return pb, nil
		}
		names = append(names, pb.Metadata.Name)
	}
	slices.Sort(names)
	if best := closest(name, names); best != "" {
		return nil, usageError{fmt.Errorf("no playbook named %q; did you mean %q? (`firebreak playbook list` shows all %d)", name, best, len(names))}
	}
	return nil, usageError{fmt.Errorf("no playbook named %q (have: %s)", name, strings.Join(names, ", "))}
}

// closest is the name nearest to word when it is near enough to be a
// typo, by the distance the playbook loader's own suggestions use.
func closest(word string, names []string) string {
	best, bestDist := "", 1+len([]rune(word))/4
	for _, n := range names {
		if d := playbooks.EditDistance(word, n); d <= bestDist && (best == "" || d < bestDist) {
			best, bestDist = n, d
		}
	}
	return best
}

// libraryLoader is how the Slack bot finds playbooks: FIREBREAK_PLAYBOOKS
// or the built-in library, read on each use so edits apply without a
// restart (a broken edit is reported to the person who asked).
func (g *globals) libraryLoader() func() ([]*playbooks.Playbook, error) {
	f := &playbookFlags{}
	return func() ([]*playbooks.Playbook, error) {
		reg, err := actionRegistry()
		if err != nil {
			return nil, err
		}
		return f.library(g, reg, nil)
	}
}
