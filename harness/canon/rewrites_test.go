package canon

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the UTC conversions below never depend on the host's zoneinfo

	"github.com/firedrill/firedrill/harness/model"
)

// rewrite is one meaning-preserving change a real server makes to a stored
// body. It works on the body's unfolded content lines and returns them
// changed (or unchanged when the body has nothing it applies to).
type rewrite struct {
	name string
	f    func(kind model.Kind, lines []string) []string
}

// each applies f to every line matching re.
func each(re string, f func(l string) string) func(model.Kind, []string) []string {
	r := regexp.MustCompile(re)
	return func(_ model.Kind, lines []string) []string {
		out := slices.Clone(lines)
		for i, l := range out {
			if r.MatchString(l) {
				out[i] = f(l)
			}
		}
		return out
	}
}

// sub replaces the first submatch of re (or the whole match) on every line.
func sub(re, repl string) func(model.Kind, []string) []string {
	r := regexp.MustCompile(re)
	return func(_ model.Kind, lines []string) []string {
		out := slices.Clone(lines)
		for i, l := range out {
			out[i] = r.ReplaceAllString(l, repl)
		}
		return out
	}
}

// insertIn adds line at the end of every component named comp that has no
// line starting with unless.
func insertIn(comp, unless, line string) func(model.Kind, []string) []string {
	return func(_ model.Kind, lines []string) []string {
		var out []string
		var has []bool
		for _, l := range lines {
			switch {
			case strings.HasPrefix(l, "BEGIN:"):
				has = append(has, false)
			case strings.HasPrefix(l, "END:"):
				if l == "END:"+comp && !has[len(has)-1] {
					out = append(out, line)
				}
				has = has[:len(has)-1]
			case strings.HasPrefix(l, unless) && len(has) > 0:
				has[len(has)-1] = true
			}
			out = append(out, l)
		}
		return out
	}
}

// drop removes the lines matching re.
func drop(re string) func(model.Kind, []string) []string {
	r := regexp.MustCompile(re)
	return func(_ model.Kind, lines []string) []string {
		return slices.DeleteFunc(slices.Clone(lines), r.MatchString)
	}
}

// splitList writes a comma list property as one line per value, at unescaped
// commas.
func splitList(name string, reverse bool) func(model.Kind, []string) []string {
	return func(_ model.Kind, lines []string) []string {
		var out []string
		for _, l := range lines {
			head, value, ok := strings.Cut(l, ":")
			if !ok || !strings.HasPrefix(head, name) {
				out = append(out, l)
				continue
			}
			items := splitUnescapedComma(value)
			if reverse {
				slices.Reverse(items)
				out = append(out, head+":"+strings.Join(items, ","))
				continue
			}
			for _, it := range items {
				out = append(out, head+":"+it)
			}
		}
		return out
	}
}

func splitUnescapedComma(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ',':
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

var dtRE = regexp.MustCompile(`^(EXDATE|RDATE|RECURRENCE-ID);TZID=([^:;]+):(.*)$`)

// inUTC gives EXDATE, RDATE or RECURRENCE-ID (name) in UTC instead of its
// IANA zone, split into one line per value when split is set.
func inUTC(name string, split bool) func(model.Kind, []string) []string {
	return func(_ model.Kind, lines []string) []string {
		var out []string
		for _, l := range lines {
			m := dtRE.FindStringSubmatch(l)
			loc, err := time.LoadLocation(m2(m, 2))
			if m == nil || m[1] != name || err != nil {
				out = append(out, l)
				continue
			}
			var vals []string
			for _, v := range strings.Split(m[3], ",") {
				at, err := time.ParseInLocation("20060102T150405", v, loc)
				if err != nil {
					panic(err)
				}
				vals = append(vals, at.UTC().Format("20060102T150405Z"))
			}
			if !split {
				out = append(out, name+":"+strings.Join(vals, ","))
				continue
			}
			for _, v := range vals {
				out = append(out, name+":"+v)
			}
		}
		return out
	}
}

func m2(m []string, i int) string {
	if m == nil {
		return ""
	}
	return m[i]
}

// component returns the lines' components named name as [start, end) line ranges.
func components(lines []string, name string) [][2]int {
	var out [][2]int
	start := -1
	for i, l := range lines {
		switch l {
		case "BEGIN:" + name:
			start = i
		case "END:" + name:
			if start >= 0 {
				out = append(out, [2]int{start, i + 1})
				start = -1
			}
		}
	}
	return out
}

// zoneRewrite changes each VTIMEZONE whose TZID matches iana (an IANA zone
// or not) with f, which gets and returns the component's lines.
func zoneRewrite(iana bool, f func(z []string) []string) func(model.Kind, []string) []string {
	return func(_ model.Kind, lines []string) []string {
		var out []string
		last := 0
		for _, r := range components(lines, "VTIMEZONE") {
			z := lines[r[0]:r[1]]
			tzid := strings.TrimPrefix(z[1], "TZID:")
			_, err := time.LoadLocation(tzid)
			out = append(out, lines[last:r[0]]...)
			if (err == nil) == iana {
				out = append(out, f(slices.Clone(z))...)
			} else {
				out = append(out, z...)
			}
			last = r[1]
		}
		return append(out, lines[last:]...)
	}
}

// durationHM writes PT<minutes>M as hours and minutes (PT60M as PT1H, PT90M
// as PT1H30M), as vobject-based servers (Radicale, Xandikos) store it.
func durationHM(l string) string {
	head, v, _ := strings.Cut(l, ":")
	var m int
	if _, err := fmt.Sscanf(v, "PT%dM", &m); err != nil {
		return l
	}
	out := "PT"
	if m >= 60 {
		out += fmt.Sprintf("%dH", m/60)
	}
	if m%60 != 0 {
		out += fmt.Sprintf("%dM", m%60)
	}
	return head + ":" + out
}

// byday rewrites an RRULE's BYDAY list with f.
func byday(f func([]string)) func(string) string {
	re := regexp.MustCompile(`BYDAY=([A-Z0-9,+-]+)`)
	return func(l string) string {
		return re.ReplaceAllStringFunc(l, func(m string) string {
			days := strings.Split(strings.TrimPrefix(m, "BYDAY="), ",")
			f(days)
			return "BYDAY=" + strings.Join(days, ",")
		})
	}
}

var weekOrder = map[string]int{"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
