// Package scrape reads a counter from a running rulekeeperd's /metrics, as
// Prometheus would scrape it, for the tests that count its passes.
package scrape

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// Sum returns the sum of a metric over all its label sets (name{...} v),
// or -1 when /metrics cannot be reached.
func Sum(url, name string) int64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var n float64
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name+"{"); ok {
			if i := strings.LastIndexByte(rest, ' '); i > 0 {
				v, _ := strconv.ParseFloat(rest[i+1:], 64)
				n += v
			}
		}
	}
	return int64(n)
}
