package playbooks

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// field is one key/value pair of a YAML mapping.
type field struct {
	key, val *yaml.Node
}

type fields []field

func (fs fields) get(key string) *field {
	for i := range fs {
		if fs[i].key.Value == key {
			return &fs[i]
		}
	}
	return nil
}

// mapping checks that n is a mapping with scalar, unique keys, all of them
// in known (any key when known is nil), and returns its pairs in file
// order without the bad ones. It returns nil when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, known []string) fields {
	if !d.isKind(n, yaml.MappingNode, what, "a mapping") {
		return nil
	}
	out := fields{}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be plain strings, got %s", what, describe(k))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, what, prev.Line)
			continue
		}
		seen[k.Value] = k
		if known != nil && !slices.Contains(known, k.Value) {
			d.errorf(k, "unknown key %q in %s%s", k.Value, what, suggest(k.Value, known))
			continue
		}
		out = append(out, field{k, v})
	}
	return out
}

func (d *decoder) aliasError(n *yaml.Node) {
	d.errorf(n, "YAML aliases (*%s) are not supported in playbooks: write the value out", n.Value)
}

// isKind reports (and records an error) unless n is of the wanted kind.
func (d *decoder) isKind(n *yaml.Node, kind yaml.Kind, what, want string) bool {
	if n.Kind == kind {
		return true
	}
	d.typeError(n, what, want)
	return false
}

// describe names a node's YAML type for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an int"
		case "!!float":
			return "a float"
		case "!!bool":
			return "a bool"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		case "!!binary":
			return "binary data"
		default:
			return "a value tagged " + n.Tag
		}
	}
	return "an unknown node"
}

func isScalar(n *yaml.Node, tag string) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tag
}

// typeError reports that n is not what was wanted.
func (d *decoder) typeError(n *yaml.Node, what, want string) {
	if n.Kind == yaml.AliasNode {
		d.aliasError(n)
		return
	}
	d.errorf(n, "%s must be %s, got %s", what, want, describe(n))
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if !isScalar(n, "!!str") {
		d.typeError(n, what, "a string")
		return "", false
	}
	return n.Value, true
}

// name reads a string that names something (a group, an action, a
// signal): it is used as is, so a template there is a mistake worth
// reporting rather than a literal "${{".
func (d *decoder) name(n *yaml.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	if hasTemplate(s) {
		d.errorf(n, "%s: templates are not evaluated here", what)
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(n, "%s must not be empty", what)
		return "", false
	}
	return s, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if !isScalar(n, "!!bool") {
		d.typeError(n, what, "true or false")
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, "%s: %v", what, err)
		return false, false
	}
	return b, true
}

func (d *decoder) integer(n *yaml.Node, what string) (int64, bool) {
	if !isScalar(n, "!!int") {
		d.typeError(n, what, "an integer")
		return 0, false
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		d.errorf(n, "%s: integer %s is out of range", what, n.Value)
		return 0, false
	}
	return i, true
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	if !isScalar(n, "!!int") && !isScalar(n, "!!float") {
		d.typeError(n, what, "a number")
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.errorf(n, "%s: %s is not a finite number", what, n.Value)
		return 0, false
	}
	return f, true
}

// duration reads a positive duration such as "15m".
func (d *decoder) duration(n *yaml.Node, what string) (Duration, bool) {
	if !isScalar(n, "!!str") {
		d.typeError(n, what, `a duration string like "15m"`)
		return 0, false
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s: %v", what, err)
		return 0, false
	}
	if v == 0 {
		d.errorf(n, "%s must be longer than 0s", what)
		return 0, false
	}
	return v, true
}

func (d *decoder) strList(n *yaml.Node, what string) []string {
	if !d.isKind(n, yaml.SequenceNode, what, "a list of strings") {
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		if s, ok := d.str(item, what+" item"); ok {
			out = append(out, s)
		}
	}
	return out
}

// tmplString is a string value holding template syntax, found while
// converting a `with` tree, to be checked once all step IDs are known.
type tmplString struct {
	node *yaml.Node
	path string
}

// value converts a YAML subtree into JSON-friendly data (map[string]any,
// []any, string, int64, float64, bool, nil) and collects the strings that
// hold templates.
func (d *decoder) value(n *yaml.Node, path string, tmpls *[]tmplString) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		fs := d.mapping(n, path, nil)
		m := make(map[string]any, len(fs))
		ok := true
		for _, f := range fs {
			v, vok := d.value(f.val, joinPath(path, f.key.Value), tmpls)
			ok = ok && vok
			m[f.key.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		ok := true
		for i, item := range n.Content {
			v, vok := d.value(item, fmt.Sprintf("%s[%d]", path, i), tmpls)
			ok = ok && vok
			l = append(l, v)
		}
		return l, ok
	case yaml.AliasNode:
		d.aliasError(n)
		return nil, false
	case yaml.ScalarNode:
		return d.scalar(n, path, tmpls)
	}
	d.errorf(n, "%s: unexpected %s", path, describe(n))
	return nil, false
}

func (d *decoder) scalar(n *yaml.Node, path string, tmpls *[]tmplString) (any, bool) {
	switch n.ShortTag() {
	case "!!str":
		if hasTemplate(n.Value) && tmpls != nil {
			*tmpls = append(*tmpls, tmplString{node: n, path: path})
		}
		return n.Value, true
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			d.errorf(n, "%s: integer %s is out of range", path, n.Value)
			return nil, false
		}
		return i, true
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, "%s: %s is not a finite number (JSON cannot carry it)", path, n.Value)
			return nil, false
		}
		return f, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(n, "%s: %v", path, err)
			return nil, false
		}
		return b, true
	case "!!null":
		return nil, true
	case "!!timestamp":
		// Kept as written: a time.Time would not survive JSON unchanged.
		return n.Value, true
	}
	d.errorf(n, "%s: unsupported YAML tag %s", path, n.Tag)
	return nil, false
}
