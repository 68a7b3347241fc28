package playbooks

import (
	"embed"
	"io/fs"
)

//go:embed schema.json
var schemaJSON string

//go:embed library/*.yaml
var libraryFS embed.FS

// Schema returns the JSON Schema (draft 2020-12) of the playbook DSL, for
// editors and `firebreak playbook schema`.
func Schema() []byte { return []byte(schemaJSON) }

// LibraryFS holds the playbooks shipped with Firebreak, under "library/".
func LibraryFS() fs.FS { return libraryFS }

// Library loads the playbooks shipped with Firebreak.
func Library(cat Catalog) ([]*Playbook, error) {
	return LoadFS(libraryFS, "library", cat)
}
