// Package playbooks holds the Firebreak playbook DSL: the data types that
// travel in workflow input, the strict YAML loader, and the CEL evaluation
// the interpreter calls at run time.
package playbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion is the only apiVersion the loader accepts.
const APIVersion = "firebreak/v1"

// KindPlaybook is the only document kind the loader accepts.
const KindPlaybook = "Playbook"

// Playbook is a parsed, validated playbook. It is plain data so it can be
// carried in Temporal workflow input: a running incident keeps the version
// it started with.
type Playbook struct {
	APIVersion string   `json:"api_version"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	// Inputs keep file order; workflow code must not range over maps.
	Inputs    []Input `json:"inputs,omitempty"`
	Steps     []Step  `json:"steps"`
	OnFailure string  `json:"on_failure"` // OnFailureStop or OnFailureRollback
	// Source is the file the playbook was loaded from, for messages.
	Source string `json:"source,omitempty"`
	// Calls holds every playbook reachable through `call` steps, keyed by
	// metadata.name, resolved at load time so a run is self-contained. Only
	// the top-level playbook carries it; nested entries have nil Calls.
	Calls map[string]*Playbook `json:"calls,omitempty"`
}

// Values of Playbook.OnFailure.
const (
	OnFailureStop     = "stop"
	OnFailureRollback = "rollback"
)

// Metadata describes a playbook for humans and for lookup by name.
type Metadata struct {
	Name        string   `json:"name"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// Input types.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeBool     = "bool"
	TypeDuration = "duration"
	TypeList     = "list"
)

// Input declares one playbook parameter. Default and Enum hold values of
// the declared type in their JSON-friendly form: string, int64 (float64
// after a JSON round trip), bool, duration as a string like "15m", list as
// []any.
type Input struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Default     any    `json:"default,omitempty"`
	Pattern     string `json:"pattern,omitempty"`
	Enum        []any  `json:"enum,omitempty"`
	Description string `json:"description,omitempty"`
}

// StepKind says which of the mutually exclusive step bodies a step has.
type StepKind string

// Step kinds, derived from which key is present in the YAML.
const (
	KindAction   StepKind = "action"
	KindParallel StepKind = "parallel"
	KindManual   StepKind = "manual"
	KindWait     StepKind = "wait"
	KindCall     StepKind = "call"
)

// Step is one entry of a playbook's steps (or of a parallel group).
type Step struct {
	ID   string   `json:"id"`
	Name string   `json:"name,omitempty"` // optional human label
	Kind StepKind `json:"kind"`

	// Action steps. With holds raw values; strings may contain ${{ CEL }}
	// templates, rendered at run time by Evaluator.Render.
	Action string         `json:"action,omitempty"`
	With   map[string]any `json:"with,omitempty"`

	// When is a CEL expression; the step is skipped when it is false.
	When string `json:"when,omitempty"`

	Retry           *Retry      `json:"retry,omitempty"`
	Timeout         Duration    `json:"timeout,omitempty"`
	ContinueOnError bool        `json:"continue_on_error,omitempty"`
	Compensate      *Compensate `json:"compensate,omitempty"` // action steps only
	Approval        *Approval   `json:"approval,omitempty"`   // action steps only

	Parallel []Step  `json:"parallel,omitempty"`
	Manual   *Manual `json:"manual,omitempty"`
	Wait     *Wait   `json:"wait,omitempty"`
	Call     *Call   `json:"call,omitempty"`

	// Line and Col locate the step in Playbook.Source for runtime messages.
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
}

// Retry is the activity retry policy of an action step. Zero fields mean
// "use the worker default".
type Retry struct {
	MaxAttempts        int      `json:"max_attempts,omitempty"`
	InitialInterval    Duration `json:"initial_interval,omitempty"`
	BackoffCoefficient float64  `json:"backoff_coefficient,omitempty"`
	MaxInterval        Duration `json:"max_interval,omitempty"`
}

// Compensate names the action that undoes an action step when the run is
// rolled back. With may be empty: the interpreter then passes the step's
// rendered inputs, which is what most inverse actions need.
type Compensate struct {
	Action string         `json:"action"`
	With   map[string]any `json:"with,omitempty"`
}

// Values of Approval.OnTimeout.
const (
	OnTimeoutAbort    = "abort"
	OnTimeoutEscalate = "escalate"
)

// Approval gates an action step on Min distinct approvers drawn from Group
// and/or Users.
type Approval struct {
	Group string   `json:"group,omitempty"`
	Users []string `json:"users,omitempty"`
	// UsersFrom, instead of Users, is a template (`${{ inputs.approvers }}`)
	// that gives the user list when the gate opens.
	UsersFrom      string   `json:"users_from,omitempty"`
	Min            int      `json:"min"`                  // default 1
	Timeout        Duration `json:"timeout,omitempty"`    // 0: wait forever
	OnTimeout      string   `json:"on_timeout,omitempty"` // OnTimeoutAbort (default) or OnTimeoutEscalate
	Escalate       string   `json:"escalate,omitempty"`   // group notified on escalation
	AllowRequester bool     `json:"allow_requester,omitempty"`
}

// Manual is a checklist item a human finishes from chat or the CLI.
type Manual struct {
	Role string `json:"role,omitempty"` // incident role expected to do it, e.g. commander
	Task string `json:"task"`
}

// Wait pauses the run for a duration or until Signal arrives (exactly one).
// The duration is Duration, a literal, or DurationExpr, a template such as
// `${{ inputs.duration }}` rendered when the step starts.
type Wait struct {
	Duration     Duration `json:"duration,omitempty"`
	DurationExpr string   `json:"duration_expr,omitempty"`
	Signal       string   `json:"signal,omitempty"`
	// Extendable lets responders move the end of a timed wait later while
	// it waits (from chat or the CLI), up to Max after the wait began.
	Extendable bool `json:"extendable,omitempty"`
	// Max bounds the whole wait, extensions included. The loader sets it to
	// DefaultWaitMax on an extendable wait that does not say.
	Max Duration `json:"max,omitempty"`
}

// DefaultWaitMax is how long an extendable wait may last in all when its
// playbook sets no wait.max: long enough for a weekend, short enough that a
// forgotten block does not stay forever.
const DefaultWaitMax = Duration(7 * 24 * time.Hour)

// Limit is the longest the wait may last in all, extensions included.
func (w *Wait) Limit() time.Duration {
	if w.Max > 0 {
		return time.Duration(w.Max)
	}
	return time.Duration(DefaultWaitMax)
}

// Timed reports whether the wait ends after a duration (not on a signal).
func (w *Wait) Timed() bool { return w.Signal == "" }

// String describes the wait for plans, graphs and timelines: "10m",
// "${{ inputs.duration }}", or either followed by ", extendable up to 168h".
func (w *Wait) String() string {
	if w.Signal != "" {
		return "signal " + w.Signal
	}
	s := w.Duration.String()
	if w.DurationExpr != "" {
		s = w.DurationExpr
	}
	if w.Extendable {
		s += ", extendable up to " + Duration(w.Limit()).String()
	}
	return s
}

// Call runs another playbook (looked up in Playbook.Calls) as a child.
type Call struct {
	Playbook string         `json:"playbook"`
	With     map[string]any `json:"with,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("15m",
// "1h30m") in YAML and JSON.
type Duration time.Duration

// String formats d without the trailing zero units time.Duration prints
// ("15m", not "15m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseDuration parses a Go duration string, which may start with a
// number of days ("7d", "1d12h": incidents are measured in days, Go stops
// at hours), rejecting negative values since no DSL field means anything
// by them.
func ParseDuration(s string) (Duration, error) {
	d, err := parseDays(s)
	if err != nil {
		// time's message repeats the input; say how to write one instead.
		return 0, fmt.Errorf("invalid duration %q: use a number and a unit, e.g. 90s, 15m, 1h30m, 7d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(d), nil
}

// daysRE matches a leading number of days and what follows it.
var daysRE = regexp.MustCompile(`^([-+]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)d(.*)$`)

// parseDays is time.ParseDuration with an optional leading days unit.
func parseDays(s string) (time.Duration, error) {
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return 0, err
	}
	total := days * float64(24*time.Hour)
	if rest := m[3]; rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, errors.New("a sign may only lead the duration")
		}
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		total += float64(d)
	}
	if total >= math.MaxInt64 {
		return 0, errors.New("duration out of range")
	}
	if m[1] == "-" {
		total = -total
	}
	return time.Duration(total), nil
}

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"15m\" or a number of nanoseconds: %s", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// UnmarshalYAML accepts a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a string like \"15m\"", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// Catalog is the action registry the loader checks steps against. The
// registry in package activities implements it.
type Catalog interface {
	LookupAction(name string) (ActionSpec, bool)
}

// ActionSpec describes an action's parameters for load-time checks.
type ActionSpec struct {
	Name        string  `json:"name"`
	Params      []Param `json:"params,omitempty"`
	Description string  `json:"description,omitempty"`
}

// Param is one named parameter of an action. Type is informational for now
// (string, int, bool, duration, list, map, any): templates make most
// values known only at run time.
type Param struct {
	Name     string `json:"name"`
	Type     string `json:"type,omitempty"`
	Required bool   `json:"required,omitempty"`
}

// Vars is what expressions see at run time: `inputs`, `steps`,
// `incident`, `config` and `run`.
type Vars struct {
	Inputs   map[string]any      `json:"inputs,omitempty"`
	Steps    map[string]StepVars `json:"steps,omitempty"`
	Incident map[string]any      `json:"incident,omitempty"`
	Config   map[string]any      `json:"config,omitempty"`
	// Run describes the run itself: `run.requester` is who started it.
	Run map[string]any `json:"run,omitempty"`
}

// StepVars is what `steps.<id>` exposes of a step that ran earlier.
type StepVars struct {
	Outputs map[string]any `json:"outputs,omitempty"`
	Status  string         `json:"status,omitempty"`
}

// Values of StepVars.Status the interpreter records, so `when` expressions
// can test how an earlier step ended.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)
