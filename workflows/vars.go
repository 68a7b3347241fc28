package workflows

import "strings"

// incidentVars is what a run's expressions see as `incident`: the keys
// below are always present, empty outside an incident (a run from the
// CLI), so `incident.severity == 'sev1'` is false there rather than an
// error. The severity is lowercase (sev1…sev4), as `/incident declare …
// sev1` and the playbook docs spell it, whatever case the incident stores.
func incidentVars(in map[string]any) map[string]any {
	out := map[string]any{}
	// Copying into a map: the order of iteration cannot show.
	//workflowcheck:ignore
	for k, v := range in {
		out[k] = v
	}
	for _, k := range []string{"key", "title", "severity", "status", "channel"} {
		if _, ok := out[k].(string); !ok {
			out[k] = ""
		}
	}
	out["severity"] = strings.ToLower(out["severity"].(string))
	roles := map[string]any{}
	if given, ok := in["roles"].(map[string]any); ok {
		//workflowcheck:ignore
		for k, v := range given {
			roles[k] = v
		}
	}
	for _, role := range IncidentRoles() {
		if _, ok := roles[role].(string); !ok {
			roles[role] = ""
		}
	}
	out["roles"] = roles
	return out
}
