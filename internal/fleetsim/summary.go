package fleetsim

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Summary prints the results as the tables of README.md's "Scale, measured".
func Summary(w io.Writer, rs []*Result) {
	fmt.Fprintln(w, "| run | nodes | no-change poll: bytes sent + received | server CPU per poll | server CPU, no-change window (mean / busiest second) | most connections open at once |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		s := r.Steady
		if s.Polls == 0 {
			fmt.Fprintf(w, "| %s | %d | failed: %s |||||\n", name(r), r.Agents+r.Daemons, r.Error)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.0f + %.0f B | %.2f ms | %.2f / %.2f cores | %d |\n", name(r), r.Agents+r.Daemons,
			s.SentPerPoll, s.RecvPerPoll, s.CPUPerPollMs, s.ServerCores, s.PeakCores, s.PeakOpen)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | wave: nodes, p50 / p95 / p100 after its time | within interval + splay | rollout: busiest second, most open | first poll period after the push: packs, server CPU | agents in-process: RSS, CPU per node | rulekeeperd: RSS, CPU per node | agents' warnings |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		if len(r.Rollout.Waves) == 0 {
			continue
		}
		var waves []string
		within := true
		for _, wv := range r.Rollout.Waves {
			waves = append(waves, fmt.Sprintf("%d: %d, %.1f / %.1f / %.1f s", wv.Wave, wv.Nodes, wv.P50, wv.P95, wv.P100))
			within = within && wv.Within
		}
		if !r.Rollout.Converged {
			within = false
		}
		packs := "n/a"
		if r.Rollout.Packs > 0 {
			packs = fmt.Sprintf("%d of %d", r.Rollout.FirstPeriodPacks, r.Rollout.Packs)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.2f cores, %d | %s, %.1f CPU-s | %.1f MB, %.0f ms/min | %.1f MB, %.0f ms/min | %s |\n", name(r),
			strings.Join(waves, "; "), yes(within), r.Rollout.PeakCores, r.Rollout.PeakOpen, packs, r.Rollout.FirstPeriodCPU,
			r.InProcess.RSSPerNodeMB, r.InProcess.CPUPerNodeSteady, r.Processes.RSSPerNodeMB, r.Processes.CPUPerNodeSteady, warnings(r))
	}
}

func name(r *Result) string {
	return fmt.Sprintf("%s (interval %s, splay %s)", r.serverName(), r.Interval, r.Splay)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// warnings sums the agents' warnings by their first words, URLs left out,
// so that one fault told by a thousand agents is one entry.
func warnings(r *Result) string {
	sum := map[string]int{}
	for k, n := range r.Warnings {
		if strings.Contains(k, "Falco will not be reloaded") {
			continue // every rulekeeperd says it once: the runs have no Falco
		}
		k = strings.TrimPrefix(strings.TrimPrefix(k, "rulekeeperd WARN: "), "rulekeeperd ERROR: ")
		k = urlish.ReplaceAllString(k, "URL")
		if i := strings.Index(k, "; the node keeps"); i > 0 {
			k = k[:i]
		}
		sum[k] += n
	}
	var out []string
	for k, n := range sum {
		out = append(out, fmt.Sprintf("%d× %s", n, k))
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

var urlish = regexp.MustCompile(`\\?"?(https?|git)://[^ "\\]*\\?"?`)

// serverName is the server kind, with how long nginx kept the ref
// advertisement when it did.
func (r *Result) serverName() string {
	if r.RefsCache != "" {
		return r.Server + " " + r.RefsCache
	}
	return r.Server
}
