package source

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFaultTextIsScrubbed(t *testing.T) {
	inner := errors.New(`Get "https://bot:tok-123456@git.example.com/p.git/info/refs": refused, token tok-123456`)
	f := newFault(KindUnreachable, "", fmt.Errorf("wrapped: %w", inner), []string{"tok-123456"})
	want := `unreachable: wrapped: Get "https://REDACTED@git.example.com/p.git/info/refs": refused, token REDACTED`
	if f.Error() != want {
		t.Errorf("got  %s\nwant %s", f.Error(), want)
	}
	if !errors.Is(f, inner) {
		t.Error("the original error is lost for errors.Is")
	}
	canceled := newFault(KindUnreachable, "", fmt.Errorf("fetch: %w", context.Canceled), nil)
	if !errors.Is(canceled, context.Canceled) {
		t.Error("context.Canceled is lost")
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 4 * time.Second}
	down := &Fault{Kind: KindUnreachable, Err: errors.New("connection refused")}
	denied := &Fault{Kind: KindAuth, Err: errors.New("authentication required")}
	steps := []struct {
		err       error // nil: a success
		wait      time.Duration
		report    bool
		recovered bool
	}{
		{err: down, wait: 1 * time.Second, report: true},
		{err: down, wait: 2 * time.Second},
		{err: down, wait: 4 * time.Second},
		{err: down, wait: 4 * time.Second},
		{err: denied, wait: 4 * time.Second, report: true}, // another fault is logged, the wait keeps growing
		{err: nil, recovered: true},
		{err: denied, wait: 1 * time.Second, report: true}, // after a success it starts over
		{err: nil, recovered: true},
		{err: nil},
	}
	for i, st := range steps {
		if st.err == nil {
			if got := b.Succeeded(); got != st.recovered {
				t.Errorf("step %d: recovered=%v, want %v", i, got, st.recovered)
			}
			continue
		}
		wait, report := b.Failed(st.err)
		if wait != st.wait || report != st.report {
			t.Errorf("step %d: wait=%v report=%v, want %v %v", i, wait, report, st.wait, st.report)
		}
	}
	var zero Backoff
	if w, _ := zero.Failed(down); w != time.Second {
		t.Errorf("zero Backoff waits %v first", w)
	}
}
