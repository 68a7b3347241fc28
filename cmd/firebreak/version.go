package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of firebreak and of the Temporal parts it embeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return nil
		},
	}
}

// versionString comes from the build info the go command embeds, so
// `go install ...@v1.2.3` reports v1.2.3 without ldflags.
func versionString() string {
	v, sdk, server := "(devel)", "?", "?"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			switch d.Path {
			case "go.temporal.io/sdk":
				sdk = d.Version
			case "go.temporal.io/server":
				server = d.Version
			}
		}
	}
	return fmt.Sprintf("firebreak %s (%s, temporal sdk %s, embedded server %s)", v, runtime.Version(), sdk, server)
}
