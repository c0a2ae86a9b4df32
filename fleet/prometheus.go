package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/promquery"
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
type sample = promquery.Sample

// query runs q at time at (Prometheus's own now when zero) and returns its
// vector, a scalar as one sample without labels.
func (c *Client) query(ctx context.Context, q string, at time.Time) ([]sample, error) {
	samples, err := promquery.Instant(ctx, c.http, c.URL(), q, at, c.max)
	var (
		unreachable *promquery.Unreachable
		tooLarge    *promquery.TooLarge
		notAPI      *promquery.NotAPI
		refused     *promquery.Refused
		wrongType   *promquery.WrongType
	)
	switch {
	case err == nil:
		return samples, nil
	case errors.As(err, &unreachable) && unreachable.Timeout:
		return nil, fmt.Errorf("no answer from Prometheus at %s within %v: is it overloaded? (--timeout sets the wait)", c.URL(), c.timeout)
	case errors.As(err, &unreachable):
		return nil, fmt.Errorf("cannot reach Prometheus at %s: %v: check --prometheus (the server's base URL, e.g. http://prometheus:9090) and that it runs", c.URL(), err)
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("the answer of %s to %s is over %d MiB, the limit: either --prometheus is not a Prometheus server, or the job is too large for this view (use the Grafana dashboard)", c.URL(), q, c.max>>20)
	case errors.As(err, &notAPI):
		return nil, fmt.Errorf("%s answered %s with something that is not Prometheus's query API (%s): give --prometheus the base URL of a Prometheus server", c.URL(), notAPI.Status, notAPI.Describe())
	case errors.As(err, &refused):
		return nil, fmt.Errorf("the Prometheus at %s refused the query %s: %s: %s", c.URL(), q, refused.Type, refused.Message)
	case errors.As(err, &wrongType):
		return nil, fmt.Errorf("the answer of %s to %s is %w where a vector or a scalar was asked", c.URL(), q, err)
	}
	return nil, fmt.Errorf("the answer of %s to %s: %w", c.URL(), q, err)
}
