package reconcile

import "testing"

// What Falco says reaches the error without its start-up log, its errors
// kept, its verdict once.
func TestFalcoSays(t *testing.T) {
	for _, tc := range []struct{ name, out, want string }{
		{"0.44.1 verdict twice", "Mon Nov 30 05:36:30 2026: Falco version: 0.44.1 (x86_64)\n" +
			"Mon Nov 30 05:36:30 2026: [libs]: container: Enabled 'podman' container engine.\n" +
			"/f.yaml: Invalid\n1 Errors:\nLOAD_ERR\n\nError: /f.yaml: Invalid\n1 Errors:\nLOAD_ERR\n",
			"/f.yaml: Invalid\n1 Errors:\nLOAD_ERR"},
		{"0.32.1 error first", "Mon Nov  3 05:36:29 2026: Validating rules file(s):\nError: /f.yaml: 1 errors:\nInvalid output\n---\n\n/f.yaml: 1 errors:\nInvalid output\n---\n",
			"/f.yaml: 1 errors:\nInvalid output\n---"},
		{"a logged error kept", "Mon Nov 30 05:36:30 2026: System info: Linux\nMon Nov 30 05:36:30 2026: Runtime error: cannot load plugin /p.so. Exiting.\n",
			"Runtime error: cannot load plugin /p.so. Exiting."},
		{"said once", "Error: Plugin requirement not satisfied\n", "Error: Plugin requirement not satisfied"},
	} {
		if got := falcoSays(tc.out); got != tc.want {
			t.Errorf("%s: got\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}
