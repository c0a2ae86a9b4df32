package reconcile

import "testing"

func TestSums(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, spans := range [][][2]int{nil, {{0, 3}}, {{5, 8}}, {{5, 8}, {12, 20}}, {{20, 20}}} {
		whole, out := sums(data, spans)
		want := sum([]byte(outside(string(data), spans)))
		if whole != sum(data) || out != want || sumOutside(data, spans) != want {
			t.Errorf("spans %v: sums and sumOutside differ from sum and outside", spans)
		}
	}
}
