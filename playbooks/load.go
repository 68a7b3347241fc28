package playbooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"
)

// ActionLister is optionally implemented by a Catalog so that an unknown
// action error can suggest the closest known name.
type ActionLister interface {
	ActionNames() []string
}

// Load reads and checks one playbook file. Its `call` steps can only name
// the file's own playbook, so a playbook that calls others should be loaded
// with LoadFiles or LoadDir together with them.
func Load(path string, cat Catalog) (*Playbook, error) {
	pbs, err := LoadFiles([]string{path}, cat)
	if err != nil {
		return nil, err
	}
	return pbs[0], nil
}

// Parse checks one playbook held in memory; path is used in messages and
// as Playbook.Source. Calls are not resolved (Playbook.Calls stays nil):
// LoadFiles and LoadDir link playbooks to the ones they call. Problems are
// returned as an ErrorList holding all of them.
func Parse(src []byte, path string, cat Catalog) (*Playbook, error) {
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	f := parseFile(src, path, cat, env)
	if len(f.errs) > 0 {
		f.errs.sort()
		return nil, f.errs
	}
	return f.pb, nil
}

// LoadFiles loads the given files as one set: `call` steps are resolved
// among them, and each returned playbook (in the order of paths) carries
// every playbook it reaches in Calls. Any problem in any file fails the
// whole set; the ErrorList holds all of them. A file that cannot be read
// is reported with line 0.
func LoadFiles(paths []string, cat Catalog) ([]*Playbook, error) {
	srcs := make([]source, 0, len(paths))
	var errs ErrorList
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: fmt.Sprintf("read playbook: %v", err)})
			continue
		}
		srcs = append(srcs, source{path: p, data: b})
	}
	pbs, err := loadSources(srcs, cat)
	if len(errs) > 0 {
		var more ErrorList
		if errors.As(err, &more) {
			errs = append(errs, more...)
		} else if err != nil {
			return nil, err
		}
		errs.sort()
		return nil, errs
	}
	return pbs, err
}

// LoadDir loads every *.yaml and *.yml file directly in dir (not in
// subdirectories), sorted by file name, as one set; see LoadFiles.
func LoadDir(dir string, cat Catalog) ([]*Playbook, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load playbooks: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && isPlaybookFile(e.Name()) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	return LoadFiles(paths, cat)
}

// LoadFS is LoadDir over an fs.FS, for playbooks embedded in the binary.
func LoadFS(fsys fs.FS, dir string, cat Catalog) ([]*Playbook, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("load playbooks: %w", err)
	}
	var srcs []source
	for _, e := range entries {
		if e.IsDir() || !isPlaybookFile(e.Name()) {
			continue
		}
		p := path.Join(dir, e.Name())
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("load playbooks: %w", err)
		}
		srcs = append(srcs, source{path: p, data: b})
	}
	return loadSources(srcs, cat)
}

func isPlaybookFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

type source struct {
	path string
	data []byte
}

func loadSources(srcs []source, cat Catalog) ([]*Playbook, error) {
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	files := make([]*fileResult, 0, len(srcs))
	var errs ErrorList
	for _, s := range srcs {
		f := parseFile(s.data, s.path, cat, env)
		errs = append(errs, f.errs...)
		files = append(files, f)
	}
	errs = append(errs, link(files)...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	pbs := make([]*Playbook, len(files))
	for i, f := range files {
		pbs[i] = f.pb
	}
	return pbs, nil
}

// fileResult is one parsed file plus what linking needs to know about it.
type fileResult struct {
	pb      *Playbook
	namePos pos // metadata.name, for duplicate-name errors
	calls   []callSite
	errs    ErrorList
}

type pos struct{ line, col int }

func nodePos(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// callSite is a `call` step, resolved after every file is parsed.
type callSite struct {
	target    string
	targetPos pos
	callPos   pos
	withKeys  []keyAt
}

type keyAt struct {
	name string
	at   pos
}

// Patterns for names. Step IDs and playbook names are slugs so they read
// well in Slack and work in workflow IDs; input names are identifiers so
// `inputs.name` parses in CEL.
var (
	slugRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	stepIDRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	inputNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	signalRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
)

const maxNameLen = 63

var (
	topKeys        = []string{"apiVersion", "kind", "metadata", "inputs", "steps", "on_failure"}
	metadataKeys   = []string{"name", "title", "description", "tags"}
	inputKeys      = []string{"type", "required", "default", "pattern", "enum", "description"}
	stepKeys       = []string{"id", "name", "action", "with", "when", "retry", "timeout", "continue_on_error", "compensate", "approval", "parallel", "manual", "wait", "call"}
	kindKeys       = []string{string(KindAction), string(KindParallel), string(KindManual), string(KindWait), string(KindCall)}
	retryKeys      = []string{"max_attempts", "initial_interval", "backoff_coefficient", "max_interval"}
	compensateKeys = []string{"action", "with"}
	approvalKeys   = []string{"group", "users", "min", "timeout", "on_timeout", "escalate", "allow_requester"}
	manualKeys     = []string{"role", "task"}
	waitKeys       = []string{"duration", "signal", "extendable", "max"}
	callKeys       = []string{"playbook", "with"}
	inputTypes     = []string{TypeString, TypeInt, TypeBool, TypeDuration, TypeList}
)

// decoder walks one file's YAML tree, building the Playbook and collecting
// every problem instead of stopping at the first.
type decoder struct {
	file string
	cat  Catalog
	env  *cel.Env
	errs ErrorList

	inputs    map[string]bool
	inputType map[string]string // declared type of each input, for checks of what reads it
	ids       map[string]stepInfo
	idOrder   []string // declared IDs in file order, for suggestions
	exprs     []exprSite
	calls     []callSite
}

// stepInfo places a step in execution order: top-level steps run in
// order; the members of a parallel group share their group's order.
type stepInfo struct {
	order int
	group string // ID of the enclosing parallel group, "" at top level
	at    pos
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errorAt(nodePos(n), format, args...)
}

func (d *decoder) errorAt(p pos, format string, args ...any) {
	if p.line < 1 {
		p.line = 1
	}
	if p.col < 1 {
		p.col = 1
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)})
}

func parseFile(src []byte, file string, cat Catalog, env *cel.Env) *fileResult {
	d := &decoder{file: file, cat: cat, env: env, inputs: map[string]bool{}, inputType: map[string]string{}, ids: map[string]stepInfo{}}
	res := &fileResult{pb: &Playbook{Source: file, OnFailure: OnFailureStop}}
	root, ok := d.document(src)
	if ok {
		d.playbook(root, res)
	}
	for i := range d.exprs {
		d.checkExpr(&d.exprs[i])
	}
	res.calls = d.calls
	res.errs = d.errs
	return res
}

// document parses src as exactly one YAML document and returns its root.
func (d *decoder) document(src []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorAt(pos{1, 1}, "empty file: expected a playbook")
			return nil, false
		}
		d.yamlError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "only one YAML document is allowed per playbook file")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.errorAt(pos{1, 1}, "empty file: expected a playbook")
		return nil, false
	}
	return doc.Content[0], true
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if _, err := fmt.Sscan(m[1], &line); err != nil || line < 1 {
			line = 1
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.errorAt(pos{line, 1}, "invalid YAML: %s", msg)
}

func (d *decoder) playbook(n *yaml.Node, res *fileResult) {
	pb := res.pb
	fields := d.mapping(n, "playbook", topKeys)
	if fields == nil {
		return
	}
	var stepsNode *yaml.Node
	for _, f := range fields {
		switch f.key.Value {
		case "apiVersion":
			if s, ok := d.str(f.val, "apiVersion"); ok {
				pb.APIVersion = s
				if s != APIVersion {
					d.errorf(f.val, "apiVersion must be %q, got %q", APIVersion, s)
				}
			}
		case "kind":
			if s, ok := d.str(f.val, "kind"); ok {
				pb.Kind = s
				if s != KindPlaybook {
					d.errorf(f.val, "kind must be %q, got %q", KindPlaybook, s)
				}
			}
		case "metadata":
			pb.Metadata, res.namePos = d.metadata(f.val)
		case "inputs":
			pb.Inputs = d.inputList(f.val)
		case "steps":
			stepsNode = f.val
		case "on_failure":
			if s, ok := d.str(f.val, "on_failure"); ok {
				if s != OnFailureStop && s != OnFailureRollback {
					d.errorf(f.val, "on_failure must be %q or %q, got %q", OnFailureStop, OnFailureRollback, s)
				} else {
					pb.OnFailure = s
				}
			}
		}
	}
	for _, k := range []string{"apiVersion", "kind", "metadata", "steps"} {
		if fields.get(k) == nil {
			d.errorf(n, "missing required key %q", k)
		}
	}
	// Steps come after inputs so template checks know the declared inputs
	// whatever the key order in the file.
	if stepsNode != nil {
		pb.Steps = d.stepList(stepsNode)
	}
}

func (d *decoder) metadata(n *yaml.Node) (Metadata, pos) {
	var m Metadata
	at := nodePos(n)
	fields := d.mapping(n, "metadata", metadataKeys)
	if fields == nil {
		return m, at
	}
	for _, f := range fields {
		switch f.key.Value {
		case "name":
			at = nodePos(f.val)
			if s, ok := d.str(f.val, "metadata.name"); ok {
				m.Name = s
				if !slugRE.MatchString(s) || len(s) > maxNameLen {
					d.errorf(f.val, "metadata.name %q must be a lowercase slug (a-z, 0-9 and -, at most %d characters)", s, maxNameLen)
				}
			}
		case "title":
			m.Title, _ = d.str(f.val, "metadata.title")
		case "description":
			m.Description, _ = d.str(f.val, "metadata.description")
		case "tags":
			m.Tags = d.strList(f.val, "metadata.tags")
		}
	}
	if fields.get("name") == nil {
		d.errorf(n, "missing required key %q in metadata", "name")
	}
	return m, at
}

func (d *decoder) inputList(n *yaml.Node) []Input {
	fields := d.mapping(n, "inputs", nil)
	var out []Input
	for _, f := range fields {
		name := f.key.Value
		if !inputNameRE.MatchString(name) {
			d.errorf(f.key, "input name %q must be an identifier (letters, digits and _, not starting with a digit)", name)
		}
		d.inputs[name] = true
		in := d.input(name, f.val)
		d.inputType[name] = in.Type
		out = append(out, in)
	}
	return out
}

func (d *decoder) stepList(n *yaml.Node) []Step {
	if !d.isKind(n, yaml.SequenceNode, "steps", "a list of steps") {
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, "steps must not be empty")
		return nil
	}
	steps := make([]Step, 0, len(n.Content))
	var unnamed []int
	for i, item := range n.Content {
		st := d.step(item, i, "")
		if st.Kind == KindParallel && st.ID == "" {
			unnamed = append(unnamed, i)
		}
		steps = append(steps, st)
	}
	// A parallel group without an id gets a stable one ("parallel-3" for
	// the third step) once all declared IDs are known, so it cannot clash.
	for _, i := range unnamed {
		base := fmt.Sprintf("parallel-%d", i+1)
		id := base
		for k := 2; ; k++ {
			if _, taken := d.ids[id]; !taken {
				break
			}
			id = fmt.Sprintf("%s-%d", base, k)
		}
		steps[i].ID = id
		d.ids[id] = stepInfo{order: i, at: pos{steps[i].Line, steps[i].Col}}
	}
	return steps
}
