package policy

import (
	"io"
	"testing"
)

func TestHang(t *testing.T) {
	p, diags := Load("/tmp/pscr/hang")
	t.Log("written")
	err := WriteDiagnostics(io.Discard, p.Files(), diags, false, 80)
	t.Log(err)
}
