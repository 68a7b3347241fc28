package playbooks

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"go.yaml.in/yaml/v3"
)

// exprSite is one CEL expression in the file: a `when`, or the inside of
// one ${{ }} template.
type exprSite struct {
	node  *yaml.Node
	field string // "when", "with.instance_id", ... for messages
	text  string
	off   int // byte offset of text in node.Value
	when  bool
	// duration: the expression is a whole duration value (wait.duration),
	// so it must be able to give one.
	duration bool
	ctx      siteCtx
}

// checkExpr compiles and type-checks one expression, then checks what it
// reads from inputs and steps.
func (d *decoder) checkExpr(s *exprSite) {
	if d.env == nil {
		return
	}
	ast, iss := d.env.Compile(s.text)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			msg := strings.ReplaceAll(e.Message, " (in container '')", "")
			d.errorAt(d.exprPos(s, e.Location), "%s: %s", s.field, msg)
		}
		return
	}
	if s.when {
		if k := ast.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
			d.errorf(s.node, "when must be a bool expression, got %s", ast.OutputType())
		}
	}
	if s.duration {
		d.checkDurationExpr(s, ast)
	}
	native := ast.NativeRep()
	r := refWalker{d: d, site: s, info: native.SourceInfo()}
	r.walk(native.Expr(), nil)
}

// checkDurationExpr checks an expression that is a whole duration: it must
// give a duration or a string (which is parsed when the step starts), and an
// input it reads as is must be declared as a duration or a string.
func (d *decoder) checkDurationExpr(s *exprSite, a *cel.Ast) {
	switch a.OutputType().Kind() {
	case types.StringKind, types.DurationKind, types.DynKind:
	default:
		d.errorf(s.node, "%s must give a duration such as \"24h\", but ${{ %s }} is %s", s.field, s.text, a.OutputType())
		return
	}
	name, ok := inputRead(a.NativeRep().Expr())
	if !ok {
		return
	}
	if typ, declared := d.inputType[name]; declared && typ != TypeDuration && typ != TypeString {
		d.errorf(s.node, "%s reads input %q, which is of type %s: declare it with type: duration", s.field, name, typ)
	}
}

// inputRead returns name when e is exactly `inputs.name` or
// `inputs['name']`.
func inputRead(e celast.Expr) (string, bool) {
	switch e.Kind() {
	case celast.SelectKind:
		sel := e.AsSelect()
		if op := sel.Operand(); !sel.IsTestOnly() && op.Kind() == celast.IdentKind && op.AsIdent() == varInputs {
			return sel.FieldName(), true
		}
	case celast.CallKind:
		call := e.AsCall()
		args := call.Args()
		if call.FunctionName() == operators.Index && len(args) == 2 && args[0].Kind() == celast.IdentKind && args[0].AsIdent() == varInputs && args[1].Kind() == celast.LiteralKind {
			if key, ok := args[1].AsLiteral().(types.String); ok {
				return string(key), true
			}
		}
	}
	return "", false
}

// exprPos maps a location inside an expression to the file.
func (d *decoder) exprPos(s *exprSite, loc common.Location) pos {
	if loc == nil || loc.Line() != 1 || loc.Column() < 0 {
		return nodePos(s.node)
	}
	p, exact := valuePos(s.node, s.off)
	if !exact {
		return p
	}
	return pos{p.line, p.col + loc.Column()}
}

// valuePos is the position of byte off of a scalar's value. It is exact
// for single-line plain or quoted scalars (escapes aside); otherwise it is
// the scalar's own position and exact is false.
func valuePos(n *yaml.Node, off int) (p pos, exact bool) {
	base := nodePos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.Contains(n.Value, "\n") || off < 0 || off > len(n.Value) {
		return base, false
	}
	col := n.Column
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return pos{n.Line, col + utf8.RuneCountInString(n.Value[:off])}, true
}

// templateError reports a malformed ${{ }} where it starts.
func (d *decoder) templateError(n *yaml.Node, what string, err error) {
	var te *templateSyntaxError
	if errors.As(err, &te) {
		p, _ := valuePos(n, te.off)
		d.errorAt(p, "%s: %s", what, te.msg)
		return
	}
	d.errorf(n, "%s: %v", what, err)
}

// refWalker finds reads of inputs.<name> and steps.<id> (also written
// with [] or .?) and checks them against the declared inputs and the
// steps that run before the expression's step.
type refWalker struct {
	d    *decoder
	site *exprSite
	info *celast.SourceInfo
}

func (r refWalker) walk(e celast.Expr, shadow []string) {
	switch e.Kind() {
	case celast.SelectKind:
		sel := e.AsSelect()
		r.ref(sel.Operand(), sel.FieldName(), shadow)
		r.walk(sel.Operand(), shadow)
	case celast.CallKind:
		call := e.AsCall()
		args := call.Args()
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(args) == 2 && args[1].Kind() == celast.LiteralKind {
				if key, ok := args[1].AsLiteral().(types.String); ok {
					r.ref(args[0], string(key), shadow)
				}
			}
		}
		if call.IsMemberFunction() {
			r.walk(call.Target(), shadow)
		}
		for _, a := range args {
			r.walk(a, shadow)
		}
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		r.walk(c.IterRange(), shadow)
		r.walk(c.AccuInit(), shadow)
		inner := append(append([]string{}, shadow...), c.IterVar(), c.AccuVar())
		if c.HasIterVar2() {
			inner = append(inner, c.IterVar2())
		}
		r.walk(c.LoopCondition(), inner)
		r.walk(c.LoopStep(), inner)
		r.walk(c.Result(), inner)
	case celast.ListKind:
		for _, el := range e.AsList().Elements() {
			r.walk(el, shadow)
		}
	case celast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			r.walk(me.Key(), shadow)
			r.walk(me.Value(), shadow)
		}
	case celast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			r.walk(f.AsStructField().Value(), shadow)
		}
	}
}

// ref checks operand.key when operand is the inputs or steps variable.
func (r refWalker) ref(operand celast.Expr, key string, shadow []string) {
	if operand.Kind() != celast.IdentKind {
		return
	}
	root := operand.AsIdent()
	for _, s := range shadow {
		if s == root {
			return
		}
	}
	at := r.d.exprPos(r.site, r.info.GetStartLocation(operand.ID()))
	field := r.site.field
	switch root {
	case varInputs:
		if !r.d.inputs[key] {
			r.d.errorAt(at, "%s: undeclared input %q%s", field, key, suggest(key, sortedKeys(r.d.inputs)))
		}
	case varSteps:
		if msg := r.d.stepRefProblem(r.site.ctx, key); msg != "" {
			r.d.errorAt(at, "%s: %s", field, msg)
		}
	}
}

// stepRefProblem says why an expression in ctx may not read steps.<id>,
// or returns "" when it may: only steps that finished before this one
// have outputs.
func (d *decoder) stepRefProblem(ctx siteCtx, id string) string {
	target, ok := d.ids[id]
	switch {
	case !ok:
		return fmt.Sprintf("unknown step %q%s", id, suggest(id, d.idOrder))
	case id == ctx.stepID:
		if ctx.allowSelf {
			return ""
		}
		return fmt.Sprintf("step %q cannot refer to itself", id)
	case target.order < ctx.order:
		return ""
	case target.order > ctx.order:
		return fmt.Sprintf("step %q runs after this step (line %d)", id, target.at.line)
	case id == ctx.group:
		return fmt.Sprintf("step %q is the parallel group this step belongs to", id)
	case ctx.ownGroup != "" && target.group == ctx.ownGroup:
		return fmt.Sprintf("step %q runs inside this parallel group", id)
	default:
		return fmt.Sprintf("step %q runs in parallel with this step", id)
	}
}
