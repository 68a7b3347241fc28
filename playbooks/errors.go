package playbooks

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found while loading a playbook, at a position in
// its source file.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based
	Msg  string
}

// Error formats e as file:line:col: message, the form editors and CI
// annotate from; a problem with the whole file (it cannot be read) has no
// line and prints as file: message.
func (e *Error) Error() string {
	if e.Line < 1 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ErrorList is every problem found in one load, so a user fixes them all
// in one pass. It is sorted by file, line and column.
type ErrorList []*Error

// Error joins the errors one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when it is empty, so a nil ErrorList
// never turns into a non-nil error interface.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
		)
	})
}
