package initsys

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// answering serves one connection on 127.0.0.1: it reads the request's
// head, writes answer, and closes the connection unless hold is set.
func answering(t *testing.T, answer string, hold bool) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		conn.Write([]byte(answer))
		if hold {
			time.Sleep(3 * time.Second)
		}
		conn.Close()
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// get reads Falco's web server as HTTP/1.0 allows an answer to end: at
// Content-Length when given (even on a connection left open), else where the
// server closes; a status line without a reason phrase is still an answer.
func TestGetReadsHTTPAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		hold         bool
		want, err    string
	}{
		{"content length, connection left open", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok and more", true, "ok", ""},
		{"no content length, closed", "HTTP/1.0 200 OK\r\n\r\nthe whole page", false, "the whole page", ""},
		{"no reason phrase", "HTTP/1.0 200\r\n\r\nok", false, "ok", ""},
		{"not found", "HTTP/1.0 404 Not Found\r\n\r\n", false, "", "404"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", false, "", "not an HTTP answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := answering(t, tc.answer, tc.hold)
			start := time.Now()
			got, err := get(context.Background(), port, "/metrics")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Fatalf("took %v: get waited for the server to close", took)
			}
		})
	}
}
