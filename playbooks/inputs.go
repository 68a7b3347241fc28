package playbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) input(name string, n *yaml.Node) Input {
	in := Input{Name: name, Type: TypeString}
	what := fmt.Sprintf("input %q", name)
	fs := d.mapping(n, what, inputKeys)
	if fs == nil {
		return in
	}
	typeOK := true
	if f := fs.get("type"); f != nil {
		if s, ok := d.str(f.val, what+": type"); !ok {
			typeOK = false
		} else if !slices.Contains(inputTypes, s) {
			d.errorf(f.val, "%s: unknown type %q (want one of %s)%s", what, s, strings.Join(inputTypes, ", "), suggest(s, inputTypes))
			typeOK = false
		} else {
			in.Type = s
		}
	}
	var re *regexp.Regexp
	for _, f := range fs {
		switch f.key.Value {
		case "required":
			in.Required, _ = d.boolean(f.val, what+": required")
		case "description":
			in.Description, _ = d.str(f.val, what+": description")
		case "pattern":
			s, ok := d.str(f.val, what+": pattern")
			if !ok {
				break
			}
			in.Pattern = s
			if typeOK && in.Type != TypeString && in.Type != TypeList {
				d.errorf(f.key, "%s: pattern only applies to string and list inputs, not %s", what, in.Type)
				break
			}
			r, err := regexp.Compile(s)
			if err != nil {
				d.errorf(f.val, "%s: invalid pattern: %v", what, err)
				break
			}
			re = r
		}
	}
	elemType := in.Type
	if elemType == TypeList {
		elemType = TypeString
	}
	if f := fs.get("enum"); f != nil && typeOK {
		switch {
		case in.Type == TypeBool:
			d.errorf(f.key, "%s: enum is not supported for bool inputs", what)
		case d.isKind(f.val, yaml.SequenceNode, what+": enum", "a list"):
			if len(f.val.Content) == 0 {
				d.errorf(f.val, "%s: enum must list at least one value", what)
			}
			for i, item := range f.val.Content {
				v, ok := d.inputValue(elemType, item, fmt.Sprintf("%s: enum[%d]", what, i))
				if !ok {
					continue
				}
				if slices.Contains(in.Enum, v) {
					d.errorf(item, "%s: enum lists %v twice", what, v)
					continue
				}
				if re != nil && !re.MatchString(fmt.Sprint(v)) {
					d.errorf(item, "%s: enum value %q does not match pattern %q", what, fmt.Sprint(v), in.Pattern)
				}
				in.Enum = append(in.Enum, v)
			}
		}
	}
	if f := fs.get("default"); f != nil && typeOK {
		if in.Required {
			d.errorf(f.key, "%s is required, so its default would never be used", what)
		}
		if v, ok := d.inputValue(in.Type, f.val, what+": default"); ok {
			in.Default = v
			if err := checkInputValue(in, v, re); err != nil {
				d.errorf(f.val, "%s: default %v", what, err)
			}
		}
	}
	return in
}

// inputValue reads a literal of an input type from YAML into its stored
// form (see Input).
func (d *decoder) inputValue(typ string, n *yaml.Node, what string) (any, bool) {
	bad := func() (any, bool) {
		d.typeError(n, what, inputTypeNoun(typ))
		return nil, false
	}
	switch typ {
	case TypeString:
		if !isScalar(n, "!!str") {
			return bad()
		}
		return n.Value, true
	case TypeInt:
		if !isScalar(n, "!!int") {
			return bad()
		}
		return d.integer(n, what)
	case TypeBool:
		if !isScalar(n, "!!bool") {
			return bad()
		}
		return d.boolean(n, what)
	case TypeDuration:
		if !isScalar(n, "!!str") {
			return bad()
		}
		v, err := ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		return v.String(), true
	case TypeList:
		if n.Kind != yaml.SequenceNode {
			return bad()
		}
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			if !isScalar(item, "!!str") {
				d.typeError(item, fmt.Sprintf("%s[%d]", what, i), "a string")
				return nil, false
			}
			out = append(out, item.Value)
		}
		return out, true
	}
	return nil, false
}

func inputTypeNoun(typ string) string {
	switch typ {
	case TypeString:
		return "a string"
	case TypeInt:
		return "an integer"
	case TypeBool:
		return "true or false"
	case TypeDuration:
		return "a duration like \"15m\""
	case TypeList:
		return "a list of strings"
	}
	return typ
}

// ResolveInputs turns `k=v` strings from the CLI or Slack into the values
// a run starts with: each converted to its declared type (int, bool,
// duration such as "15m", list as "a,b,c" or a JSON array), checked against
// pattern and enum; defaults fill in what is not given. An empty string
// counts as not given. Optional inputs with no default get their type's
// zero value, so expressions can read them. The error names every bad
// input.
func ResolveInputs(pb *Playbook, given map[string]string) (map[string]any, error) {
	vals := make(map[string]any, len(given))
	for k, v := range given {
		vals[k] = v
	}
	return ResolveInputValues(pb, vals)
}

// ResolveInputValues is ResolveInputs for typed values, such as a call
// step's rendered call.with or inputs that went through JSON. Strings are
// parsed as in ResolveInputs.
func ResolveInputValues(pb *Playbook, given map[string]any) (map[string]any, error) {
	var errs []error
	names := make([]string, len(pb.Inputs))
	for i, in := range pb.Inputs {
		names[i] = in.Name
	}
	for _, k := range sortedKeys(given) {
		if !slices.Contains(names, k) {
			hint := suggest(k, names)
			if hint == "" && len(names) > 0 {
				hint = fmt.Sprintf(" (inputs: %s)", strings.Join(names, ", "))
			}
			errs = append(errs, fmt.Errorf("unknown input %q%s", k, hint))
		}
	}
	out := make(map[string]any, len(pb.Inputs))
	for _, in := range pb.Inputs {
		raw, ok := given[in.Name]
		if s, isStr := raw.(string); ok && isStr && strings.TrimSpace(s) == "" {
			ok = false
		}
		if !ok && in.Default != nil {
			raw, ok = in.Default, true
		}
		if !ok {
			if in.Required {
				errs = append(errs, fmt.Errorf("input %q is required%s", in.Name, describeInput(in)))
			} else {
				out[in.Name] = zeroValue(in.Type)
			}
			continue
		}
		v, err := convertInput(in.Type, raw)
		if err == nil {
			var re *regexp.Regexp
			if in.Pattern != "" {
				re, err = regexp.Compile(in.Pattern)
			}
			if err == nil {
				err = checkInputValue(in, v, re)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("input %q: %w", in.Name, err))
			continue
		}
		out[in.Name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func describeInput(in Input) string {
	if in.Description == "" {
		return ""
	}
	return " (" + in.Description + ")"
}

func zeroValue(typ string) any {
	switch typ {
	case TypeInt:
		return int64(0)
	case TypeBool:
		return false
	case TypeDuration:
		return Duration(0).String()
	case TypeList:
		return []any{}
	}
	return ""
}

// convertInput converts v to the stored form of typ: string, int64, bool,
// duration string, or []any of strings.
func convertInput(typ string, v any) (any, error) {
	switch typ {
	case TypeInt:
		switch x := v.(type) {
		case string:
			i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", x)
			}
			return i, nil
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			// JSON turns every number into a float64.
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int64(x), nil
		}
	case TypeBool:
		switch x := v.(type) {
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", x)
			}
			return b, nil
		case bool:
			return x, nil
		}
	case TypeDuration:
		switch x := v.(type) {
		case string:
			d, err := ParseDuration(strings.TrimSpace(x))
			if err != nil {
				return nil, err
			}
			return d.String(), nil
		case Duration:
			return x.String(), nil
		case time.Duration:
			return Duration(x).String(), nil
		}
	case TypeList:
		switch x := v.(type) {
		case string:
			return parseList(x)
		case []string:
			out := make([]any, len(x))
			for i, s := range x {
				out[i] = s
			}
			return out, nil
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				s, err := convertInput(TypeString, e)
				if err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
				out[i] = s
			}
			return out, nil
		}
	default:
		switch x := v.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case int:
			return strconv.Itoa(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	}
	return nil, fmt.Errorf("want %s, got %s", inputTypeNoun(typ), goTypeNoun(v))
}

// parseList reads a list input: a JSON array of strings, or comma-separated
// items with surrounding spaces trimmed.
func parseList(s string) ([]any, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var items []string
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return nil, fmt.Errorf("%q is not a JSON list of strings: %w", s, err)
		}
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = it
		}
		return out, nil
	}
	out := []any{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out, nil
}

func goTypeNoun(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case int, int64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// checkInputValue checks a converted value against the input's pattern
// (re, compiled by the caller) and enum. List inputs check each item.
func checkInputValue(in Input, v any, re *regexp.Regexp) error {
	items := []any{v}
	if l, ok := v.([]any); ok && in.Type == TypeList {
		items = l
	}
	elemType := in.Type
	if elemType == TypeList {
		elemType = TypeString
	}
	enum := make([]any, 0, len(in.Enum))
	for _, e := range in.Enum {
		// Enum values may have been through JSON; compare stored forms.
		if ev, err := convertInput(elemType, e); err == nil {
			enum = append(enum, ev)
		}
	}
	for _, it := range items {
		if re != nil {
			if s, ok := it.(string); ok && !re.MatchString(s) {
				return fmt.Errorf("%q does not match pattern %q", s, in.Pattern)
			}
		}
		if len(in.Enum) > 0 && !slices.Contains(enum, it) {
			parts := make([]string, len(enum))
			for i, e := range enum {
				parts[i] = fmt.Sprint(e)
			}
			return fmt.Errorf("%v is not one of %s", quoteIfString(it), strings.Join(parts, ", "))
		}
	}
	return nil
}

func quoteIfString(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
