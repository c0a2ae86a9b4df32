package promquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Each kind of answer comes back as its own error type (the callers word
// them), the time and a base path reach the server, and the bound holds.
func TestInstantAnswers(t *testing.T) {
	var gotPath, gotTime string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotTime = r.URL.Path, r.URL.Query().Get("time")
		switch r.URL.Query().Get("query") {
		case "vector":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"2.5"]},{"metric":{},"value":[1,"NaN"]}]}}`)
		case "scalar":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}`)
		case "matrix":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
		case "refused":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		case "html":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<html>not here</html>")
		case "number":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1,7]}}`)
		case "huge":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`+strings.Repeat(" ", 2000)+`]}}`)
		case "slow":
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	at := time.UnixMilli(1700000000123)

	s, err := Instant(ctx, nil, srv.URL+"/prom/", "vector", at, 1<<20)
	if err != nil || len(s) != 2 || s[0].Labels["a"] != "1" || s[0].Value != 2.5 || s[1].Value == s[1].Value {
		t.Errorf("vector: %+v, %v", s, err)
	}
	if gotPath != "/prom/api/v1/query" || gotTime != "1700000000.123" {
		t.Errorf("asked %s at %q", gotPath, gotTime)
	}
	if s, err := Instant(ctx, nil, srv.URL, "scalar", time.Time{}, 1<<20); err != nil || len(s) != 1 || s[0].Value != 7 || s[0].Labels != nil || gotTime != "" {
		t.Errorf("scalar: %+v, %v, time %q", s, err, gotTime)
	}
	var wrong *WrongType
	if _, err := Instant(ctx, nil, srv.URL, "matrix", time.Time{}, 1<<20); !errors.As(err, &wrong) || wrong.Type != "matrix" {
		t.Errorf("matrix: %v", err)
	}
	var refused *Refused
	if _, err := Instant(ctx, nil, srv.URL, "refused", time.Time{}, 1<<20); !errors.As(err, &refused) || refused.StatusCode != 400 || refused.Type != "bad_data" || refused.Message != "parse error" {
		t.Errorf("refused: %v", err)
	}
	var notAPI *NotAPI
	if _, err := Instant(ctx, nil, srv.URL, "html", time.Time{}, 1<<20); !errors.As(err, &notAPI) || notAPI.Status != "404 Not Found" || !strings.Contains(notAPI.Describe(), "text/html") {
		t.Errorf("html: %v", err)
	}
	if _, err := Instant(ctx, nil, srv.URL, "number", time.Time{}, 1<<20); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("a value not given as a string: %v", err)
	}
	var tooLarge *TooLarge
	if _, err := Instant(ctx, nil, srv.URL, "huge", time.Time{}, 1000); !errors.As(err, &tooLarge) || tooLarge.Max != 1000 {
		t.Errorf("huge: %v", err)
	}
	if _, err := Instant(ctx, nil, srv.URL, "huge", time.Time{}, 1<<20); err != nil {
		t.Errorf("the same answer under the bound: %v", err)
	}
	var unreachable *Unreachable
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := Instant(tctx, nil, srv.URL, "slow", time.Time{}, 1<<20); !errors.As(err, &unreachable) || !unreachable.Timeout {
		t.Errorf("slow: %v", err)
	}
	if _, err := Instant(ctx, nil, "http://127.0.0.1:1", "up", time.Time{}, 1<<20); !errors.As(err, &unreachable) || unreachable.Timeout || strings.Contains(err.Error(), "127.0.0.1:1/api") {
		t.Errorf("nothing listening: %v (the URL is the caller's to name)", err)
	}
}
