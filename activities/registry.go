package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/playbooks"
)

// Permissions are what an action needs from the outside world, declared
// so that `firebreak playbook iam-policy` can grant exactly that.
type Permissions struct {
	// IAM lists AWS IAM actions with the resources they touch.
	IAM []IAMPermission `json:"iam,omitempty"`
	// IAMByInput lists IAM permissions needed only when a step sets the named
	// input (user_name or role_name, say), so a playbook that only ever acts on
	// users is not granted what roles would need.
	IAMByInput map[string][]IAMPermission `json:"iam_by_input,omitempty"`
	// GitHub lists fine-grained token permissions, e.g. "issues:write".
	GitHub []string `json:"github,omitempty"`
	// Slack lists OAuth scopes, e.g. "chat:write".
	Slack []string `json:"slack,omitempty"`
}

// IAMPermission is one IAM action on a resource pattern ("*" when the API
// has no resource-level permissions).
type IAMPermission struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// Spec describes an action: its name, typed parameters and permissions.
type Spec struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Params      []playbooks.Param `json:"params,omitempty"`
	Permissions Permissions       `json:"permissions"`
}

// Request is what an action receives: the step's rendered inputs plus the
// identity that makes retries safe.
type Request struct {
	Action string
	// IdempotencyKey is stable across activity retries and worker crashes:
	// workflow ID + run ID + step ID (+ "/compensate" for rollbacks). Actions pass it
	// to APIs that accept client tokens, or use it to look up earlier work.
	IdempotencyKey string
	// Incident is the key of the incident the run serves; "" outside one.
	Incident string
	// Channel is the Slack channel the run reports to; "" for none.
	Channel    string
	WorkflowID string
	StepID     string
	Attempt    int32
	With       map[string]any
}

// Plan is a human-readable description of the change an action would make,
// built from read-only calls.
type Plan struct {
	Summary string   `json:"summary"`
	Changes []string `json:"changes,omitempty"`
}

// Result is what an action did.
type Result struct {
	Outputs map[string]any `json:"outputs,omitempty"`
	Summary string         `json:"summary,omitempty"`
	// Resource names what was acted on (an instance ID, a repo...).
	Resource string `json:"resource,omitempty"`
	// RequestIDs are the external APIs' request IDs, for the timeline.
	RequestIDs []string `json:"request_ids,omitempty"`
}

// Action is one registered action.
type Action interface {
	Spec() Spec
	Plan(ctx context.Context, req Request) (Plan, error)
	Execute(ctx context.Context, req Request) (Result, error)
}

// Def builds an Action from typed functions: In is decoded strictly from
// the step's `with`, and its exported fields (json tags; `action:"required"`)
// become the parameters the loader checks.
type Def[In any] struct {
	Name        string
	Description string
	Permissions Permissions
	PlanFunc    func(ctx context.Context, req Request, in In) (Plan, error)
	ExecuteFunc func(ctx context.Context, req Request, in In) (Result, error)
}

// Spec implements Action.
func (d Def[In]) Spec() Spec {
	return Spec{Name: d.Name, Description: d.Description, Params: paramsOf(reflect.TypeFor[In]()), Permissions: d.Permissions}
}

// Plan implements Action.
func (d Def[In]) Plan(ctx context.Context, req Request) (Plan, error) {
	in, err := decode[In](d.Name, req.With)
	if err != nil {
		return Plan{}, err
	}
	return d.PlanFunc(ctx, req, in)
}

// Execute implements Action.
func (d Def[In]) Execute(ctx context.Context, req Request) (Result, error) {
	in, err := decode[In](d.Name, req.With)
	if err != nil {
		return Result{}, err
	}
	return d.ExecuteFunc(ctx, req, in)
}

// ErrBadInput marks input errors; retrying cannot fix them.
const ErrBadInput = "BadInput"

func decode[In any](action string, with map[string]any) (In, error) {
	var in In
	b, err := json.Marshal(with)
	if err != nil {
		return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: inputs are not JSON: %v", action, err), ErrBadInput, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: bad inputs: %v", action, err), ErrBadInput, err)
	}
	for _, p := range paramsOf(reflect.TypeFor[In]()) {
		if _, ok := with[p.Name]; p.Required && !ok {
			return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: missing required input %q", action, p.Name), ErrBadInput, nil)
		}
	}
	return in, nil
}

func paramsOf(t reflect.Type) []playbooks.Param {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []playbooks.Param
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			// encoding/json flattens an untagged embedded struct (AWSTarget, say), so its
			// fields are parameters of their own.
			out = append(out, paramsOf(f.Type)...)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, playbooks.Param{Name: name, Type: typeName(f.Type), Required: f.Tag.Get("action") == "required"})
	}
	return out
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "map"
	default:
		return "any"
	}
}

// Registry holds every action by name. It implements playbooks.Catalog,
// so the loader rejects unknown actions and parameters.
type Registry struct {
	actions map[string]Action
}

// NewRegistry registers actions; a duplicate name is a programming error.
func NewRegistry(actions ...Action) (*Registry, error) {
	r := &Registry{actions: map[string]Action{}}
	for _, a := range actions {
		name := a.Spec().Name
		if _, dup := r.actions[name]; dup {
			return nil, fmt.Errorf("action %s registered twice", name)
		}
		r.actions[name] = a
	}
	return r, nil
}

// Get returns the action called name.
func (r *Registry) Get(name string) (Action, bool) {
	a, ok := r.actions[name]
	return a, ok
}

// LookupAction implements playbooks.Catalog.
func (r *Registry) LookupAction(name string) (playbooks.ActionSpec, bool) {
	a, ok := r.actions[name]
	if !ok {
		return playbooks.ActionSpec{}, false
	}
	s := a.Spec()
	return playbooks.ActionSpec{Name: s.Name, Params: s.Params, Description: s.Description}, true
}

// Specs lists every action, sorted by name.
func (r *Registry) Specs() []Spec {
	out := make([]Spec, 0, len(r.actions))
	for _, a := range r.actions {
		out = append(out, a.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ActionNames lists every action name, sorted; the loader uses it to
// suggest the closest name for a typo.
func (r *Registry) ActionNames() []string {
	names := make([]string, 0, len(r.actions))
	for n := range r.actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
