package main

import "github.com/spf13/cobra"

// addInspectCommands adds check, list, show, graph and iam-policy.
func addInspectCommands(cmd *cobra.Command, g *globals, f *playbookFlags) {}
