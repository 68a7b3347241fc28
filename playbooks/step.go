package playbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// siteCtx places an expression in the run, to decide which steps it may
// read.
type siteCtx struct {
	stepID    string // the step the expression belongs to ("" if unnamed)
	order     int    // see stepInfo
	group     string // key of the enclosing parallel group, "" at top level
	ownGroup  string // key of this step's own group, if it is one
	allowSelf bool   // compensate.with may read the step's own outputs
}

const kindList = "action, parallel, manual, wait or call"

// step decodes one step. order is its top-level position; group is the
// key of the enclosing parallel group.
func (d *decoder) step(n *yaml.Node, order int, group string) Step {
	st := Step{Line: n.Line, Col: n.Column}
	fs := d.mapping(n, stepLabel(n), stepKeys)
	if fs == nil {
		return st
	}

	idField := fs.get("id")
	if idField != nil {
		if id, ok := d.str(idField.val, "id"); ok {
			st.ID = id
			switch prev, dup := d.ids[id]; {
			case !stepIDRE.MatchString(id) || len(id) > maxNameLen:
				d.errorf(idField.val, "step id %q must start with a lowercase letter and use only a-z, 0-9, _ and - (at most %d characters)", id, maxNameLen)
			case dup:
				d.errorf(idField.val, "duplicate step id %q (first defined at line %d)", id, prev.at.line)
			default:
				d.ids[id] = stepInfo{order: order, group: group, at: nodePos(idField.val)}
				d.idOrder = append(d.idOrder, id)
			}
		}
	}

	var kinds []field
	for _, f := range fs {
		if slices.Contains(kindKeys, f.key.Value) {
			kinds = append(kinds, f)
		}
	}
	if len(kinds) == 0 {
		d.errorf(n, "step needs exactly one of %s", kindList)
	} else {
		st.Kind = StepKind(kinds[0].key.Value)
		for _, k := range kinds[1:] {
			d.errorf(k.key, "step has both %s and %s: use exactly one of %s", kinds[0].key.Value, k.key.Value, kindList)
		}
	}
	if idField == nil && st.Kind != KindParallel {
		d.errorf(n, "step is missing id")
	}

	ctx := siteCtx{stepID: st.ID, order: order, group: group}
	if st.Kind == KindParallel {
		ctx.ownGroup = st.ID
		if ctx.ownGroup == "" {
			// Unnamed groups cannot be referenced; any unique key will do.
			ctx.ownGroup = fmt.Sprintf("#%d", order)
		}
	}

	// The kind's own body first: compensate needs the action's `with`.
	var with withResult
	var spec *ActionSpec
	if len(kinds) > 0 {
		body := kinds[0].val
		switch st.Kind {
		case KindAction:
			st.Action, spec = d.action(body, "action")
			if f := fs.get("with"); f != nil {
				with = d.with(f.val, "with", ctx)
				st.With = with.m
			}
			if spec != nil {
				var at *yaml.Node
				if f := fs.get("with"); f != nil {
					at = f.key
				} else {
					at = kinds[0].key
				}
				d.checkParams(*spec, "action", with, at)
			}
		case KindParallel:
			st.Parallel = d.parallel(body, order, ctx.ownGroup)
		case KindManual:
			st.Manual = d.manual(body, ctx)
		case KindWait:
			st.Wait = d.wait(body, ctx)
		case KindCall:
			st.Call = d.call(body, ctx)
		}
	}

	for _, f := range fs {
		switch f.key.Value {
		case "name":
			st.Name, _ = d.str(f.val, "name")
		case "when":
			st.When = d.when(f.val, ctx)
		case "timeout":
			st.Timeout, _ = d.duration(f.val, "timeout")
			switch {
			case st.Kind == KindParallel:
				d.errorf(f.key, "timeout is not allowed on a parallel group: set it on its steps")
			case st.Kind == KindWait && st.Wait != nil && (st.Wait.Duration != 0 || st.Wait.DurationExpr != ""):
				d.errorf(f.key, "timeout has no effect on a wait with a duration")
			}
		case "continue_on_error":
			st.ContinueOnError, _ = d.boolean(f.val, "continue_on_error")
		case "retry":
			st.Retry = d.retry(f.val)
		case "approval":
			st.Approval = d.approval(f.val, ctx)
		case "compensate":
			cctx := ctx
			cctx.allowSelf = true
			st.Compensate = d.compensate(f.val, with, cctx)
		}
	}

	if st.Kind != "" && st.Kind != KindAction {
		for _, key := range []string{"with", "retry", "compensate", "approval"} {
			if f := fs.get(key); f != nil {
				hint := ""
				if key == "with" && st.Kind == KindCall {
					hint = " (a call step takes call.with)"
				}
				d.errorf(f.key, "%s is only allowed on action steps, not on %s steps%s", key, st.Kind, hint)
			}
		}
	}
	return st
}

// stepLabel names a step in messages by its id when it has a usable one.
func stepLabel(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "id" && isScalar(v, "!!str") && stepIDRE.MatchString(v.Value) {
				return fmt.Sprintf("step %q", v.Value)
			}
		}
	}
	return "step"
}

func (d *decoder) parallel(n *yaml.Node, order int, groupKey string) []Step {
	if !d.isKind(n, yaml.SequenceNode, "parallel", "a list of steps") {
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, "parallel must list at least one step")
		return nil
	}
	out := make([]Step, 0, len(n.Content))
	for _, item := range n.Content {
		child := d.step(item, order, groupKey)
		if child.Kind == KindParallel {
			d.errorf(item, "parallel groups cannot be nested")
		}
		out = append(out, child)
	}
	return out
}

// action reads an action name and looks it up. A nil Catalog skips the
// lookup, for tools that only check structure.
func (d *decoder) action(n *yaml.Node, what string) (string, *ActionSpec) {
	name, ok := d.name(n, what)
	if !ok {
		return "", nil
	}
	if d.cat == nil {
		return name, nil
	}
	spec, found := d.cat.LookupAction(name)
	if !found {
		hint := ""
		if l, ok := d.cat.(ActionLister); ok {
			hint = suggest(name, l.ActionNames())
		}
		d.errorf(n, "unknown action %q%s", name, hint)
		return name, nil
	}
	return name, &spec
}

// withResult is a decoded `with` mapping: the values, and the key and
// value nodes for checks against a parameter list.
type withResult struct {
	m      map[string]any
	fields fields
	bad    bool // not a mapping: skip parameter checks rather than pile on
}

func (d *decoder) with(n *yaml.Node, what string, ctx siteCtx) withResult {
	fs := d.mapping(n, what, nil)
	if fs == nil {
		return withResult{bad: true}
	}
	var tmpls []tmplString
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		v, _ := d.value(f.val, joinPath(what, f.key.Value), &tmpls)
		m[f.key.Value] = v
	}
	for _, t := range tmpls {
		d.templates(t.node, t.path, ctx)
	}
	return withResult{m: m, fields: fs}
}

// templates records every ${{ }} in the string at n for checking.
func (d *decoder) templates(n *yaml.Node, what string, ctx siteCtx) {
	segs, err := splitTemplates(n.Value)
	if err != nil {
		d.templateError(n, what, err)
		return
	}
	for _, s := range segs {
		if s.expr {
			d.exprs = append(d.exprs, exprSite{node: n, field: what, text: s.text, off: s.off, ctx: ctx})
		}
	}
}

// checkParams checks a `with` against an action's parameters: no unknown
// keys, every required one present, literal values of the declared type.
func (d *decoder) checkParams(spec ActionSpec, what string, with withResult, at *yaml.Node) {
	if with.bad {
		return
	}
	names := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		names[i] = p.Name
	}
	for _, f := range with.fields {
		i := slices.Index(names, f.key.Value)
		if i < 0 {
			d.errorf(f.key, "%s %q has no parameter %q%s", what, spec.Name, f.key.Value, paramHint(f.key.Value, names))
			continue
		}
		if want := spec.Params[i].Type; !literalFits(want, f.val) {
			d.errorf(f.val, "parameter %q of %s %q must be %s, got %s", f.key.Value, what, spec.Name, typeNoun(want), describe(f.val))
		}
	}
	for _, p := range spec.Params {
		if p.Required && with.fields.get(p.Name) == nil {
			d.errorf(at, "%s %q requires parameter %q", what, spec.Name, p.Name)
		}
	}
}

func paramHint(name string, names []string) string {
	if s := suggest(name, names); s != "" {
		return s
	}
	if len(names) == 0 {
		return " (it takes no parameters)"
	}
	return fmt.Sprintf(" (parameters: %s)", strings.Join(names, ", "))
}

// literalFits reports whether a literal YAML value suits a parameter
// type. Values holding templates are only known at run time and pass.
func literalFits(typ string, n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && hasTemplate(n.Value) {
		return true
	}
	switch normalizeType(typ) {
	case "string":
		return isScalar(n, "!!str")
	case "int":
		return isScalar(n, "!!int")
	case "number":
		return isScalar(n, "!!int") || isScalar(n, "!!float")
	case "bool":
		return isScalar(n, "!!bool")
	case "duration":
		if !isScalar(n, "!!str") {
			return false
		}
		_, err := ParseDuration(n.Value)
		return err == nil
	case "list":
		return n.Kind == yaml.SequenceNode
	case "map":
		return n.Kind == yaml.MappingNode
	}
	return true
}

func normalizeType(t string) string {
	switch strings.ToLower(t) {
	case "string", "str":
		return "string"
	case "int", "integer", "int64":
		return "int"
	case "number", "float", "double", "float64":
		return "number"
	case "bool", "boolean":
		return "bool"
	case "duration":
		return "duration"
	case "list", "array", "[]string", "[]any":
		return "list"
	case "map", "object", "dict":
		return "map"
	}
	return ""
}

func typeNoun(t string) string {
	switch normalizeType(t) {
	case "string":
		return "a string"
	case "int":
		return "an integer"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration like \"15m\""
	case "list":
		return "a list"
	case "map":
		return "a mapping"
	}
	return t
}

// when reads a step condition. `${{ expr }}` is accepted as a spelling of
// expr, as in GitHub Actions, and stored bare; `when: false` disables a
// step.
func (d *decoder) when(n *yaml.Node, ctx siteCtx) string {
	if isScalar(n, "!!bool") {
		expr := strings.ToLower(n.Value)
		d.exprs = append(d.exprs, exprSite{node: n, field: "when", text: expr, when: true, ctx: ctx})
		return expr
	}
	s, ok := d.str(n, "when")
	if !ok {
		return ""
	}
	expr, off := s, 0
	if hasTemplate(s) {
		segs, err := splitTemplates(s)
		if err != nil {
			d.templateError(n, "when", err)
			return ""
		}
		if len(segs) != 1 || !segs[0].expr {
			d.errorf(n, "when is a CEL expression: write it bare, or as exactly one ${{ }} with no text around it")
			return ""
		}
		expr, off = segs[0].text, segs[0].off
	}
	if strings.TrimSpace(expr) == "" {
		d.errorf(n, "when must not be empty")
		return ""
	}
	d.exprs = append(d.exprs, exprSite{node: n, field: "when", text: expr, off: off, when: true, ctx: ctx})
	return expr
}

// Temporal treats 0 attempts as unlimited; a playbook step retried
// forever would hold an incident hostage, so the DSL caps it.
const maxRetryAttempts = 100

func (d *decoder) retry(n *yaml.Node) *Retry {
	fs := d.mapping(n, "retry", retryKeys)
	if fs == nil {
		return nil
	}
	r := &Retry{}
	var initial, maxi *yaml.Node
	for _, f := range fs {
		switch f.key.Value {
		case "max_attempts":
			if v, ok := d.integer(f.val, "retry.max_attempts"); ok {
				if v < 1 || v > maxRetryAttempts {
					d.errorf(f.val, "retry.max_attempts must be between 1 and %d, got %d", maxRetryAttempts, v)
				} else {
					r.MaxAttempts = int(v)
				}
			}
		case "initial_interval":
			r.InitialInterval, _ = d.duration(f.val, "retry.initial_interval")
			initial = f.val
		case "backoff_coefficient":
			if v, ok := d.number(f.val, "retry.backoff_coefficient"); ok {
				if v < 1 {
					d.errorf(f.val, "retry.backoff_coefficient must be at least 1, got %v", v)
				} else {
					r.BackoffCoefficient = v
				}
			}
		case "max_interval":
			r.MaxInterval, _ = d.duration(f.val, "retry.max_interval")
			maxi = f.val
		}
	}
	if initial != nil && maxi != nil && r.InitialInterval > 0 && r.MaxInterval > 0 && r.MaxInterval < r.InitialInterval {
		d.errorf(maxi, "retry.max_interval (%s) is shorter than retry.initial_interval (%s)", r.MaxInterval, r.InitialInterval)
	}
	return r
}

func (d *decoder) approval(n *yaml.Node, ctx siteCtx) *Approval {
	fs := d.mapping(n, "approval", approvalKeys)
	if fs == nil {
		return nil
	}
	a := &Approval{Min: 1, OnTimeout: OnTimeoutAbort}
	for _, f := range fs {
		switch f.key.Value {
		case "group":
			a.Group, _ = d.name(f.val, "approval.group")
		case "users":
			if isScalar(f.val, "!!str") {
				a.UsersFrom = d.usersFrom(f.val, ctx)
				continue
			}
			seen := map[string]bool{}
			for i, u := range d.strList(f.val, "approval.users") {
				if seen[u] {
					d.errorf(f.val.Content[i], "approval.users lists %q twice", u)
					continue
				}
				if strings.TrimSpace(u) == "" || hasTemplate(u) {
					d.errorf(f.val.Content[i], "approval.users entries must be user names")
					continue
				}
				seen[u] = true
				a.Users = append(a.Users, u)
			}
		case "min":
			if v, ok := d.integer(f.val, "approval.min"); ok {
				if v < 1 || v > 100 {
					d.errorf(f.val, "approval.min must be between 1 and 100, got %d", v)
				} else {
					a.Min = int(v)
				}
			}
		case "timeout":
			a.Timeout, _ = d.duration(f.val, "approval.timeout")
		case "on_timeout":
			if s, ok := d.str(f.val, "approval.on_timeout"); ok {
				if s != OnTimeoutAbort && s != OnTimeoutEscalate {
					d.errorf(f.val, "approval.on_timeout must be %q or %q, got %q", OnTimeoutAbort, OnTimeoutEscalate, s)
				} else {
					a.OnTimeout = s
				}
			}
		case "escalate":
			a.Escalate, _ = d.name(f.val, "approval.escalate")
		case "allow_requester":
			a.AllowRequester, _ = d.boolean(f.val, "approval.allow_requester")
		}
	}
	if fs.get("group") == nil && fs.get("users") == nil {
		d.errorf(n, "approval needs a group or users who may approve")
	}
	if mf := fs.get("min"); mf != nil && fs.get("group") == nil && a.UsersFrom == "" && len(a.Users) > 0 && a.Min > len(a.Users) {
		d.errorf(mf.val, "approval.min is %d but approval.users lists only %d", a.Min, len(a.Users))
	}
	if f := fs.get("on_timeout"); f != nil && fs.get("timeout") == nil {
		d.errorf(f.key, "approval.on_timeout needs approval.timeout")
	}
	if f := fs.get("on_timeout"); f != nil && a.OnTimeout == OnTimeoutEscalate && fs.get("escalate") == nil {
		d.errorf(f.val, "approval.on_timeout: escalate needs approval.escalate, the group to notify")
	}
	if f := fs.get("escalate"); f != nil && fs.get("on_timeout") != nil && a.OnTimeout != OnTimeoutEscalate {
		d.errorf(f.key, "approval.escalate is only used with on_timeout: escalate")
	}
	if f := fs.get("escalate"); f != nil && fs.get("on_timeout") == nil {
		d.errorf(f.key, "approval.escalate is only used with on_timeout: escalate")
	}
	return a
}

// usersFrom reads `approval.users` given as one template that computes
// the list when the gate opens (`${{ inputs.approvers }}`).
func (d *decoder) usersFrom(n *yaml.Node, ctx siteCtx) string {
	segs, err := splitTemplates(n.Value)
	if err != nil {
		d.templateError(n, "approval.users", err)
		return ""
	}
	if len(segs) != 1 || !segs[0].expr || strings.TrimSpace(segs[0].text) == "" {
		d.errorf(n, "approval.users is a list of user names, or exactly one ${{ }} that gives one (such as \"${{ inputs.approvers }}\")")
		return ""
	}
	d.templates(n, "approval.users", ctx)
	return n.Value
}

func (d *decoder) compensate(n *yaml.Node, stepWith withResult, ctx siteCtx) *Compensate {
	fs := d.mapping(n, "compensate", compensateKeys)
	if fs == nil {
		return nil
	}
	c := &Compensate{}
	var spec *ActionSpec
	af := fs.get("action")
	if af == nil {
		d.errorf(n, "compensate needs an action")
	} else {
		c.Action, spec = d.action(af.val, "compensate.action")
	}
	if wf := fs.get("with"); wf != nil {
		w := d.with(wf.val, "compensate.with", ctx)
		c.With = w.m
		if spec != nil {
			d.checkParams(*spec, "compensate action", w, wf.key)
		}
		return c
	}
	if spec == nil || stepWith.bad {
		return c
	}
	// Without compensate.with, the inverse action gets the step's own
	// parameters that it declares, filled in here so the interpreter has
	// one rule: render Compensate.With.
	for _, p := range spec.Params {
		if v, ok := stepWith.m[p.Name]; ok {
			if c.With == nil {
				c.With = map[string]any{}
			}
			c.With[p.Name] = v
		} else if p.Required {
			d.errorf(af.key, "compensate action %q requires parameter %q, which the step's with does not set: add compensate.with", spec.Name, p.Name)
		}
	}
	return c
}

var roleRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

func (d *decoder) manual(n *yaml.Node, ctx siteCtx) *Manual {
	fs := d.mapping(n, "manual", manualKeys)
	if fs == nil {
		return nil
	}
	m := &Manual{}
	for _, f := range fs {
		switch f.key.Value {
		case "role":
			if s, ok := d.name(f.val, "manual.role"); ok {
				if !roleRE.MatchString(s) {
					d.errorf(f.val, "manual.role %q must be a lowercase role name such as commander or scribe", s)
				}
				m.Role = s
			}
		case "task":
			if s, ok := d.str(f.val, "manual.task"); ok {
				if strings.TrimSpace(s) == "" {
					d.errorf(f.val, "manual.task must not be empty")
				}
				m.Task = s
				if hasTemplate(s) {
					d.templates(f.val, "manual.task", ctx)
				}
			}
		}
	}
	if fs.get("task") == nil {
		d.errorf(n, "manual needs a task")
	}
	return m
}

func (d *decoder) wait(n *yaml.Node, ctx siteCtx) *Wait {
	fs := d.mapping(n, "wait", waitKeys)
	if fs == nil {
		return nil
	}
	w := &Wait{}
	for _, f := range fs {
		switch f.key.Value {
		case "duration":
			if isScalar(f.val, "!!str") && hasTemplate(f.val.Value) {
				w.DurationExpr = d.durationExpr(f.val, "wait.duration", ctx)
			} else {
				w.Duration, _ = d.duration(f.val, "wait.duration")
			}
		case "signal":
			if s, ok := d.name(f.val, "wait.signal"); ok {
				if !signalRE.MatchString(s) {
					d.errorf(f.val, "wait.signal %q must start with a letter and use only letters, digits, _, . and -", s)
				}
				w.Signal = s
			}
		case "extendable":
			w.Extendable, _ = d.boolean(f.val, "wait.extendable")
		case "max":
			// A literal, so the bound is known when the playbook is reviewed.
			if isScalar(f.val, "!!str") && hasTemplate(f.val.Value) {
				d.errorf(f.val, "wait.max must be a literal duration such as 7d: templates are not evaluated here")
				break
			}
			w.Max, _ = d.duration(f.val, "wait.max")
		}
	}
	switch {
	case fs.get("duration") != nil && fs.get("signal") != nil:
		d.errorf(fs.get("signal").key, "wait takes either duration or signal, not both")
	case fs.get("duration") == nil && fs.get("signal") == nil:
		d.errorf(n, "wait needs a duration or a signal")
	}
	if fs.get("signal") != nil {
		for _, key := range []string{"extendable", "max"} {
			if f := fs.get(key); f != nil {
				d.errorf(f.key, "wait.%s only applies to a wait with a duration; a signal wait lasts until its signal (bound it with timeout)", key)
			}
		}
		return w
	}
	mf := fs.get("max")
	if mf != nil && !w.Extendable {
		d.errorf(mf.key, "wait.max bounds extensions, so it needs extendable: true")
	}
	if w.Extendable && w.Max == 0 && mf == nil {
		w.Max = DefaultWaitMax
	}
	if mf != nil && w.Max > 0 && w.Duration > w.Max {
		d.errorf(mf.val, "wait.max (%s) is shorter than wait.duration (%s)", w.Max, w.Duration)
	}
	return w
}

// durationExpr reads a duration given as a template, rendered when the
// step starts. Its expressions are checked like any other; one that is the
// whole value must be able to give a duration (see checkExpr).
func (d *decoder) durationExpr(n *yaml.Node, what string, ctx siteCtx) string {
	segs, err := splitTemplates(n.Value)
	if err != nil {
		d.templateError(n, what, err)
		return ""
	}
	for _, s := range segs {
		if s.expr {
			d.exprs = append(d.exprs, exprSite{node: n, field: what, text: s.text, off: s.off, ctx: ctx, duration: len(segs) == 1})
		}
	}
	return n.Value
}

func (d *decoder) call(n *yaml.Node, ctx siteCtx) *Call {
	fs := d.mapping(n, "call", callKeys)
	if fs == nil {
		return nil
	}
	c := &Call{}
	site := callSite{callPos: nodePos(n)}
	pf := fs.get("playbook")
	if pf == nil {
		d.errorf(n, "call needs a playbook")
	} else if s, ok := d.name(pf.val, "call.playbook"); ok {
		c.Playbook = s
		site.target = s
		site.targetPos = nodePos(pf.val)
	}
	if wf := fs.get("with"); wf != nil {
		w := d.with(wf.val, "call.with", ctx)
		c.With = w.m
		for _, f := range w.fields {
			site.withKeys = append(site.withKeys, keyAt{name: f.key.Value, at: nodePos(f.key)})
		}
	}
	if site.target != "" {
		d.calls = append(d.calls, site)
	}
	return c
}
