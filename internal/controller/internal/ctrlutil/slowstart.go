package ctrlutil

import "sync"

// SlowStart calls fn for 0..count-1 in growing concurrent batches (1, 2,
// 4, ...) and stops after the first batch with a failure, so a quota or
// admission error costs a few requests, not hundreds. It returns how many
// calls it skipped and the failed batch's errors in call order.
func SlowStart(count int, fn func(i int) error) (skipped int, errs []error) {
	next := 0
	for batch := 1; next < count; batch *= 2 {
		batch = min(batch, count-next)
		results := make([]error, batch)
		var wg sync.WaitGroup
		for j := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[j] = fn(next + j)
			}()
		}
		wg.Wait()
		next += batch
		for _, err := range results {
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return count - next, errs
		}
	}
	return 0, nil
}
