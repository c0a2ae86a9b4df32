// Package gate asks Prometheus the health question of a rollout: one
// instant query, bounded in time and size, read as one number.
package gate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/promquery"
)

// MaxResponse bounds what is read of Prometheus' answer: a gate query
// answers one number, or a few series; anything larger is a wrong query.
const MaxResponse = 1 << 20

// Query runs the instant query q on the Prometheus at base (its URL, e.g.
// "http://prometheus:9090") and returns its value: the scalar, or the
// largest sample of the vector. An empty vector is an error, as Flagger
// treats it: it cannot tell "healthy" from "nothing scraped" (end the query
// with `or vector(0)` where no series means healthy).
func Query(ctx context.Context, client *http.Client, base, q string, timeout time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	samples, err := promquery.Instant(ctx, client, base, q, time.Time{}, MaxResponse)
	if err != nil {
		return 0, describe(base, timeout, err)
	}
	if len(samples) == 0 {
		return 0, errors.New("the query returned no sample; if no series means healthy, end it with `or vector(0)`")
	}
	best := math.Inf(-1)
	for _, s := range samples {
		if math.IsNaN(s.Value) {
			return 0, fmt.Errorf("a sample value is %q, not a number", "NaN")
		}
		best = max(best, s.Value)
	}
	return best, nil
}

// describe words a failed query for the node's status and alert.
func describe(base string, timeout time.Duration, err error) error {
	var (
		unreachable *promquery.Unreachable
		tooLarge    *promquery.TooLarge
		notAPI      *promquery.NotAPI
		refused     *promquery.Refused
		wrongType   *promquery.WrongType
	)
	switch {
	case errors.As(err, &unreachable) && unreachable.Timeout:
		return fmt.Errorf("prometheus %s did not answer within %v", base, timeout)
	case errors.As(err, &unreachable):
		return fmt.Errorf("prometheus %s: %w", base, err)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("prometheus %s: the answer is larger than %d bytes; make the query return one number (sum, max)", base, MaxResponse)
	case errors.As(err, &notAPI):
		return fmt.Errorf("prometheus %s answered HTTP %d, not its API's JSON (%s)", base, notAPI.StatusCode, notAPI.Describe())
	case errors.As(err, &refused):
		return fmt.Errorf("prometheus %s refused the query (HTTP %d, %s): %s", base, refused.StatusCode, refused.Type, refused.Message)
	case errors.As(err, &wrongType):
		return fmt.Errorf("the query returned a %s; a gate query returns a number or an instant vector", wrongType.Type)
	}
	return fmt.Errorf("prometheus %s: %w", base, err)
}
