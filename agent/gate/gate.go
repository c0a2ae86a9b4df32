// Package gate asks Prometheus the health question of a rollout: one
// instant query, bounded in time and size, read as one number.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, fmt.Errorf("prometheus %s did not answer within %v", base, timeout)
		}
		return 0, fmt.Errorf("prometheus %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return 0, fmt.Errorf("prometheus %s: reading the answer: %w", base, err)
	}
	if len(body) > MaxResponse {
		return 0, fmt.Errorf("prometheus %s: the answer is larger than %d bytes; make the query return one number (sum, max)", base, MaxResponse)
	}
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("prometheus %s answered HTTP %d, not its API's JSON: %w", base, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("prometheus %s refused the query (HTTP %d, %s): %s", base, resp.StatusCode, r.ErrorType, r.Error)
	}
	return value(r.Data.ResultType, r.Data.Result)
}

func value(kind string, raw json.RawMessage) (float64, error) {
	switch kind {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("reading the scalar: %w", err)
		}
		return sample(s[1])
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, fmt.Errorf("reading the vector: %w", err)
		}
		if len(v) == 0 {
			return 0, errors.New("the query returned no sample; if no series means healthy, end it with `or vector(0)`")
		}
		best := math.Inf(-1)
		for _, s := range v {
			f, err := sample(s.Value[1])
			if err != nil {
				return 0, err
			}
			best = max(best, f)
		}
		return best, nil
	}
	return 0, fmt.Errorf("the query returned a %s; a gate query returns a number or an instant vector", kind)
}

func sample(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("a sample value is %v, not a number", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("a sample value is %q, not a number", s)
	}
	return f, nil
}
