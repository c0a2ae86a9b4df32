package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
)

// webServer serves Falco's /healthz and, where metrics are on, the rules-file hashes in /metrics.
// It keeps listening across restarts unless the port changes, but logs its start on each, as
// Falco, which restarts it, does.
type webServer struct {
	lg     *logger
	srv    *http.Server
	port   int
	engine atomic.Pointer[engine]
}

func (w *webServer) apply(e *engine) error {
	w.engine.Store(e)
	if !e.cfg.webserverOn() {
		w.stop()
		return nil
	}
	if w.srv != nil && w.port == e.cfg.Webserver.ListenPort {
		w.logStart(e)
		return nil
	}
	w.stop()
	addr := fmt.Sprintf("127.0.0.1:%d", e.cfg.Webserver.ListenPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("Could not start the web server on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"status": "ok"}`)
	})
	mux.HandleFunc("/metrics", w.metrics)
	w.srv, w.port = &http.Server{Handler: mux}, e.cfg.Webserver.ListenPort
	w.logStart(e)
	go func(s *http.Server) {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.lg.printf("Error: web server: %v", err)
		}
	}(w.srv)
	return nil
}

func (w *webServer) logStart(e *engine) {
	if newLoader(e.version) {
		w.lg.printf("Starting health webserver with threadiness 2, listening on 0.0.0.0:%d", w.port)
		return
	}
	w.lg.printf("Starting internal webserver, listening on port %d", w.port)
}

func (w *webServer) metrics(rw http.ResponseWriter, _ *http.Request) {
	e := w.engine.Load()
	if e == nil || !e.cfg.metricsOn() {
		http.NotFound(rw, nil)
		return
	}
	var b strings.Builder
	b.WriteString("# HELP falcosecurity_falco_sha256_rules_files_info SHA256 of the loaded rules files\n")
	b.WriteString("# TYPE falcosecurity_falco_sha256_rules_files_info gauge\n")
	names := make([]string, 0, len(e.hashes))
	for f := range e.hashes {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		fmt.Fprintf(&b, "falcosecurity_falco_sha256_rules_files_info{file_name=%q,sha256=%q} 1\n", f, e.hashes[f])
	}
	b.WriteString("# TYPE falcosecurity_falco_reload_timestamp_nanoseconds gauge\n")
	fmt.Fprintf(&b, "falcosecurity_falco_reload_timestamp_nanoseconds %d\n", e.loadedAt.UnixNano())
	rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprint(rw, b.String())
}

func (w *webServer) stop() {
	if w.srv != nil {
		w.srv.Close()
		w.srv = nil
	}
}
