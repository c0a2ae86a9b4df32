package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxResponse bounds what one answer of Prometheus may weigh: about
// 50,000 series of the queries below, a fleet far larger than one job
// should hold. A larger answer is an error, never a partial view.
const MaxResponse = 8 << 20

// Client asks one Prometheus server instant queries over its HTTP API.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
	max     int64
}

// NewClient checks the server's base URL (http or https, a host, no query)
// and bounds every request by timeout and every answer by maxBytes.
func NewClient(base string, timeout time.Duration, maxBytes int64) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("--prometheus %q is not a server's base URL: give it as http://HOST:9090 (a path prefix such as /prometheus is kept)", base)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{base: u, http: &http.Client{Timeout: timeout}, timeout: timeout, max: maxBytes}, nil
}

// URL is the server's base URL, as the errors name it.
func (c *Client) URL() string { return c.base.String() }

// sample is one series of an instant vector: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

// query runs q at time at (Prometheus's own now when zero) and returns its
// vector, a scalar as one sample without labels.
func (c *Client) query(ctx context.Context, q string, at time.Time) ([]sample, error) {
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	endpoint := c.base.JoinPath("api/v1/query")
	endpoint.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("no answer from Prometheus at %s within %v: is it overloaded? (--timeout sets the wait)", c.URL(), c.timeout)
		}
		return nil, fmt.Errorf("cannot reach Prometheus at %s: %v: check --prometheus (the server's base URL, e.g. http://prometheus:9090) and that it runs", c.URL(), unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of Prometheus at %s: %w", c.URL(), err)
	}
	if int64(len(body)) > c.max {
		return nil, fmt.Errorf("the answer of %s to %s is over %d MiB, the limit: either --prometheus is not a Prometheus server, or the job is too large for this view (use the Grafana dashboard)", c.URL(), q, c.max>>20)
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
	if err := json.Unmarshal(body, &r); err != nil || (r.Status != "success" && r.Status != "error") {
		return nil, fmt.Errorf("%s answered %s with something that is not Prometheus's query API (%s): give --prometheus the base URL of a Prometheus server", c.URL(), resp.Status, describe(body))
	}
	if r.Status == "error" {
		return nil, fmt.Errorf("the Prometheus at %s refused the query %s: %s: %s", c.URL(), q, r.ErrorType, r.Error)
	}
	return decodeResult(r.Data.ResultType, r.Data.Result)
}

func decodeResult(kind string, raw json.RawMessage) ([]sample, error) {
	num := func(v any) (float64, error) {
		s, ok := v.(string)
		if !ok {
			return 0, fmt.Errorf("value %v is not a string", v)
		}
		return strconv.ParseFloat(s, 64)
	}
	switch kind {
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("a scalar result: %w", err)
		}
		f, err := num(v[1])
		if err != nil {
			return nil, fmt.Errorf("a scalar result: %w", err)
		}
		return []sample{{value: f}}, nil
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return nil, fmt.Errorf("a vector result: %w", err)
		}
		out := make([]sample, len(vec))
		for i, v := range vec {
			f, err := num(v.Value[1])
			if err != nil {
				return nil, fmt.Errorf("a vector result: %w", err)
			}
			out[i] = sample{labels: v.Metric, value: f}
		}
		return out, nil
	}
	return nil, fmt.Errorf("a result of type %q where a vector or a scalar was asked", kind)
}

// describe names what came back instead of JSON, for the error: its
// content type guessed from the first bytes, and those bytes.
func describe(body []byte) string {
	head := body[:min(len(body), 60)]
	return fmt.Sprintf("%s, starting %q", http.DetectContentType(body), head)
}

// unwrapURL drops the *url.Error wrapping, which repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
