package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// commas formats n with thousands separators: 1234567 -> "1,234,567".
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// commasF formats a non-integral count with thousands separators and at most
// one decimal when it is small: 1234.4 -> "1,234", 3.25 -> "3.3".
func commasF(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	if math.Abs(f) < 10 && f != math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return commas(int(math.Round(f)))
}

// seconds formats a duration in seconds for people: "0.42 s", "41.2 s",
// "118 s", "4 min 12 s", "2 h 05 min".
func seconds(s float64) string {
	switch {
	case math.IsNaN(s) || s < 0:
		return "–"
	case s < 10:
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	case s < 100:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case s < 120:
		return strconv.FormatFloat(s, 'f', 0, 64) + " s"
	case s < 3600:
		t := int(math.Round(s))
		return fmt.Sprintf("%d min %02d s", t/60, t%60)
	}
	t := int(math.Round(s / 60))
	return fmt.Sprintf("%d h %02d min", t/60, t%60)
}

// secondsCompact formats seconds without spaces for one-line output: "41.2s", "4m12s".
func secondsCompact(s float64) string {
	switch {
	case math.IsNaN(s) || s < 0:
		return "?"
	case s < 100:
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	case s < 3600:
		t := int(math.Round(s))
		return fmt.Sprintf("%dm%02ds", t/60, t%60)
	}
	t := int(math.Round(s / 60))
	return fmt.Sprintf("%dh%02dm", t/60, t%60)
}

// clock formats an offset in seconds as m:ss (or h:mm:ss) for chart axes.
func clock(s float64) string {
	t := int(math.Round(s))
	if t >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
	}
	return fmt.Sprintf("%d:%02d", t/60, t%60)
}

// bytesIEC formats a size: "812 B", "1.2 KiB", "7.9 MiB".
func bytesIEC(n int64) string {
	if n < 1024 {
		return commas(int(n)) + " B"
	}
	f, units := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	u := -1
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " " + units[u]
}

// plural returns "1 user" or "2 users" (with thousands separators).
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return commas(n) + " " + many
}

// shortDigest shortens a hex digest for display: "3f2a9c01…".
func shortDigest(d string) string {
	if len(d) <= 12 {
		return d
	}
	return d[:8] + "…"
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
