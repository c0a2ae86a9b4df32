package source

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Kind says what went wrong with the source, in words an operator can act on and a metric can
// be labelled with.
type Kind string

const (
	// KindUnreachable: the server did not answer (down, refused, timed out, repository missing).
	KindUnreachable Kind = "unreachable"
	// KindAuth: the server refused the credentials, or its SSH host key did not match known_hosts.
	KindAuth Kind = "auth"
	// KindRefNotFound: the branch, tag or commit is not at the remote (deleted, never pushed).
	KindRefNotFound Kind = "ref-not-found"
	// KindHistoryRewritten is never returned as an error: a force-push is followed, as Flux does,
	// and reported through Revision.Rewritten. The constant exists so callers label it alike.
	KindHistoryRewritten Kind = "history-rewritten"
	// KindCorrupt: the local clone is unusable and re-cloning did not fix it.
	KindCorrupt Kind = "corrupt"
	// KindSignature: the target commit is not signed by a key of the trusted keyring.
	KindSignature Kind = "signature"
	// KindConfig: the configuration is wrong (bad URL, unreadable key file, missing path in the
	// repository).
	KindConfig Kind = "config"
	// KindLocal: the state directory cannot be written (disk full, permissions).
	KindLocal Kind = "local"
)

// Fault is the error type of the source. Its text never holds credentials: URL user info and
// the secrets the source read are removed when it is made, so it is safe to log and to alert on.
type Fault struct {
	Kind   Kind
	Commit string // the commit concerned, where there is one (signature faults always have it)
	Err    error
}

func (f *Fault) Error() string {
	msg := "<nil>"
	if f.Err != nil {
		msg = f.Err.Error()
	}
	if f.Commit != "" {
		return scrub(string(f.Kind)+": commit "+f.Commit+": "+msg, nil)
	}
	return scrub(string(f.Kind)+": "+msg, nil)
}

func (f *Fault) Unwrap() error { return f.Err }

// redacted is an error whose text was scrubbed; it keeps the original for errors.Is/As (so a
// caller can still see context.Canceled), but the original must not be printed.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// newFault builds a Fault whose text has the given secrets and any URL user info removed.
func newFault(kind Kind, commit string, err error, secrets []string) *Fault {
	if err == nil {
		err = errors.New(string(kind))
	}
	return &Fault{Kind: kind, Commit: commit, Err: &redacted{msg: scrub(err.Error(), secrets), err: err}}
}

// userinfo matches the user[:password]@ part of a URL, whichever the scheme.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// scrub removes URL user info and every secret of at least 4 bytes (shorter ones would blank
// ordinary words) from s.
func scrub(s string, secrets []string) string {
	s = userinfo.ReplaceAllString(s, "${1}REDACTED@")
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

// remoteKind classifies an error that came from talking to the server.
func remoteKind(err error) Kind {
	var noRef git.NoMatchingRefSpecError
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		errors.As(err, &keyErr), errors.As(err, &revoked),
		strings.Contains(msg, "unable to authenticate"),
		strings.Contains(msg, "knownhosts:"),
		strings.Contains(msg, "host key"):
		return KindAuth
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.As(err, &noRef):
		return KindRefNotFound
	}
	return KindUnreachable
}

// isNetwork tells whether a fetch error came from the connection rather than from the local
// store; a fetch error that is neither is taken as a broken clone (see Source.sync).
func isNetwork(err error) bool {
	var netErr net.Error
	msg := err.Error()
	return errors.As(err, &netErr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, transport.ErrRepositoryNotFound) ||
		strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "EOF") ||
		strings.Contains(msg, "ssh:") ||
		strings.Contains(msg, "unexpected client error") ||
		strings.Contains(msg, "unexpected requesting")
}
