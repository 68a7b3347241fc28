package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// playbookFlags are shared by the playbook subcommands.
type playbookFlags struct {
	// dir holds the playbooks to use instead of the built-in library.
	dir string
}

func newPlaybookCommand(g *globals) *cobra.Command {
	f := &playbookFlags{}
	cmd := &cobra.Command{
		Use:   "playbook",
		Short: "Check, inspect and run playbooks",
	}
	cmd.PersistentFlags().StringVar(&f.dir, "dir", "", "directory of playbook YAML files (default: the built-in library; env FIREBREAK_PLAYBOOKS)")
	addInspectCommands(cmd, g, f)
	addRunCommands(cmd, g, f)
	// Where people writing playbooks look first; the same as `firebreak actions`.
	cmd.AddCommand(newActionsCommand())
	return cmd
}

// actionRegistry lists every action this binary knows. The loader checks
// playbooks against it; the worker runs from it.
func actionRegistry() (*activities.Registry, error) {
	reg, err := activities.NewRegistry(activities.CoreActions()...)
	if err != nil {
		return nil, fmt.Errorf("action registry: %w", err)
	}
	return reg, nil
}

// library loads the playbooks from --dir, FIREBREAK_PLAYBOOKS, or the
// built-in library, in that order.
func (f *playbookFlags) library(g *globals, reg *activities.Registry) ([]*playbooks.Playbook, error) {
	dir := f.dir
	if dir == "" {
		dir = g.getenv("FIREBREAK_PLAYBOOKS")
	}
	if dir != "" {
		return playbooks.LoadDir(dir, reg)
	}
	return playbooks.Library(reg)
}

// find returns the playbook called name from the library.
func (f *playbookFlags) find(g *globals, reg *activities.Registry, name string) (*playbooks.Playbook, error) {
	pbs, err := f.library(g, reg)
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
	return nil, usageError{fmt.Errorf("no playbook named %q (have: %v)", name, names)}
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
		return f.library(g, reg)
	}
}
