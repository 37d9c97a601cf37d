package follow

import (
	"testing"
	"time"
)

func TestBackoffGrows(t *testing.T) {
	t.Parallel()
	f := &Follower{poll: 5 * time.Second}
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 25 * time.Millisecond, 50 * time.Millisecond},
		{2, 50 * time.Millisecond, 100 * time.Millisecond},
		{3, 100 * time.Millisecond, 200 * time.Millisecond},
		{7, 1600 * time.Millisecond, 3200 * time.Millisecond},
		{8, 2500 * time.Millisecond, 5 * time.Second}, // capped at the poll interval
		{1000, 2500 * time.Millisecond, 5 * time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 100 {
			d := f.backoff(tc.n)
			if d < tc.min || d > tc.max {
				t.Errorf("backoff(%d) = %v, want %v to %v", tc.n, d, tc.min, tc.max)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Errorf("backoff(%d): %d distinct waits in 100, want jitter", tc.n, len(seen))
		}
	}
	// A poll interval below the first wait caps it.
	f.poll = 10 * time.Millisecond
	if d := f.backoff(1); d < 5*time.Millisecond || d > 10*time.Millisecond {
		t.Errorf("backoff(1) with a 10ms poll interval = %v", d)
	}
}
