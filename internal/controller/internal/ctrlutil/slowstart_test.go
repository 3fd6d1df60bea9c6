package ctrlutil

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestSlowStart(t *testing.T) {
	tests := []struct {
		name        string
		count       int
		fail        map[int]bool // indexes that fail
		wantCalls   int64
		wantSkipped int
		wantErrs    []string
	}{
		{"nothing to do", 0, nil, 0, 0, nil},
		{"all succeed", 10, nil, 10, 0, nil},
		{"first call fails stops at once", 10, map[int]bool{0: true}, 1, 9, []string{"call 0"}},
		{"failure in the third batch", 10, map[int]bool{4: true}, 7, 3, []string{"call 4"}}, // batches 1,2,4
		{"a batch's errors in call order", 10, map[int]bool{6: true, 3: true}, 7, 3, []string{"call 3", "call 6"}},
		{"failure in the last batch skips nothing", 3, map[int]bool{2: true}, 3, 0, []string{"call 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			skipped, errs := SlowStart(tt.count, func(i int) error {
				calls.Add(1)
				if tt.fail[i] {
					return fmt.Errorf("call %d", i)
				}
				return nil
			})
			if calls.Load() != tt.wantCalls || skipped != tt.wantSkipped {
				t.Errorf("calls = %d skipped = %d, want %d %d", calls.Load(), skipped, tt.wantCalls, tt.wantSkipped)
			}
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantErrs) {
				t.Errorf("errs = %v, want %v", got, tt.wantErrs)
			}
			if len(tt.wantErrs) == 0 && errors.Join(errs...) != nil {
				t.Errorf("errs = %v, want none", errs)
			}
		})
	}
}
