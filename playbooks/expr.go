package playbooks

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Names of the variables expressions see.
const (
	varInputs   = "inputs"
	varSteps    = "steps"
	varIncident = "incident"
	varConfig   = "config"
	varRun      = "run"
)

// Limits that keep a hostile or careless expression from stalling a
// workflow task: expression evaluation runs inside deterministic workflow
// code, where a long computation blocks the whole incident.
const (
	maxExprSize      = 4096
	maxExprRecursion = 64
	maxExprCost      = 100_000
	// Programs come from playbooks, so a workflow needs few; the cap only
	// keeps a long-lived, shared Evaluator from growing without bound.
	maxCachedPrograms = 4096
)

// newEnv builds the CEL environment shared by the loader (type checking)
// and the Evaluator (running). Library versions are pinned so that a
// cel-go upgrade cannot change what a replayed workflow computes.
func newEnv() (*cel.Env, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("cel registry: %w", err)
	}
	mapDyn := cel.MapType(cel.StringType, cel.DynType)
	env, err := cel.NewEnv(
		cel.CustomTypeAdapter(sortingAdapter{reg}),
		cel.Variable(varInputs, mapDyn),
		cel.Variable(varSteps, mapDyn),
		cel.Variable(varIncident, mapDyn),
		cel.Variable(varConfig, mapDyn),
		cel.Variable(varRun, mapDyn),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(cel.OptionalTypesVersion(2)),
		ext.Strings(ext.StringsVersion(5)),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxExprRecursion),
	)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return env, nil
}

// Evaluator evaluates `when` expressions and renders `with` templates at
// run time. It caches compiled programs by expression text, so the caller
// keeps one per workflow (or shares one: it is safe for concurrent use).
// Evaluation is pure: the same expression and Vars always give the same
// result, as Temporal replay requires; map iteration inside expressions is
// in sorted key order for the same reason.
type Evaluator struct {
	mu    sync.Mutex
	env   *cel.Env
	err   error
	progs map[string]cel.Program
}

// NewEvaluator returns an Evaluator with an empty program cache.
func NewEvaluator() *Evaluator {
	env, err := newEnv()
	return &Evaluator{env: env, err: err, progs: map[string]cel.Program{}}
}

// EvalBool evaluates a `when` expression with a throwaway Evaluator.
// Prefer Evaluator.EvalBool in loops.
func EvalBool(expr string, v Vars) (bool, error) {
	return NewEvaluator().EvalBool(expr, v)
}

// Render renders `with` templates with a throwaway Evaluator. Prefer
// Evaluator.Render in loops.
func Render(with map[string]any, v Vars) (map[string]any, error) {
	return NewEvaluator().Render(with, v)
}

// EvalBool evaluates expr, which must produce a bool. An empty expr is
// true, so callers can pass Step.When unconditionally.
func (e *Evaluator) EvalBool(expr string, v Vars) (bool, error) {
	if strings.TrimSpace(expr) == "" {
		return true, nil
	}
	out, err := e.eval(expr, v.activation())
	if err != nil {
		return false, fmt.Errorf("when %q: %w", expr, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("when %q: got %s, want bool", expr, out.Type().TypeName())
	}
	return bool(b), nil
}

// Render returns a copy of with in which every string holding ${{ }}
// templates is evaluated: a string that is exactly one template becomes
// the expression's value, keeping its type; otherwise each template's
// value is interpolated as text. Output values are JSON-friendly
// (map[string]any, []any, string, int64, float64, bool, nil). Errors name
// the field, e.g. `tags[1]` or `target.arn`.
func (e *Evaluator) Render(with map[string]any, v Vars) (map[string]any, error) {
	if with == nil {
		return nil, nil
	}
	act := v.activation()
	out, err := e.renderValue(with, act, "")
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// RenderString renders the templates in one string (a manual task, say)
// and returns the text.
func (e *Evaluator) RenderString(s string, v Vars) (string, error) {
	segs, err := splitTemplates(s)
	if err != nil {
		return "", err
	}
	return e.interpolate(segs, v.activation())
}

func (e *Evaluator) renderValue(val any, act map[string]any, path string) (any, error) {
	switch x := val.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		// Sorted so the first error reported does not depend on map order.
		for _, k := range sortedKeys(x) {
			r, err := e.renderValue(x[k], act, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			r, err := e.renderValue(item, act, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case string:
		segs, err := splitTemplates(x)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(segs) == 1 && segs[0].expr {
			out, err := e.eval(segs[0].text, act)
			if err != nil {
				return nil, &ExprError{Field: path, Expr: segs[0].text, Err: err}
			}
			nat, err := toNative(out)
			if err != nil {
				return nil, &ExprError{Field: path, Expr: segs[0].text, Err: err}
			}
			return nat, nil
		}
		s, err := e.interpolate(segs, act)
		var ee *ExprError
		if errors.As(err, &ee) {
			ee.Field = path
			return nil, ee
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	default:
		return normalizeScalar(x), nil
	}
}

func (e *Evaluator) interpolate(segs []segment, act map[string]any) (string, error) {
	var b strings.Builder
	for _, s := range segs {
		if !s.expr {
			b.WriteString(s.text)
			continue
		}
		out, err := e.eval(s.text, act)
		if err != nil {
			return "", &ExprError{Expr: s.text, Err: err}
		}
		str, err := toText(out)
		if err != nil {
			return "", &ExprError{Expr: s.text, Err: err}
		}
		b.WriteString(str)
	}
	return b.String(), nil
}

// ExprError is a template that could not be evaluated: which field, which
// expression, and CEL's reason.
type ExprError struct {
	Field string // "with.text", "tags[1]"; empty for a lone string
	Expr  string // the expression inside ${{ }}
	Err   error
}

func (e *ExprError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("${{ %s }}: %v", e.Expr, e.Err)
	}
	return fmt.Sprintf("%s: ${{ %s }}: %v", e.Field, e.Expr, e.Err)
}

func (e *ExprError) Unwrap() error { return e.Err }

// MissingKey is the key a "no such key" evaluation error names (a step
// that has not run, say), or "".
func (e *ExprError) MissingKey() string {
	k, ok := strings.CutPrefix(e.Err.Error(), "no such key: ")
	if !ok {
		return ""
	}
	return k
}

func (e *Evaluator) eval(expr string, act map[string]any) (ref.Val, error) {
	prg, err := e.program(expr)
	if err != nil {
		return nil, err
	}
	out, _, err := prg.Eval(act)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Evaluator) program(expr string) (cel.Program, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	if p, ok := e.progs[expr]; ok {
		return p, nil
	}
	ast, iss := e.env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compile: %w", iss.Err())
	}
	p, err := e.env.Program(ast,
		cel.CostLimit(maxExprCost),
		cel.CustomDecoratorV2(sortMapLiterals),
	)
	if err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	if len(e.progs) < maxCachedPrograms {
		e.progs[expr] = p
	}
	return p, nil
}

// activation exposes v to CEL. Missing maps become empty ones so that
// has(config.x) works before anything is configured.
func (v Vars) activation() map[string]any {
	steps := make(map[string]any, len(v.Steps))
	for id, s := range v.Steps {
		outputs := s.Outputs
		if outputs == nil {
			outputs = map[string]any{}
		}
		steps[id] = map[string]any{"outputs": outputs, "status": s.Status}
	}
	return map[string]any{
		varInputs:   orEmpty(v.Inputs),
		varSteps:    steps,
		varIncident: orEmpty(v.Incident),
		varConfig:   orEmpty(v.Config),
		varRun:      orEmpty(v.Run),
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// segment is a piece of a string: literal text, or the CEL source inside
// one ${{ }}.
type segment struct {
	text string
	expr bool
	off  int // byte offset of text in the original string
}

const (
	tmplOpen  = "${{"
	tmplClose = "}}"
)

// splitTemplates cuts s into literal text and ${{ expr }} templates. The
// closing }} is found by scanning CEL tokens, so map literals and strings
// containing braces inside a template work.
func splitTemplates(s string) ([]segment, error) {
	var segs []segment
	pos := 0
	for {
		i := strings.Index(s[pos:], tmplOpen)
		if i < 0 {
			if pos < len(s) || len(segs) == 0 {
				segs = append(segs, segment{text: s[pos:], off: pos})
			}
			return segs, nil
		}
		if i > 0 {
			segs = append(segs, segment{text: s[pos : pos+i], off: pos})
		}
		start := pos + i + len(tmplOpen)
		end, ok := findClose(s, start)
		if !ok {
			return nil, &templateSyntaxError{off: pos + i, msg: fmt.Sprintf("unterminated %s (missing %s)", tmplOpen, tmplClose)}
		}
		raw := s[start:end]
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" {
			return nil, &templateSyntaxError{off: pos + i, msg: fmt.Sprintf("empty %s %s", tmplOpen, tmplClose)}
		}
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n"))
		segs = append(segs, segment{text: trimmed, expr: true, off: start + lead})
		pos = end + len(tmplClose)
	}
}

// templateSyntaxError is a malformed ${{ }} starting at byte off.
type templateSyntaxError struct {
	off int
	msg string
}

func (e *templateSyntaxError) Error() string {
	return fmt.Sprintf("%s (at byte %d)", e.msg, e.off)
}

// findClose returns the index of the }} that ends a template whose body
// starts at start, skipping CEL string literals and balanced braces.
func findClose(s string, start int) (int, bool) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			q := s[i : i+1]
			if strings.HasPrefix(s[i:], strings.Repeat(q, 3)) {
				j := strings.Index(s[i+3:], strings.Repeat(q, 3))
				if j < 0 {
					return 0, false
				}
				i += 3 + j + 2
				continue
			}
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return 0, false
			}
			i = j
		case '{':
			depth++
		case '}':
			if depth == 0 {
				if strings.HasPrefix(s[i:], tmplClose) {
					return i, true
				}
				// A lone } outside any brace is a CEL syntax error; let
				// the parser report it.
				continue
			}
			depth--
		}
	}
	return 0, false
}

// hasTemplate reports whether s contains template syntax at all.
func hasTemplate(s string) bool { return strings.Contains(s, tmplOpen) }

// toNative converts a CEL result into JSON-friendly Go values.
func toNative(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), nil
		}
		return float64(x), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v cannot be represented in JSON", f)
		}
		return f, nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		if utf8.Valid(x) {
			return string(x), nil
		}
		return base64.StdEncoding.EncodeToString(x), nil
	case types.Duration:
		return Duration(x.Duration).String(), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return toNative(x.GetValue())
	case traits.Lister:
		n, ok := x.Size().(types.Int)
		if !ok {
			return nil, errors.New("list without size")
		}
		out := make([]any, 0, int(n))
		it := x.Iterator()
		for it.HasNext() == types.True {
			e, err := toNative(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, err := toText(k)
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			e, err := toNative(x.Get(k))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			out[ks] = e
		}
		return out, nil
	}
	if types.IsUnknownOrError(v) {
		return nil, fmt.Errorf("%v", v)
	}
	return nil, fmt.Errorf("a %s value cannot be used as data", v.Type().TypeName())
}

// toText formats a CEL value for string interpolation: scalars as text,
// null as "", lists and maps as JSON (encoding/json sorts map keys, so the
// text is deterministic).
func toText(v ref.Val) (string, error) {
	nat, err := toNative(v)
	if err != nil {
		return "", err
	}
	switch x := nat.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fmt.Errorf("format as JSON: %w", err)
		}
		return string(b), nil
	}
}

// normalizeScalar maps Go scalar types that arrive from YAML or JSON onto
// the JSON-friendly set Render promises.
func normalizeScalar(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	case float32:
		return float64(x)
	}
	return v
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortingAdapter wraps the CEL registry so every map an expression reads
// from Vars iterates in sorted key order: cel-go iterates Go maps in Go's
// random order, which would make `m.map(k, k)` differ between a workflow
// run and its replay.
type sortingAdapter struct {
	reg *types.Registry
}

func (a sortingAdapter) NativeToValue(v any) ref.Val {
	switch x := v.(type) {
	case map[string]any:
		return sortedMap{types.NewStringInterfaceMap(a, x)}
	case []any:
		return types.NewDynamicList(a, x)
	case int:
		return types.Int(x)
	}
	out := a.reg.NativeToValue(v)
	if m, ok := out.(traits.Mapper); ok {
		if _, sorted := out.(sortedMap); !sorted {
			return sortedMap{m}
		}
	}
	return out
}

// sortMapLiterals makes map literals built inside an expression iterate in
// sorted order too; cel-go builds them on Go maps without consulting the
// adapter.
func sortMapLiterals(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	if c, ok := i.(interpreter.InterpretableConstructor); ok && c.Type() == types.MapType {
		return sortedConstructor{c}, nil
	}
	return i, nil
}

type sortedConstructor struct {
	interpreter.InterpretableConstructor
}

func (c sortedConstructor) Eval(act interpreter.Activation) ref.Val {
	return sortValue(c.InterpretableConstructor.Eval(act))
}

func (c sortedConstructor) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	return sortValue(c.InterpretableConstructor.Exec(frame))
}

func sortValue(v ref.Val) ref.Val {
	if m, ok := v.(traits.Mapper); ok {
		if _, sorted := v.(sortedMap); !sorted {
			return sortedMap{m}
		}
	}
	return v
}

// sortedMap is a CEL map whose iterator yields keys in sorted order.
type sortedMap struct {
	traits.Mapper
}

func (m sortedMap) Iterator() traits.Iterator {
	var keys []ref.Val
	it := m.Mapper.Iterator()
	for it.HasNext() == types.True {
		keys = append(keys, it.Next())
	}
	slices.SortFunc(keys, compareKeys)
	return &keyIterator{keys: keys}
}

// compareKeys orders CEL map keys (string, int, uint or bool): by type
// first, then by value.
func compareKeys(a, b ref.Val) int {
	if c := strings.Compare(a.Type().TypeName(), b.Type().TypeName()); c != 0 {
		return c
	}
	if ac, ok := a.(traits.Comparer); ok {
		if r, ok := ac.Compare(b).(types.Int); ok {
			return int(r)
		}
	}
	if ab, ok := a.(types.Bool); ok {
		bb, _ := b.(types.Bool)
		return cmp.Compare(boolInt(bool(ab)), boolInt(bool(bb)))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keyIterator iterates a fixed slice of keys.
type keyIterator struct {
	keys []ref.Val
	i    int
}

func (it *keyIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.keys)) }

func (it *keyIterator) Next() ref.Val {
	if it.i >= len(it.keys) {
		return nil
	}
	k := it.keys[it.i]
	it.i++
	return k
}

func (it *keyIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("iterator cannot be converted")
}

func (it *keyIterator) ConvertToType(t ref.Type) ref.Val {
	return types.NewErr("iterator cannot be converted to %s", t.TypeName())
}

func (it *keyIterator) Equal(other ref.Val) ref.Val {
	o, ok := other.(*keyIterator)
	return types.Bool(ok && o == it)
}

func (it *keyIterator) Type() ref.Type { return types.IteratorType }

func (it *keyIterator) Value() any { return it }
