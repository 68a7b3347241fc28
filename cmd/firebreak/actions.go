package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/activities"
)

// actionInfo is one action as `firebreak actions --json` prints it.
type actionInfo struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Params      []actionParam          `json:"params"`
	Permissions activities.Permissions `json:"permissions"`
}

// actionParam is one parameter of an action. Actions declare no defaults:
// an optional parameter left out is its type's zero value, which Default
// spells out.
type actionParam struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Default  any    `json:"default,omitempty"`
}

// zeroOf is what an action sees for an optional parameter a step leaves out.
func zeroOf(typ string) any {
	switch typ {
	case "string":
		return ""
	case "bool":
		return false
	case "int":
		return 0
	case "list":
		return []any{}
	case "map":
		return map[string]any{}
	}
	return nil
}

func actionInfos(reg *activities.Registry) []actionInfo {
	var out []actionInfo
	for _, s := range reg.Specs() {
		a := actionInfo{Name: s.Name, Description: s.Description, Params: []actionParam{}, Permissions: s.Permissions}
		for _, p := range s.Params {
			ap := actionParam{Name: p.Name, Type: p.Type, Required: p.Required}
			if !p.Required {
				ap.Default = zeroOf(p.Type)
			}
			a.Params = append(a.Params, ap)
		}
		out = append(out, a)
	}
	return out
}

func newActionsCommand() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "List every action playbooks can use: parameters and declared permissions",
		Long: `actions lists the actions this binary registers, the names a playbook step's
action: takes, with each parameter's type, whether it is required and, for an
optional one, the value the action gets when a step leaves it out; and the
AWS IAM actions, GitHub permissions and Slack scopes the action declares
(what playbook iam-policy adds up).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := actionRegistry()
			if err != nil {
				return err
			}
			infos := actionInfos(reg)
			if jsonOut {
				return writeIndentedJSON(cmd.OutOrStdout(), infos)
			}
			return writeActions(cmd.OutOrStdout(), infos)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON array")
	return cmd
}

func writeActions(w io.Writer, infos []actionInfo) error {
	for i, a := range infos {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n  %s\n", a.Name, foldSpace(a.Description))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if len(a.Params) == 0 {
			fmt.Fprintln(tw, "  parameters: none")
		} else {
			fmt.Fprintln(tw, "  parameters:")
		}
		for _, p := range a.Params {
			req := "required"
			if !p.Required {
				req = "optional, default " + jsonText(p.Default)
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", p.Name, p.Type, req)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		var perms []string
		for _, p := range a.Permissions.IAM {
			perms = append(perms, fmt.Sprintf("aws %s on %s", p.Action, p.Resource))
		}
		for _, in := range slices.Sorted(maps.Keys(a.Permissions.IAMByInput)) {
			for _, p := range a.Permissions.IAMByInput[in] {
				perms = append(perms, fmt.Sprintf("aws %s on %s (with %s)", p.Action, p.Resource, in))
			}
		}
		for _, p := range a.Permissions.GitHub {
			perms = append(perms, "github "+p)
		}
		for _, p := range a.Permissions.Slack {
			perms = append(perms, "slack "+p)
		}
		if len(perms) == 0 {
			fmt.Fprintln(w, "  permissions: none")
			continue
		}
		fmt.Fprintf(w, "  permissions:\n    %s\n", strings.Join(perms, "\n    "))
	}
	return nil
}
