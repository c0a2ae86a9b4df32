package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// policyRepo makes a git repository at dir holding the exam's policy, on
// branch main.
func policyRepo(t *testing.T, dir string) {
	t.Helper()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile("../examples/cks-terminal-shell/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.hcl"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("policy.hcl"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Security", Email: "security@example.com", When: time.Now()}
	if _, err := wt.Commit("The exam's output for Terminal shell in container", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

// serveGit serves the repository at dir over git's smart HTTP protocol on
// 127.0.0.1 and returns its URL. The lab's containers have no git program,
// so this is go-git's own server side, behind net/http.
func serveGit(t *testing.T, dir string) string {
	t.Helper()
	loader := server.NewFilesystemLoader(osfs.New("/"))
	srv := server.NewServer(loader)
	ep, err := transport.NewEndpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /policy.git/info/refs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") != "git-upload-pack" {
			http.Error(w, "only git-upload-pack", http.StatusForbidden)
			return
		}
		s, err := srv.NewUploadPackSession(ep, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ar, err := s.AdvertisedReferencesContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
		ar.Capabilities.Set(capability.Shallow)
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Header().Set("Cache-Control", "no-cache")
		ar.Encode(w)
	})
	// go-git's server side refuses shallow fetches, which rulekeeper
	// makes; with the whole history at hand, the answer to one is the full
	// pack and an empty shallow update, as git gives for a root commit.
	mux.HandleFunc("POST /policy.git/git-upload-pack", func(w http.ResponseWriter, r *http.Request) {
		req := packp.NewUploadPackRequest()
		if err := req.Decode(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		st, err := loader.Load(ep)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		haves, err := revlist.Objects(st, req.Haves, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		objs, err := revlist.Objects(st, req.Wants, haves)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		pr, pw := io.Pipe()
		go func() {
			_, err := packfile.NewEncoder(pw, st, false).Encode(objs, 10)
			pw.CloseWithError(err)
		}()
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		packp.NewUploadPackResponseWithPackfile(req, pr).Encode(w)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String() + "/policy.git"
}
