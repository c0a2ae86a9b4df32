package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Wave 0 and a policy without a rollout block fetch at once; a later wave
// waits one interval and its spread, never more than half of k × delay.
func TestFetchDelay(t *testing.T) {
	const interval = 30 * time.Second
	r := &policy.Rollout{Waves: []string{"0", "1", "2"}, Delay: time.Hour}
	spread := Spread("web-7", interval)
	for _, c := range []struct {
		r    *policy.Rollout
		wave int
		want time.Duration
	}{
		{nil, 1, 0},
		{r, 0, 0},
		{r, 1, interval + spread},
		{r, 2, interval + spread},
		{&policy.Rollout{Delay: 40 * time.Second}, 1, min(interval+spread, 20*time.Second)},
		{&policy.Rollout{Delay: 40 * time.Second}, 2, min(interval+spread, 40*time.Second)},
	} {
		if got := FetchDelay(c.r, Placement{Wave: c.wave}, "web-7", interval); got != c.want {
			t.Errorf("wave %d under %+v: %v, want %v", c.wave, c.r, got, c.want)
		}
	}
	if Spread("web-7", 0) != 0 || Spread("web-7", interval) != spread {
		t.Error("Spread is not stable, or not 0 over no span")
	}
}

// The nodes of one wave spread their fetches over the whole interval: of
// 3,000 hostnames in wave 1 of 3, each tenth of the interval gets within
// 20 % of its share.
func TestSpreadCoversTheIntervalWithinAWave(t *testing.T) {
	const interval = 30 * time.Second
	var tenths [10]int
	n := 0
	for i := range 9000 {
		host := fmt.Sprintf("node-%04d", i)
		if HashWave(host, 3) != 1 {
			continue
		}
		n++
		tenths[Spread(host, interval)*10/interval]++
	}
	for i, c := range tenths {
		if share := float64(c) / float64(n) * 10; share < 0.8 || share > 1.2 {
			t.Errorf("tenth %d of the interval holds %d of %d hosts of wave 1", i, c, n)
		}
	}
}
