package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of firebreak and of the Temporal parts it embeds",
		Long: `version prints firebreak's version: the module version when built from a
tagged module (go install ...@v1.2.3) or, since Go 1.24, the pseudo-version
go build stamps from git; otherwise the git revision and commit time when the
build recorded them; otherwise "dev" (for example with -buildvcs=false).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			fmt.Fprintln(cmd.OutOrStdout(), versionString(bi))
			return nil
		},
	}
}

// versionString describes the build from the information the go command
// embeds, so releases need no ldflags. bi may be nil.
func versionString(bi *debug.BuildInfo) string {
	v, sdk, server := "dev", "?", "?"
	var details []string
	if bi != nil {
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			v = bi.Main.Version
		case settings["vcs.revision"] != "":
			v = "dev-" + settings["vcs.revision"][:min(12, len(settings["vcs.revision"]))]
			if t := settings["vcs.time"]; t != "" {
				details = append(details, "committed "+t)
			}
			if settings["vcs.modified"] == "true" {
				details = append(details, "with uncommitted changes")
			}
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
	details = append(details, runtime.Version(), "temporal sdk "+sdk, "embedded server "+server)
	return fmt.Sprintf("firebreak %s (%s)", v, strings.Join(details, ", "))
}
