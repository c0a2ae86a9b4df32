// Package testwait holds the one polling helper the tests share: wait for
// a condition that another process or goroutine makes true.
package testwait

import (
	"testing"
	"time"
)

// Eventually polls cond every 5 ms and fails the test when it is still
// false after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
