package cron

import (
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec, err string
	}{
		{"*/5 * * * *", ""},
		{"0 3 * * 1-5", ""},
		{"0 0 1 jan,jul sun", ""},
		{"5/15 * ? * *", ""},
		{"@hourly", ""},
		{"@every 1h30m", ""},
		{"TZ=UTC 0 * * * *", ""},
		{"CRON_TZ=Europe/Paris @daily", ""},
		{"", "empty spec string"},
		{"not a schedule", "expected exactly 5 fields, found 3: [not a schedule]"},
		{"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* 24 * * *", "end of range (24) above maximum (23): 24"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"* * * 13 *", "end of range (13) above maximum (12): 13"},
		{"* * * * 7", "end of range (7) above maximum (6): 7"},
		{"5-3 * * * *", "beginning of range (5) beyond end of range (3): 5-3"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"*/2/3 * * * *", "too many slashes: */2/3"},
		{"x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"-1 * * * *", `failed to parse int from : strconv.Atoi: parsing "": invalid syntax`},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"@every soon", `failed to parse duration @every soon: time: invalid duration "soon"`},
		{"TZ=Nowhere/Land 0 * * * *", "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.spec)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("Parse(%q) = %q, want %q", tt.spec, got, tt.err)
		}
	}
}

func TestNext(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	tests := []struct {
		spec string
		from time.Time
		want string // RFC3339, "" for none
	}{
		{"*/1 * * * *", utc("2025-01-01 12:00:00"), "2025-01-01T12:01:00Z"},
		{"*/1 * * * *", utc("2025-01-01 12:00:30"), "2025-01-01T12:01:00Z"},
		{"*/5 * * * *", utc("2025-01-01 12:03:00"), "2025-01-01T12:05:00Z"},
		{"*/5 * * * *", utc("2025-01-01 23:58:00"), "2025-01-02T00:00:00Z"},
		{"5/15 * * * *", utc("2025-01-01 12:21:00"), "2025-01-01T12:35:00Z"},
		{"0 3 * * 1-5", utc("2025-01-03 04:00:00"), "2025-01-06T03:00:00Z"}, // Friday → Monday
		{"@hourly", utc("2025-01-01 12:00:00"), "2025-01-01T13:00:00Z"},
		{"@daily", utc("2025-01-01 12:00:00"), "2025-01-02T00:00:00Z"},
		{"@weekly", utc("2025-01-01 12:00:00"), "2025-01-05T00:00:00Z"}, // next Sunday
		{"@monthly", utc("2025-01-31 12:00:00"), "2025-02-01T00:00:00Z"},
		{"@yearly", utc("2025-06-01 00:00:00"), "2026-01-01T00:00:00Z"},
		{"0 0 29 2 *", utc("2025-01-01 00:00:00"), "2028-02-29T00:00:00Z"},
		{"0 0 30 2 *", utc("2025-01-01 00:00:00"), ""},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * 5", utc("2025-01-01 00:00:00"), "2025-01-03T00:00:00Z"},
		// Day of week restricted, day of month "*": only Fridays.
		{"0 0 * * fri", utc("2025-01-03 00:00:00"), "2025-01-10T00:00:00Z"},
		{"0 9 * jan,jul mon", utc("2025-02-01 00:00:00"), "2025-07-07T09:00:00Z"},
		{"TZ=Europe/Paris 0 3 * * *", utc("2025-01-01 00:00:00"), "2025-01-01T02:00:00Z"},
		{"TZ=Asia/Kolkata 0 * * * *", utc("2025-01-01 00:00:00"), "2025-01-01T00:30:00Z"},
		// Spring forward in Paris: 02:30 does not exist on 2025-03-30.
		{"TZ=Europe/Paris 30 2 * * *", utc("2025-03-29 02:00:00"), "2025-03-31T00:30:00Z"},
		{"@every 1h30m", utc("2025-01-01 12:00:00"), "2025-01-01T13:30:00Z"},
		{"@every 90s", utc("2025-01-01 12:00:00"), "2025-01-01T12:01:30Z"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.spec, err)
		}
		got := s.Next(tt.from)
		gs := ""
		if !got.IsZero() {
			gs = got.UTC().Format(time.RFC3339)
		}
		if gs != tt.want {
			t.Errorf("%q.Next(%s) = %s, want %s", tt.spec, tt.from.Format(time.RFC3339), gs, tt.want)
		}
	}
	// Without TZ= the schedule runs in the location of its argument, and
	// Next answers in that location.
	s, _ := Parse("0 3 * * *")
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, paris)
	got := s.Next(from)
	if want := time.Date(2025, 1, 1, 3, 0, 0, 0, paris); !got.Equal(want) || got.Location() != paris {
		t.Errorf("Next in Paris = %v, want %v", got, want)
	}
}
