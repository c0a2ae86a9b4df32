package main

import "strings"

// fieldClasses are the prefixes of the fields Falco 0.32.1 knows (`falco --list`, kept in the
// project's Falco field catalogue). Like Falco 0.32.1, the stand-in rejects an output token only when
// its class is unknown: `%usr.uid` fails, `%user.uidd` passes (Falco prints the uid followed by "d").
var fieldClasses = map[string]bool{
	"container": true, "evt": true, "evtin": true, "fd": true, "fdlist": true, "group": true,
	"k8s": true, "marathon": true, "mesos": true, "proc": true, "span": true, "syscall": true,
	"syslog": true, "thread": true, "user": true,
}

// checkOutput returns Falco's formatter error for the first token whose field class is unknown.
func checkOutput(output string) error {
	for i := 0; i < len(output); i++ {
		if output[i] != '%' {
			continue
		}
		rest := output[i+1:]
		if len(rest) > 0 && rest[0] == '(' { // %(field) is accepted by the formatter too
			rest = rest[1:]
		}
		n := 0
		for n < len(rest) && isFieldChar(rest[n]) {
			n++
		}
		name := rest[:n]
		class, _, _ := strings.Cut(name, ".")
		if !fieldClasses[class] {
			return &formatError{token: tokenText(output[i+1:])}
		}
		i += n
	}
	return nil
}

type formatError struct{ token string }

func (e *formatError) Error() string { return "invalid formatting token " + e.token }

func isFieldChar(c byte) bool {
	return c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// tokenText is what Falco quotes in its error: the rest of the output.
func tokenText(s string) string { return strings.TrimRight(s, " \n") }
