package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

type position struct{ line, col int }

// decoder fills a struct from a YAML node tree strictly: unknown keys,
// wrong types and bad durations are errors with file:line:col and the
// dotted key, and decoding continues so that every problem is reported.
type decoder struct {
	file string
	errs ErrorList
	pos  map[string]position
}

func decodeFile(src []byte, file string, cfg *Config) ErrorList {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return ErrorList{yamlSyntaxError(file, err)}
	}
	d := &decoder{file: file, pos: map[string]position{}}
	cfg.pos = d.pos
	if len(root.Content) == 0 { // empty file
		return nil
	}
	d.value(root.Content[0], "", reflect.ValueOf(cfg).Elem())
	return d.errs
}

// yamlSyntaxError turns yaml.v3's "yaml: line N: msg" into our format.
func yamlSyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	return &Error{File: file, Line: line, Col: 1, Key: "(syntax)", Msg: msg}
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	if key == "" {
		key = "(top level)"
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func (d *decoder) value(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, key, "invalid duration %q (want e.g. 30s, 5m, 1h30m)", n.Value)
			return
		}
		if dur < 0 {
			d.fail(n, key, "duration must not be negative, got %s", n.Value)
			return
		}
		v.SetInt(int64(dur))
		return
	case v.Type() == secretType:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structValue(n, key, v)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, key, "want a mapping, got %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := join(key, k.Value)
			d.pos[sub] = position{k.Line, k.Column}
			if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.fail(k, sub, "duplicate key")
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(val, sub, elem)
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, key, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, fmt.Sprintf("%s[%d]", key, i), s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(n, key, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(n, key, "want an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: unsupported field type %s", v.Type())) // programming error
	}
}

func (d *decoder) structValue(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping, got %s", kindName(n))
		return
	}
	fields := map[string]int{}
	for i := range v.NumField() {
		tag := v.Type().Field(i).Tag.Get("yaml")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := join(key, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, sub, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.fail(k, sub, "duplicate key")
			continue
		}
		seen[k.Value] = true
		d.pos[sub] = position{k.Line, k.Column}
		d.value(val, sub, v.Field(idx))
	}
}

// suggest names the closest known key, for typos.
func suggest(got string, known map[string]int) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	for _, k := range names {
		if dist := levenshtein(got, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return " (known keys: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return describe(n)
	}
}

func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	return fmt.Sprintf("%q", n.Value)
}

// sortErrors orders errors by file position so output is stable even
// though some checks range over maps.
func sortErrors(errs ErrorList) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Key < errs[j].Key
	})
}
