package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Overlay is the shipped library with a directory of playbooks added.
type Overlay struct {
	// Playbooks are the directory's, in file name order, then the shipped
	// ones it does not replace.
	Playbooks []*Playbook
	// Own counts the playbooks that came from the directory.
	Own int
	// Overridden names the shipped playbooks that a playbook of the same
	// name in the directory replaces, sorted.
	Overridden []string
}

// LoadOverlay loads the playbooks in dir (as LoadDir does) together with
// the shipped library, as one set: a `call` in either may name a playbook
// in the other, and a playbook in dir replaces the shipped one of the same
// name, for its callers too. Problems in any file fail the whole set.
func LoadOverlay(dir string, cat Catalog) (Overlay, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Overlay{}, fmt.Errorf("load playbooks: %w", err)
	}
	env, err := newEnv()
	if err != nil {
		return Overlay{}, err
	}
	var files []*fileResult
	var errs ErrorList
	own := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !isPlaybookFile(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: fmt.Sprintf("read playbook: %v", err)})
			continue
		}
		f := parseFile(b, p, cat, env)
		files = append(files, f)
		errs = append(errs, f.errs...)
		own[f.pb.Metadata.Name] = true
	}
	ov := Overlay{Own: len(files)}
	shipped, err := Library(cat)
	if err != nil {
		return Overlay{}, fmt.Errorf("shipped library: %w", err)
	}
	for _, pb := range shipped {
		if own[pb.Metadata.Name] {
			ov.Overridden = append(ov.Overridden, pb.Metadata.Name)
			continue
		}
		// Parsed again rather than reused: linking fills in Calls, which
		// may now lead to the directory's playbooks.
		b, err := libraryFS.ReadFile(pb.Source)
		if err != nil {
			return Overlay{}, fmt.Errorf("shipped library: %w", err)
		}
		files = append(files, parseFile(b, pb.Source, cat, env))
	}
	slices.Sort(ov.Overridden)
	errs = append(errs, link(files)...)
	if len(errs) > 0 {
		errs.sort()
		return Overlay{}, errs
	}
	for _, f := range files {
		ov.Playbooks = append(ov.Playbooks, f.pb)
	}
	return ov, nil
}
