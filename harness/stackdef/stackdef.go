// Package stackdef reads stack definitions: what a sync stack is made of, as
// data. A definition names the stack's database (PostgreSQL, with SQL to run
// before the server starts), its sync server (image, environment with the
// database's address and the run's secrets templated in, the HTTP request that
// says it is ready), how its users are provisioned (in bulk), whether users at
// rest can be imported in bulk, and where each user's photos and app data live
// (or why the stack keeps no such files).
//
// syncd's reference stack and DAViCal's are built in (fixtures/stacks); a team
// writes its own in the same format and passes the file's path:
//
//	def, err := stackdef.Load("davical")          // built in
//	def, err := stackdef.Load("./ourstack.yaml")  // a file
//
// harness/stack starts a definition; the drill's faults, backups and restore
// act on its roles (the database, the server), not on a server by name.
package stackdef

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/fixtures/stacks"
	"go.yaml.in/yaml/v3"
)

// Reference is the name of the reference stack's definition (syncd over
// PostgreSQL): what runs when no other is named.
const Reference = "syncd"

// Provisioning kinds (Users.Provision).
const (
	// SyncdAdmin creates users with syncd's POST /admin/users (bearer
	// Users.Token), in batches.
	SyncdAdmin = "syncd-admin"
	// CSVExec copies a CSV of username,password (with a header) to Users.CSV
	// in the server's container and runs Users.Command there.
	CSVExec = "csv-exec"
)

// Definition is one stack, as written in its file.
type Definition struct {
	Name     string   `yaml:"name"`
	Summary  string   `yaml:"summary"`
	Database Database `yaml:"database"`
	Server   Server   `yaml:"server"`
	Users    Users    `yaml:"users"`
	// Schema names the server's table layout when a fault knows it ("syncd":
	// the botched-schema-migration fault); "" when none does.
	Schema string `yaml:"schema"`
	Files  Files  `yaml:"files"`

	// Source is the file the definition came from; "" for a built-in one.
	Source string `yaml:"-"`
}

// Database is the stack's database role: PostgreSQL, its data in the
// failure domain san-a.
type Database struct {
	// Image is a PostgreSQL 15 image that takes firedrill/postgres:15's
	// environment and carries pg_basebackup and pg_receivewal (the backups
	// use them); "" is firedrill/postgres:15.
	Image string `yaml:"image"`
	// Alias is its host name on the stack's network (default "postgres").
	Alias string `yaml:"alias"`
	// Name is the superuser's database: ${database.url} names it, and the
	// backups and restores connect to it (default "syncd").
	Name string `yaml:"name"`
	// Setup is SQL run as the superuser, statement by statement, once the
	// database is up and before the server starts (roles, grants). It does
	// not run on a restored database: what it made is in the backup.
	Setup []string `yaml:"setup"`
	// NoDump, when set, says why a logical dump (pg_dump) of Name does not
	// hold what the server needs (its data in another database, roles a dump
	// does not carry): the dump backup strategies are refused on the stack.
	NoDump string `yaml:"no_dump"`
}

// Server is the stack's sync server role.
type Server struct {
	Image string            `yaml:"image"`
	Alias string            `yaml:"alias"` // host name on the stack's network (default "server")
	Port  int               `yaml:"port"`  // the TCP port it serves HTTP on
	Env   map[string]string `yaml:"env"`
	Ready Ready             `yaml:"ready"`
}

// Ready is the request that says the server serves: a request of Method to
// Path answered with one of Status.
type Ready struct {
	Path    string   `yaml:"path"`
	Method  string   `yaml:"method"` // default GET
	Status  []int    `yaml:"status"` // default [200]
	Timeout Duration `yaml:"timeout"`
}

// Users says how the stack's users come to exist.
type Users struct {
	// Provision is SyncdAdmin or CSVExec.
	Provision string   `yaml:"provision"`
	Token     string   `yaml:"token"`   // SyncdAdmin: the bearer token
	CSV       string   `yaml:"csv"`     // CSVExec: where the CSV goes in the server's container
	Command   []string `yaml:"command"` // CSVExec: what then runs there
	// Import names the bulk import of users at rest ("syncd-admin": syncd's
	// POST /admin/import with Token); "" when the stack has none, and a
	// profile with users at rest cannot run on it.
	Import string `yaml:"import"`
}

// Files is where a user's photos and app data live: URL templates ({base},
// {user}), or None saying why the stack keeps no plain WebDAV files.
type Files struct {
	Photos string `yaml:"photos"`
	Apps   string `yaml:"apps"`
	None   string `yaml:"none"`
}

// Duration is a time.Duration written as "60s", "4m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: duration %q: want a positive duration such as 60s or 4m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// HasFiles reports whether photos and app data can live on the stack.
func (d *Definition) HasFiles() bool { return d.Files.None == "" }

// Label is how reports and ledgers name the stack: its name and, for a file,
// where it came from.
func (d *Definition) Label() string {
	if d.Source != "" {
		return d.Name + " (" + d.Source + ")"
	}
	if d.Name == Reference {
		return "syncd (reference stack)"
	}
	return d.Name + " (built-in stack)"
}

// Names returns the built-in definitions' names, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(stacks.FS, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// IsFile reports whether a --stack value names a file rather than a built-in
// definition.
func IsFile(name string) bool {
	return strings.ContainsRune(name, filepath.Separator) || slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(name))
}

// Load returns the built-in definition of that name, or reads the file it
// names ("" is the reference stack).
func Load(name string) (*Definition, error) {
	if name == "" {
		name = Reference
	}
	if IsFile(name) {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read stack definition: %w", err)
		}
		d, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		d.Source = name
		return d, nil
	}
	data, err := fs.ReadFile(stacks.FS, name+".yaml")
	if err != nil {
		return nil, fmt.Errorf("find stack %q: no such built-in stack; want one of %s, or a path to a .yaml file (docs/stacks.md)", name, strings.Join(Names(), ", "))
	}
	return Parse(name+".yaml", data)
}

// Error is what is wrong with a definition: one line per problem, each with
// the file, the line and the field.
type Error struct {
	Path     string
	Problems []string
}

// Error lists the problems.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "stack definition " + e.Problems[0]
	}
	return fmt.Sprintf("stack definition %s: %d problems:\n  %s", e.Path, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Parse decodes and checks a definition; path names it in messages. Unknown
// fields are errors, so a typo does not fall back to a default.
func Parse(path string, data []byte) (*Definition, error) {
	e := &Error{Path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e.Problems = append(e.Problems, fmt.Sprintf("%s: not YAML or JSON: %v", path, err))
		return nil, e
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		e.Problems = append(e.Problems, fmt.Sprintf("%s:1: want a mapping of stack fields (name, database, server, users, files)", path))
		return nil, e
	}
	var d Definition
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		for _, p := range yamlProblems(err) {
			e.Problems = append(e.Problems, path+":"+p)
		}
		return nil, e
	}
	d.defaults()
	lines := &lineFinder{root: doc.Content[0]}
	probs := d.problems()
	sort.SliceStable(probs, func(i, j int) bool { return lines.line(probs[i].field) < lines.line(probs[j].field) })
	for _, p := range probs {
		e.Problems = append(e.Problems, fmt.Sprintf("%s:%d: %s: %s", path, lines.line(p.field), p.field, p.msg))
	}
	if len(e.Problems) > 0 {
		return nil, e
	}
	return &d, nil
}

// yamlProblems turns the decoder's "yaml: unmarshal errors:\n  line 3: ..."
// into "3: ..." lines.
func yamlProblems(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "line "); ok {
			out = append(out, strings.Replace(rest, ": field ", ": unknown field ", 1))
		}
	}
	if len(out) == 0 {
		out = append(out, "1: "+err.Error())
	}
	return out
}

func (d *Definition) defaults() {
	if d.Database.Alias == "" {
		d.Database.Alias = "postgres"
	}
	if d.Database.Name == "" {
		d.Database.Name = "syncd"
	}
	if d.Server.Alias == "" {
		d.Server.Alias = "server"
	}
	if d.Server.Ready.Method == "" {
		d.Server.Ready.Method = "GET"
	}
	if len(d.Server.Ready.Status) == 0 {
		d.Server.Ready.Status = []int{200}
	}
	if d.Server.Ready.Timeout == 0 {
		d.Server.Ready.Timeout = Duration(2 * time.Minute)
	}
}

type problem struct{ field, msg string }

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)
	aliasRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	databaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	methodRE   = regexp.MustCompile(`^[A-Z]+$`)
)

// problems checks the decoded definition.
func (d *Definition) problems() []problem {
	var ps []problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, problem{field, fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(d.Name) {
		bad("name", "%q: want a short name of lower-case letters, digits and dashes, e.g. ourstack", d.Name)
	}
	if !aliasRE.MatchString(d.Database.Alias) {
		bad("database.alias", "%q: want a host name of lower-case letters, digits and dashes", d.Database.Alias)
	}
	if !aliasRE.MatchString(d.Server.Alias) {
		bad("server.alias", "%q: want a host name of lower-case letters, digits and dashes", d.Server.Alias)
	} else if d.Server.Alias == d.Database.Alias {
		bad("server.alias", "%q is the database's alias too: give the server a host name of its own", d.Server.Alias)
	}
	if !databaseRE.MatchString(d.Database.Name) {
		bad("database.name", "%q: want a PostgreSQL database name of letters, digits and _", d.Database.Name)
	}
	for i, s := range d.Database.Setup {
		for _, p := range placeholderProblems(s) {
			bad(fmt.Sprintf("database.setup[%d]", i), "%s", p)
		}
	}
	if d.Server.Image == "" {
		bad("server.image", "missing: name the sync server's image, e.g. firedrill/syncd:latest")
	}
	if d.Server.Port < 1 || d.Server.Port > 65535 {
		bad("server.port", "%d: want the TCP port the server serves HTTP on, 1-65535", d.Server.Port)
	}
	keys := make([]string, 0, len(d.Server.Env))
	for k := range d.Server.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range placeholderProblems(d.Server.Env[k]) {
			bad("server.env."+k, "%s", p)
		}
	}
	if !strings.HasPrefix(d.Server.Ready.Path, "/") {
		bad("server.ready.path", "%q: want the path of a request that answers once the server serves, e.g. /healthz", d.Server.Ready.Path)
	}
	if !methodRE.MatchString(d.Server.Ready.Method) {
		bad("server.ready.method", "%q: want an HTTP method such as GET or PROPFIND", d.Server.Ready.Method)
	}
	for _, s := range d.Server.Ready.Status {
		if s < 100 || s > 599 {
			bad("server.ready.status", "%d: want HTTP status codes, e.g. [200] or [401]", s)
		}
	}
	switch d.Users.Provision {
	case SyncdAdmin:
		if d.Users.Token == "" {
			bad("users.token", "missing: syncd-admin needs the admin token, e.g. ${secret.admin} (also in the server's env)")
		}
	case CSVExec:
		if !strings.HasPrefix(d.Users.CSV, "/") {
			bad("users.csv", "%q: want the absolute path in the server's container where the CSV of username,password goes", d.Users.CSV)
		}
		if len(d.Users.Command) == 0 {
			bad("users.command", "missing: the command, run in the server's container, that makes the users of the CSV")
		}
	default:
		bad("users.provision", "%q: want %s (syncd's POST /admin/users) or %s (a CSV copied into the server's container, then a command)", d.Users.Provision, SyncdAdmin, CSVExec)
	}
	for _, p := range placeholderProblems(d.Users.Token) {
		bad("users.token", "%s", p)
	}
	if d.Users.Import != "" && d.Users.Import != SyncdAdmin {
		bad("users.import", "%q: want %s (syncd's POST /admin/import) or nothing (the stack has no bulk import)", d.Users.Import, SyncdAdmin)
	}
	if d.Users.Import == SyncdAdmin && d.Users.Token == "" && d.Users.Provision != SyncdAdmin {
		bad("users.token", "missing: the syncd-admin import needs the admin token")
	}
	if d.Schema != "" && d.Schema != "syncd" {
		bad("schema", "%q: want syncd (the reference server's tables) or nothing", d.Schema)
	}
	f := d.Files
	switch {
	case f.None != "" && (f.Photos != "" || f.Apps != ""):
		bad("files", "give either photos and apps (URL templates) or none (why the stack keeps no files), not both")
	case f.None == "" && (f.Photos == "" || f.Apps == ""):
		bad("files", "want photos and apps, URL templates such as {base}/dav/{user}/photos/, or none: why the stack keeps no plain WebDAV files")
	}
	for field, t := range map[string]string{"files.photos": f.Photos, "files.apps": f.Apps} {
		if t != "" && (!strings.HasPrefix(t, "{base}/") || !strings.Contains(t, "{user}")) {
			bad(field, "%q: want a URL template that starts with {base}/ and holds {user}", t)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].field < ps[j].field })
	return ps
}

// lineFinder finds the line of a field ("server.env.X", "database.setup[1]")
// in the decoded document.
type lineFinder struct{ root *yaml.Node }

func (l *lineFinder) line(field string) int {
	n := l.root
	line := n.Line
	for _, part := range strings.Split(field, ".") {
		name, index := part, -1
		if i := strings.IndexByte(part, '['); i > 0 {
			name = part[:i]
			fmt.Sscanf(part[i:], "[%d]", &index)
		}
		next := (*yaml.Node)(nil)
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content) {
			n = n.Content[index]
			line = n.Line
		}
	}
	return line
}
