package workflows

import (
	"time"

	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// Incident statuses, in the order an incident usually moves through them.
const (
	StatusDeclared      = "declared"
	StatusInvestigating = "investigating"
	StatusContained     = "contained"
	StatusRecovering    = "recovering"
	StatusResolved      = "resolved"
)

// IncidentStatuses lists the valid statuses.
func IncidentStatuses() []string {
	return []string{StatusDeclared, StatusInvestigating, StatusContained, StatusRecovering, StatusResolved}
}

// Severities lists the valid severities, most severe first.
func Severities() []string { return []string{"SEV1", "SEV2", "SEV3", "SEV4"} }

// Incident roles.
const (
	RoleCommander = "commander"
	RoleScribe    = "scribe"
	RoleComms     = "comms"
)

// IncidentRoles lists the valid roles.
func IncidentRoles() []string { return []string{RoleCommander, RoleScribe, RoleComms} }

// IncidentWorkflowID is the workflow ID of the incident with key.
func IncidentWorkflowID(key string) string { return "incident-" + key }

// RegistryWorkflowID is the singleton that hands out incident keys.
const RegistryWorkflowID = "firebreak-incidents"

// Registry signals and queries: a declare is a signal (with start), so
// the caller never waits behind the registry; the query tells a caller
// that wants the key (the CLI) which incident its request got.
const (
	SignalDeclare = "declare"
	QueryDeclared = "declared"
	// UpdateDeclare is how declares reached registries started before
	// SignalDeclare; only those still answer it.
	UpdateDeclare = "declare"
)

// Incident workflow updates, signals and queries.
const (
	UpdateNote        = "note"
	UpdateSetRole     = "set_role"
	UpdateSetSeverity = "set_severity"
	UpdateSetStatus   = "set_status"
	UpdateRunPlaybook = "run_playbook"
	UpdateResolve     = "resolve"
	SignalRunFinished = "run_finished"
)

// Incident timeline event kinds (playbook runs add their own).
const (
	EventDeclared         = "incident_declared"
	EventChannelCreated   = "channel_created"
	EventNote             = "note"
	EventRoleAssigned     = "role_assigned"
	EventSeverityChanged  = "severity_changed"
	EventStatusChanged    = "status_changed"
	EventRunRequested     = "playbook_run_started"
	EventPlaybookFinished = "playbook_run_finished"
	EventResolved         = "incident_resolved"
	EventSlackFailed      = "slack_failed"
	EventRunLost          = "playbook_run_lost"
)

// IncidentInput starts an IncidentWorkflow; State is set when the
// workflow continues as new, carrying everything forward.
type IncidentInput struct {
	Key        string `json:"key"`
	Title      string `json:"title"`
	Severity   string `json:"severity"`
	DeclaredBy string `json:"declared_by"`
	Origin     string `json:"origin,omitempty"`
	// Slack, when set, makes the incident create and use a channel.
	Slack *IncidentSlack `json:"slack,omitempty"`
	// Run starts a playbook right after the incident is declared.
	Run *RunRequest `json:"run,omitempty"`
	// Config is what playbooks see as `config`.
	Config map[string]any `json:"config,omitempty"`
	State  *IncidentState `json:"state,omitempty"`
}

// IncidentSlack says how the incident appears in Slack.
type IncidentSlack struct {
	// Invite are the users added to the channel besides the declarer.
	Invite []string `json:"invite,omitempty"`
	// Announce is a channel that hears about new incidents.
	Announce string `json:"announce,omitempty"`
	// Suggested playbooks get a button on the summary.
	Suggested []string `json:"suggested,omitempty"`
	// DeclaredIn is the channel the declare came from; it hears the
	// incident's key once the incident channel exists.
	DeclaredIn string `json:"declared_in,omitempty"`
	// Private makes the incident channel private; the announcement and the
	// channel it was declared in then only learn that an incident exists.
	Private bool `json:"private,omitempty"`
}

// IncidentState is the incident as it stands.
type IncidentState struct {
	Key         string            `json:"key"`
	Title       string            `json:"title"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	Roles       map[string]string `json:"roles,omitempty"`
	DeclaredBy  string            `json:"declared_by"`
	DeclaredAt  time.Time         `json:"declared_at"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	Summary     string            `json:"summary,omitempty"`
	Channel     string            `json:"channel,omitempty"`
	ChannelName string            `json:"channel_name,omitempty"`
	// Private incidents have a private channel and are read from it only.
	Private   bool     `json:"private,omitempty"`
	SummaryTS string   `json:"summary_ts,omitempty"`
	Runs      []RunRef `json:"runs,omitempty"`
	Timeline  []Event  `json:"timeline,omitempty"`
	// Generation counts continue-as-new hand-overs.
	Generation int `json:"generation,omitempty"`
}

// RunLost is the status of a run that ended without reporting back
// (terminated, timed out, or its report was lost).
const RunLost = "lost"

// RunRef is one playbook run of the incident.
type RunRef struct {
	ID          string    `json:"id"`
	Playbook    string    `json:"playbook"`
	Mode        string    `json:"mode"`
	Status      string    `json:"status"`
	RequestedBy string    `json:"requested_by"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	Error       string    `json:"error,omitempty"`
	// Plan is kept for plan-mode runs so Slack can show it again.
	Plan *RunPlan `json:"plan,omitempty"`
}

// DeclareRequest is the registry's declare signal.
type DeclareRequest struct {
	Title      string         `json:"title"`
	Severity   string         `json:"severity"`
	DeclaredBy string         `json:"declared_by"`
	Origin     string         `json:"origin,omitempty"`
	Slack      *IncidentSlack `json:"slack,omitempty"`
	Run        *RunRequest    `json:"run,omitempty"`
	Config     map[string]any `json:"config,omitempty"`
	// RequestID identifies the request that asked (Slack's trigger ID,
	// say), so a retried request gets the same incident back.
	RequestID string `json:"request_id"`
}

// DeclareResult names the incident a declare created, or the one it
// repeated (Existing: the same person declared the same title shortly
// before, so nothing new was created). Error says why a declare created
// nothing.
type DeclareResult struct {
	Key        string `json:"key"`
	WorkflowID string `json:"workflow_id"`
	Existing   bool   `json:"existing,omitempty"`
	Error      string `json:"error,omitempty"`
}

// RunRequest asks an incident to run a playbook.
type RunRequest struct {
	Playbook  *playbooks.Playbook `json:"playbook"`
	Inputs    map[string]any      `json:"inputs,omitempty"`
	Mode      string              `json:"mode,omitempty"`
	Actor     string              `json:"actor"`
	Origin    string              `json:"origin,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	// Channel and Holds: as in ChangeRequest.
	Channel string             `json:"channel,omitempty"`
	Holds   []policy.Principal `json:"holds,omitempty"`
}

func (r RunRequest) actor() policy.Actor {
	return policy.Actor{User: r.Actor, Origin: r.Origin, Channel: r.Channel, Holds: r.Holds}
}

// ChangeRequest is the input of the note, role, severity, status and
// resolve updates; each uses the fields it needs.
type ChangeRequest struct {
	Actor  string `json:"actor"`
	Origin string `json:"origin,omitempty"`
	Text   string `json:"text,omitempty"`   // note, resolve summary
	Role   string `json:"role,omitempty"`   // set_role
	User   string `json:"user,omitempty"`   // set_role
	Value  string `json:"value,omitempty"`  // severity or status
	Source string `json:"source,omitempty"` // note: where it came from (a Slack permalink)
	// Channel is the Slack channel the request came from; a channel other
	// than the incident's own is refused, so a look-alike channel name
	// cannot steer someone else's incident.
	Channel string `json:"channel,omitempty"`
	// Holds are the configured principals the bot proved the actor is in;
	// the workflow decides with them and what it knows (policy.Decide).
	Holds []policy.Principal `json:"holds,omitempty"`
}

func (r ChangeRequest) actor() policy.Actor {
	return policy.Actor{User: r.Actor, Origin: r.Origin, Channel: r.Channel, Holds: r.Holds}
}

// QueryRequest is the optional argument of the status and timeline
// queries: the bot says where a Slack request came from, so an incident
// (or run) is read from its own channel only. The CLI sends none.
type QueryRequest struct {
	User    string `json:"user,omitempty"`
	Origin  string `json:"origin,omitempty"`
	Channel string `json:"channel,omitempty"`
}

func (q QueryRequest) actor() policy.Actor {
	user := q.User
	if user == "" {
		user = "operator"
	}
	return policy.Actor{User: user, Origin: q.Origin, Channel: q.Channel}
}

// RunFinished is what a playbook run reports to its incident.
type RunFinished struct {
	RunID    string   `json:"run_id"`
	Status   string   `json:"status"`
	Error    string   `json:"error,omitempty"`
	Plan     *RunPlan `json:"plan,omitempty"`
	Timeline []Event  `json:"timeline,omitempty"`
}
