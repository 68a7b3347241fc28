package playbooks

import (
	"fmt"
	"slices"
	"strings"
)

// link resolves `call` steps across a set of parsed files: every called
// playbook must exist, receive only inputs it declares and every required
// one, and no playbook may reach itself. On success each playbook's Calls
// holds everything it reaches.
func link(files []*fileResult) ErrorList {
	var errs ErrorList
	add := func(file string, at pos, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: max(at.line, 1), Col: max(at.col, 1), Msg: fmt.Sprintf(format, args...)})
	}
	byName := map[string]*fileResult{}
	var names []string
	for _, f := range files {
		name := f.pb.Metadata.Name
		if name == "" {
			continue
		}
		if prev, dup := byName[name]; dup {
			add(f.pb.Source, f.namePos, "playbook %q is already defined in %s:%d", name, prev.pb.Source, prev.namePos.line)
			continue
		}
		byName[name] = f
		names = append(names, name)
	}
	slices.Sort(names)

	for _, f := range files {
		for _, c := range f.calls {
			callee, ok := byName[c.target]
			if !ok {
				add(f.pb.Source, c.targetPos, "call to unknown playbook %q%s", c.target, suggest(c.target, names))
				continue
			}
			declared := make([]string, len(callee.pb.Inputs))
			for i, in := range callee.pb.Inputs {
				declared[i] = in.Name
			}
			for _, k := range c.withKeys {
				if !slices.Contains(declared, k.name) {
					add(f.pb.Source, k.at, "playbook %q has no input %q%s", c.target, k.name, suggest(k.name, declared))
				}
			}
			for _, in := range callee.pb.Inputs {
				if in.Required && !slices.ContainsFunc(c.withKeys, func(k keyAt) bool { return k.name == in.Name }) {
					add(f.pb.Source, c.callPos, "call to playbook %q is missing required input %q", c.target, in.Name)
				}
			}
		}
	}

	for _, f := range files {
		caller := f.pb.Metadata.Name
		if byName[caller] != f {
			continue
		}
		for _, c := range f.calls {
			if path := callPath(byName, c.target, caller); path != nil {
				cycle := append([]string{caller}, path...)
				add(f.pb.Source, c.targetPos, "call cycle: %s", strings.Join(cycle, " -> "))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}

	for _, f := range files {
		reach := reachable(byName, f.pb.Metadata.Name)
		if len(reach) == 0 {
			continue
		}
		f.pb.Calls = make(map[string]*Playbook, len(reach))
		for _, name := range reach {
			cp := *byName[name].pb
			cp.Calls = nil
			f.pb.Calls[name] = &cp
		}
	}
	return nil
}

// callPath returns the shortest chain of calls from one playbook to
// another (both included), or nil if there is none.
func callPath(byName map[string]*fileResult, from, to string) []string {
	parent := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for n := cur; n != ""; n = parent[n] {
				path = append(path, n)
			}
			slices.Reverse(path)
			return path
		}
		f, ok := byName[cur]
		if !ok {
			continue
		}
		for _, c := range f.calls {
			if _, seen := parent[c.target]; !seen {
				parent[c.target] = cur
				queue = append(queue, c.target)
			}
		}
	}
	return nil
}

// reachable lists, sorted, the playbooks that name calls directly or
// indirectly, not counting itself.
func reachable(byName map[string]*fileResult, name string) []string {
	seen := map[string]bool{name: true}
	stack := []string{name}
	var out []string
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f, ok := byName[cur]
		if !ok {
			continue
		}
		for _, c := range f.calls {
			if !seen[c.target] {
				seen[c.target] = true
				out = append(out, c.target)
				stack = append(stack, c.target)
			}
		}
	}
	slices.Sort(out)
	return out
}
