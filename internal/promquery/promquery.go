// Package promquery asks a Prometheus server one instant query over its
// HTTP API and decodes the answer, read within a size bound: the part the
// rollout gate and the fleet view share. How a failure is told to the user
// is theirs (a policy's gate, a command's flags), so each failure is an
// error of its own type here.
package promquery

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

// Sample is one series of an instant vector, or a scalar without labels.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Unreachable is a request that got no answer: no connection, or none
// before the deadline (Timeout).
type Unreachable struct {
	Err     error
	Timeout bool
}

func (e *Unreachable) Error() string { return e.Err.Error() }
func (e *Unreachable) Unwrap() error { return e.Err }

// TooLarge is an answer over the bound the caller gave.
type TooLarge struct{ Max int64 }

func (e *TooLarge) Error() string { return fmt.Sprintf("the answer is larger than %d bytes", e.Max) }

// NotAPI is an answer that is not the query API's JSON: a wrong URL, a
// login page, a proxy's error.
type NotAPI struct {
	Status     string // "404 Not Found"
	StatusCode int
	Body       []byte // at most the bound
}

func (e *NotAPI) Error() string { return "not the query API's answer: " + e.Describe() }

// Describe names what came back: its content type, guessed from the first
// bytes, and those bytes.
func (e *NotAPI) Describe() string {
	return fmt.Sprintf("%s, starting %q", http.DetectContentType(e.Body), e.Body[:min(len(e.Body), 60)])
}

// Refused is Prometheus's own error answer, e.g. a query that does not parse.
type Refused struct {
	StatusCode int
	Type       string // "bad_data"
	Message    string
}

func (e *Refused) Error() string { return e.Type + ": " + e.Message }

// WrongType is a result that is neither a scalar nor an instant vector
// (a range vector, a string).
type WrongType struct{ Type string }

func (e *WrongType) Error() string { return "a result of type " + e.Type }

// Instant runs the instant query q on the Prometheus at base (its URL,
// e.g. "http://prometheus:9090", a path prefix kept) at time at, or
// Prometheus's own now when at is zero. It reads at most maxBytes of the
// answer. A scalar comes back as one sample without labels.
func Instant(ctx context.Context, client *http.Client, base, q string, at time.Time, maxBytes int64) ([]Sample, error) {
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/query?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var te interface{ Timeout() bool }
		timeout := errors.As(err, &te) && te.Timeout()
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL, which the caller names
		}
		return nil, &Unreachable{Err: err, Timeout: timeout}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, &TooLarge{Max: maxBytes}
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
		return nil, &NotAPI{Status: resp.Status, StatusCode: resp.StatusCode, Body: body}
	}
	if r.Status == "error" {
		return nil, &Refused{StatusCode: resp.StatusCode, Type: r.ErrorType, Message: r.Error}
	}
	return decode(r.Data.ResultType, r.Data.Result)
}

func decode(kind string, raw json.RawMessage) ([]Sample, error) {
	switch kind {
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("reading the scalar: %w", err)
		}
		f, err := number(v[1])
		if err != nil {
			return nil, err
		}
		return []Sample{{Value: f}}, nil
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return nil, fmt.Errorf("reading the vector: %w", err)
		}
		out := make([]Sample, len(vec))
		for i, s := range vec {
			f, err := number(s.Value[1])
			if err != nil {
				return nil, err
			}
			out[i] = Sample{Labels: s.Metric, Value: f}
		}
		return out, nil
	}
	return nil, &WrongType{Type: kind}
}

// number reads a sample's value, which the API gives as a string ("1",
// "NaN", "+Inf").
func number(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("a sample value is %v, not a number", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("a sample value is %q, not a number", s)
	}
	return f, nil
}
