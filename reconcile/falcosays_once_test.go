package reconcile

import "testing"

// A verdict that only reads as two equal halves within a line (no line
// break between them) is Falco's text, kept whole.
func TestFalcoSaysKeepsARepeatWithinALine(t *testing.T) {
	if got, want := falcoSays("Error: LOAD_ERR LOAD_ERR\n"), "Error: LOAD_ERR LOAD_ERR"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
