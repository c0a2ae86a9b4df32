package alert

import "testing"

// The priorities README promises: Notice applied, Warning drift, Critical tamper and rollback,
// Error errors and refusals.
func TestDefaultPriorities(t *testing.T) {
	for k, want := range map[Kind]string{Applied: "Notice", Drift: "Warning", Tamper: "Critical", Rollback: "Critical",
		Error: "Error", Refused: "Error", Reload: "Informational"} {
		if got := DefaultPriority(k); got != want {
			t.Errorf("%s: priority %s, want %s", k, got, want)
		}
	}
}
