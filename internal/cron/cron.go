package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // TZ= zones resolve without the host's zoneinfo
)

// Schedule says when a cron schedule fires next.
type Schedule interface {
	// Next returns the first activation strictly after t, or the zero
	// time when there is none within five years.
	Next(t time.Time) time.Time
}

// Parse reads a schedule: five fields (minute, hour, day of month, month,
// day of week) or a descriptor (@yearly, @annually, @monthly, @weekly,
// @daily, @midnight, @hourly, @every <duration>), optionally prefixed by
// TZ=<zone> or CRON_TZ=<zone>. Without a zone the schedule runs in the
// location of the times given to Next. Its errors are worded as upstream
// reports them (they come from the cron library upstream uses).
func Parse(spec string) (Schedule, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty spec string")
	}
	var loc *time.Location
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		eq := strings.Index(spec, "=")
		end := strings.Index(spec, " ")
		if end < 0 {
			end = len(spec)
		}
		zone := spec[eq+1 : end]
		l, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", zone, err)
		}
		loc = l
		spec = strings.TrimSpace(spec[end:])
	}
	if strings.HasPrefix(spec, "@") {
		if rest, ok := strings.CutPrefix(spec, "@every "); ok {
			d, err := time.ParseDuration(rest)
			if err != nil {
				return nil, fmt.Errorf("failed to parse duration %s: %s", spec, err)
			}
			return every(d), nil
		}
		fields, ok := descriptors[spec]
		if !ok {
			return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = fields
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &specSchedule{loc: loc}
	sets := []*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow}
	for i, b := range fieldBounds {
		bits, err := parseField(fields[i], b)
		if err != nil {
			return nil, err
		}
		*sets[i] = bits
	}
	return s, nil
}

// descriptors are the named schedules and the fields they stand for.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type bounds struct {
	min, max int
	names    map[string]int
}

var fieldBounds = []bounds{
	{0, 59, nil}, // minute
	{0, 23, nil}, // hour
	{1, 31, nil}, // day of month
	{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// star marks a field written as "*" or "?": for the two day fields it
// decides whether both must match or either may.
const star = uint64(1) << 63

// parseField reads one field: comma-separated ranges, each "*", "?", "N",
// "N-M", optionally followed by "/step". It returns the set of allowed
// values as bits.
func parseField(f string, b bounds) (uint64, error) {
	var bits uint64
	for _, expr := range strings.FieldsFunc(f, func(r rune) bool { return r == ',' }) {
		r, err := parseRange(expr, b)
		if err != nil {
			return 0, err
		}
		bits |= r
	}
	return bits, nil
}

func parseRange(expr string, b bounds) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	var start, end int
	var extra uint64
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end = b.min, b.max
		extra = star
	} else {
		if start, err = parseIntOrName(lowAndHigh[0], b.names); err != nil {
			return 0, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = parseIntOrName(lowAndHigh[1], b.names); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	step := 1
	switch len(rangeAndStep) {
	case 1:
	case 2:
		if step, err = parseNonNegative(rangeAndStep[1]); err != nil {
			return 0, err
		}
		if len(lowAndHigh) == 1 { // "N/step" means "N-max/step"
			end = b.max
		}
		if step > 1 {
			extra = 0 // "*/5" restricts the field
		}
	default:
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << uint(v)
	}
	return bits | extra, nil
}

func parseIntOrName(s string, names map[string]int) (int, error) {
	if n, ok := names[strings.ToLower(s)]; ok {
		return n, nil
	}
	return parseNonNegative(s)
}

func parseNonNegative(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return n, nil
}

// specSchedule fires on every minute whose fields are all in the sets.
type specSchedule struct {
	minute, hour, dom, month, dow uint64
	loc                           *time.Location // nil: the location of Next's argument
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

// dayMatches applies cron's rule for the two day fields: when both are
// restricted a day matching either fires; when one is "*" both must match.
func (s *specSchedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.dom&star != 0 || s.dow&star != 0 {
		return dom && dow
	}
	return dom || dow
}

// Next walks forward from the minute after t, skipping whole months,
// days and hours that cannot match. Every step moves forward in absolute
// time, so daylight-saving gaps and repeats cannot make it loop.
func (s *specSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	loc := s.loc
	if loc == nil {
		loc = orig
	}
	t = t.In(loc)
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.Year() + 5
	step := func(next time.Time) time.Time {
		if !next.After(t) {
			return t.Add(time.Minute)
		}
		return next
	}
	for t.Year() <= limit {
		switch {
		case !has(s.month, int(t.Month())):
			t = step(time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc))
		case !s.dayMatches(t):
			t = step(time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc))
		case !has(s.hour, t.Hour()):
			t = step(t.Add(time.Duration(60-t.Minute()) * time.Minute))
		case !has(s.minute, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t.In(orig)
		}
	}
	return time.Time{}
}

// everySchedule fires at a constant interval of whole seconds (at least
// one) from the time given to Next.
type everySchedule time.Duration

func every(d time.Duration) everySchedule {
	if d < time.Second {
		d = time.Second
	}
	return everySchedule(d - d%time.Second)
}

func (e everySchedule) Next(t time.Time) time.Time {
	return t.Add(time.Duration(e) - time.Duration(t.Nanosecond()))
}
