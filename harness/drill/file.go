package drill

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/workload/profile"
	"go.yaml.in/yaml/v3"
)

// A scenario file holds one scenario as YAML (JSON is YAML too), with the same
// fields as a Scenario literal, in snake case:
//
//	name: our-san-move
//	summary: Move the database to the new SAN the way we plan to.
//	labels: [nightly, migration]
//	profile: small
//	backup: continuous
//	proxy: false
//	data_volume_size: 512MiB
//	expect: intact            # or loss-detected
//	budgets: {lost_writes: 0, rto: 5m}
//	steps:
//	  - do: base-backup
//	  - do: load
//	    faults: [{name: kill-9, target: postgres}]
//	  - do: inject
//	    say: Copy the data directory while PostgreSQL runs.
//	    faults:
//	      - name: storage-migration
//	        params: {botch: torn-copy, verify: "false", domain: san-c}
//	  - do: disaster
//	    faults: [{name: lose-domain, target: san-a}, {name: lose-domain, target: san-c}]
//	  - do: restore
//	  - do: verify
//
// A rehearsal (see package rehearse) also uses a load's users share and a
// prove-backup step's touches:
//
//	  - do: load
//	    users: {from: 0, to: 0.5}
//	  - do: prove-backup
//	    touches: [data]
//
// LoadFile refuses unknown fields, wrong types and everything Validate refuses,
// naming the file, the line and the field, and what to write instead.

// FileExtensions are the extensions of scenario files.
var FileExtensions = []string{".yaml", ".yml", ".json"}

// IsFile reports whether a scenario name given on a command line names a file
// (it has a scenario file's extension or a path separator) rather than a
// built-in scenario.
func IsFile(name string) bool {
	return strings.ContainsRune(name, filepath.Separator) || slices.Contains(FileExtensions, filepath.Ext(name))
}

// FileError is what is wrong with a scenario file: one line per problem, each
// with the file and line.
type FileError struct {
	Path     string
	Problems []string // "path:line: what is wrong"
}

// Error lists the problems.
func (e *FileError) Error() string {
	return fmt.Sprintf("scenario file %s: %d problems:\n  %s", e.Path, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// LoadFile reads a scenario file and checks it.
func LoadFile(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario file: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile decodes and checks a scenario file's content; path names it in
// messages.
func ParseFile(path string, data []byte) (Scenario, error) {
	fe := &FileError{Path: path}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		fe.Problems = append(fe.Problems, fmt.Sprintf("%s: not YAML or JSON: %v", path, err))
		return Scenario{}, fe
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		fe.Problems = append(fe.Problems, fmt.Sprintf("%s:%d: a second document: a file holds one scenario", path, extra.Line))
		return Scenario{}, fe
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		fe.Problems = append(fe.Problems, fmt.Sprintf("%s:1: want a mapping of scenario fields (name, profile, backup, steps, ...)", path))
		return Scenario{}, fe
	}
	p := &fileParser{path: path, fe: fe, stepLines: map[int]map[string]int{}, faultLines: map[[2]int]int{}}
	sc := p.scenario(doc.Content[0])
	if len(fe.Problems) > 0 {
		return Scenario{}, fe
	}
	for _, prob := range sc.Problems() {
		fe.Problems = append(fe.Problems, fmt.Sprintf("%s:%d: %s", path, p.lineOf(prob), prob.Msg))
	}
	if len(fe.Problems) > 0 {
		return Scenario{}, fe
	}
	sc.Source = path
	return sc, nil
}

// fileParser decodes one scenario file, remembering the line of every field so
// that problems found later point at it.
type fileParser struct {
	path       string
	fe         *FileError
	topLines   map[string]int
	topLine    int
	stepLines  map[int]map[string]int // step (1-based) -> field -> line
	faultLines map[[2]int]int         // (step, fault index) -> line
}

func (p *fileParser) bad(n *yaml.Node, format string, args ...any) {
	p.fe.Problems = append(p.fe.Problems, fmt.Sprintf("%s:%d: %s", p.path, n.Line, fmt.Sprintf(format, args...)))
}

// lineOf finds the line a Validate problem is about.
func (p *fileParser) lineOf(prob Problem) int {
	if prob.Step == 0 {
		field := strings.Split(prob.Field, ".")[0]
		if l, ok := p.topLines[field]; ok {
			return l
		}
		return p.topLine
	}
	if prob.Field == "faults" {
		if l, ok := p.faultLines[[2]int{prob.Step, prob.Fault}]; ok {
			return l
		}
	}
	if l, ok := p.stepLines[prob.Step][prob.Field]; ok {
		return l
	}
	return p.stepLines[prob.Step]["-"]
}

// fields walks a mapping, calling set for each known key and naming unknown
// ones with the keys it wants.
func (p *fileParser) fields(m *yaml.Node, where string, known []string, set func(key string, v *yaml.Node)) map[string]int {
	lines := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !slices.Contains(known, k.Value) {
			p.bad(k, "%sunknown field %q; want one of %s", where, k.Value, strings.Join(known, ", "))
			continue
		}
		if _, dup := lines[k.Value]; dup {
			p.bad(k, "%sfield %q given twice", where, k.Value)
			continue
		}
		lines[k.Value] = k.Line
		set(k.Value, v)
	}
	return lines
}

func (p *fileParser) str(v *yaml.Node, field string) string {
	if v.Kind != yaml.ScalarNode {
		p.bad(v, "%s: want a string", field)
		return ""
	}
	return v.Value
}

func (p *fileParser) scenario(m *yaml.Node) Scenario {
	var sc Scenario
	p.topLine = m.Line
	known := []string{"name", "summary", "labels", "profile", "backup", "stack", "proxy", "data_volume_size", "expect", "budgets", "steps"}
	p.topLines = p.fields(m, "", known, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			sc.Name = p.str(v, key)
		case "summary":
			sc.Summary = p.str(v, key)
		case "profile":
			sc.Profile = p.str(v, key)
		case "backup":
			sc.Backup = p.str(v, key)
		case "stack":
			// A definition file is found beside the scenario file.
			sc.Stack = p.str(v, key)
			if stackdef.IsFile(sc.Stack) && !filepath.IsAbs(sc.Stack) {
				sc.Stack = filepath.Join(filepath.Dir(p.path), sc.Stack)
			}
			if _, err := stackdef.Load(sc.Stack); err != nil {
				p.bad(v, "stack: %v", err)
			}
		case "expect":
			sc.Expect = report.Expectation(p.str(v, key))
		case "labels":
			if v.Kind != yaml.SequenceNode {
				p.bad(v, "labels: want a list, e.g. [nightly, migration]")
				return
			}
			for _, l := range v.Content {
				sc.Labels = append(sc.Labels, p.str(l, "labels"))
			}
		case "proxy":
			b, err := strconv.ParseBool(p.str(v, key))
			if err != nil {
				p.bad(v, "proxy %q: want true or false", v.Value)
			}
			sc.Proxy = b
		case "data_volume_size":
			n, err := profile.ParseByteSize(p.str(v, key))
			if err != nil {
				p.bad(v, "data_volume_size %q: want a size such as 512MiB", v.Value)
			}
			sc.DataVolumeSize = int64(n)
		case "budgets":
			sc.Budgets = p.budgets(v)
		case "steps":
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				p.bad(v, "steps: want a list of steps, each with do: (one of %s)", actionNames())
				return
			}
			for i, sn := range v.Content {
				sc.Steps = append(sc.Steps, p.step(sn, i+1))
			}
		}
	})
	for _, req := range []string{"name", "profile", "backup", "expect", "steps"} {
		if _, ok := p.topLines[req]; !ok {
			p.bad(m, "the scenario has no %s: field", req)
		}
	}
	return sc
}

func (p *fileParser) budgets(v *yaml.Node) Budgets {
	var b Budgets
	if v.Kind != yaml.MappingNode {
		p.bad(v, "budgets: want a mapping, e.g. {lost_writes: 0, rto: 5m}")
		return b
	}
	p.fields(v, "budgets: ", []string{"lost_writes", "rto"}, func(key string, v *yaml.Node) {
		switch key {
		case "lost_writes":
			n, err := strconv.Atoi(p.str(v, key))
			if err != nil {
				p.bad(v, "budgets: lost_writes %q: want a whole number of acknowledged writes, e.g. 0", v.Value)
				return
			}
			b.LostWrites = &n
		case "rto":
			d, err := time.ParseDuration(p.str(v, key))
			if err != nil {
				p.bad(v, "budgets: rto %q: want a duration such as 90s or 5m", v.Value)
				return
			}
			b.RTO = d
		}
	})
	return b
}

func (p *fileParser) step(m *yaml.Node, n int) Step {
	var st Step
	where := fmt.Sprintf("step %d: ", n)
	if m.Kind != yaml.MappingNode {
		p.bad(m, "%swant a mapping with do: (one of %s)", where, actionNames())
		return st
	}
	lines := p.fields(m, where, []string{"do", "say", "faults", "name", "users", "touches"}, func(key string, v *yaml.Node) {
		switch key {
		case "touches":
			if v.Kind != yaml.SequenceNode {
				p.bad(v, "%stouches: want a list, e.g. [data]", where)
				return
			}
			for _, t := range v.Content {
				st.Touches = append(st.Touches, p.str(t, key))
			}
		case "users":
			st.Users = p.share(v, where)
		case "do":
			st.Do = Action(p.str(v, key))
		case "say":
			st.Say = p.str(v, key)
		case "name":
			st.Name = p.str(v, key)
		case "faults":
			if v.Kind != yaml.SequenceNode {
				p.bad(v, "%sfaults: want a list, e.g. [{name: kill-9, target: postgres}]", where)
				return
			}
			for j, fn := range v.Content {
				p.faultLines[[2]int{n, j}] = fn.Line
				st.Faults = append(st.Faults, p.fault(fn, where))
			}
		}
	})
	lines["-"] = m.Line
	p.stepLines[n] = lines
	if _, ok := lines["do"]; !ok {
		p.bad(m, "%sno do: field; want one of %s", where, actionNames())
	}
	return st
}

// share decodes a load's users share, e.g. {from: 0, to: 0.5}.
func (p *fileParser) share(v *yaml.Node, where string) Share {
	var sh Share
	if v.Kind != yaml.MappingNode {
		p.bad(v, "%susers: want a mapping, e.g. {from: 0, to: 0.5}", where)
		return sh
	}
	p.fields(v, where+"users: ", []string{"from", "to"}, func(key string, n *yaml.Node) {
		f, err := strconv.ParseFloat(p.str(n, key), 64)
		if err != nil {
			p.bad(n, "%susers: %s: want a number from 0 to 1, e.g. 0.5", where, key)
			return
		}
		if key == "from" {
			sh.From = f
		} else {
			sh.To = f
		}
	})
	return sh
}

func (p *fileParser) fault(m *yaml.Node, where string) fault.Spec {
	var spec fault.Spec
	if m.Kind != yaml.MappingNode {
		p.bad(m, "%sa fault: want a mapping with name: (one of %s)", where, strings.Join(fault.Names(), ", "))
		return spec
	}
	lines := p.fields(m, where+"a fault: ", []string{"name", "target", "params"}, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			spec.Name = p.str(v, key)
		case "target":
			spec.Target = p.str(v, key)
		case "params":
			if v.Kind != yaml.MappingNode {
				p.bad(v, "%sparams: want a mapping of parameter names to values", where)
				return
			}
			spec.Params = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				spec.Params[v.Content[i].Value] = p.str(v.Content[i+1], "params."+v.Content[i].Value)
			}
		}
	})
	if _, ok := lines["name"]; !ok {
		p.bad(m, "%sa fault without name:; want one of %s", where, strings.Join(fault.Names(), ", "))
	}
	return spec
}

func actionNames() string {
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// LoadDir loads every scenario file in dir (not its subdirectories), in name
// order. A directory that does not exist holds none; a bad file is an error
// naming it.
func LoadDir(dir string) ([]Scenario, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scenario directory: %w", err)
	}
	var out []Scenario
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(FileExtensions, filepath.Ext(e.Name())) {
			continue
		}
		sc, err := LoadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sc)
	}
	return out, errors.Join(errs...)
}
