package batch

import "testing"

func TestParseSchedule(t *testing.T) {
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
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"@every soon", `failed to parse duration @every soon: time: invalid duration "soon"`},
		{"TZ=Nowhere/Land 0 * * * *", "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"},
	}
	for _, tt := range tests {
		err := ParseSchedule(tt.spec)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("ParseSchedule(%q) = %q, want %q", tt.spec, got, tt.err)
		}
	}
}
