package alert

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics a fleet is watched by, one node per scrape target: what runs
// there, whether the node is as the policy says, how old its commit is,
// rollbacks, and how long reloads leave Falco on old rules.
// packaging/prometheus/rulekeeper-alerts.yaml alerts on them. Every label
// takes its values from a fixed set, or one value at a time (the commit).

// ReloadMethods are the values of the method label of
// rulekeeper_reload_duration_seconds: the agent's reload methods (initsys);
// anything else is counted as "other".
var ReloadMethods = []string{"watch", "systemd", "sysv", "signal"}

type nodeMetrics struct {
	build      *prometheus.GaugeVec
	converged  prometheus.Gauge
	commitTime *prometheus.GaugeVec
	rollbacks  prometheus.Counter
	reload     *prometheus.HistogramVec

	mu         sync.Mutex
	commit     string    // the commit of the commitTime series, "" when none
	commitWhen time.Time // its value
}

func newNodeMetrics(reg prometheus.Registerer, version string) *nodeMetrics {
	m := &nodeMetrics{
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_build_info",
			Help: "The running rulekeeper: its version and the Go release that built it (value 1)."},
			[]string{"version", "goversion"}),
		converged: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rulekeeper_converged",
			Help: "1 when the last pass left the rule files as the applied policy says, 0 when not (a failed pass, drift left in place by drift mode alert, no policy yet)."}),
		commitTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rulekeeper_applied_commit_timestamp_seconds",
			Help: "Committer time (Unix) of the policy commit applied on this node; one series, labelled with that commit. Absent with a local policy folder."},
			[]string{"commit"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "rulekeeper_rollbacks_total",
			Help: "Times Falco did not come back after a reload and the previous rule files were put back."}),
		reload: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rulekeeper_reload_duration_seconds",
			Help:    "Time from asking Falco to load written files until it was seen running with them (a rollback's reload included), by reload method.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 20, 30, 60, 120}}, []string{"method"}),
	}
	reg.MustRegister(m.build, m.converged, m.commitTime, m.rollbacks, m.reload)
	if version == "" {
		version = "unknown"
	}
	m.build.WithLabelValues(version, runtime.Version()).Set(1)
	return m
}

// ObserveNode records where a pass left the node: converged says the rule
// files are as the applied policy says; commit and commitTime are the
// applied commit and its committer time (zero when unknown: a local policy
// folder), exposed as the one series of
// rulekeeper_applied_commit_timestamp_seconds.
func (a *Alerter) ObserveNode(converged bool, commit string, commitTime time.Time) {
	n := a.n
	n.converged.Set(b2f(converged))
	if commit == "" || commitTime.IsZero() {
		commit, commitTime = "", time.Time{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if commit == n.commit && commitTime.Equal(n.commitWhen) {
		return
	}
	n.commitTime.Reset()
	n.commit, n.commitWhen = commit, commitTime
	if commit != "" {
		n.commitTime.WithLabelValues(commit).Set(float64(commitTime.Unix()))
	}
}

// ObserveReload records one reload of Falco: its method (one of
// ReloadMethods, else "other"), how long it took, and whether the previous
// files had to be put back.
func (a *Alerter) ObserveReload(method string, took time.Duration, rolledBack bool) {
	if !slices.Contains(ReloadMethods, method) {
		method = "other"
	}
	a.n.reload.WithLabelValues(method).Observe(took.Seconds())
	if rolledBack {
		a.n.rollbacks.Inc()
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
