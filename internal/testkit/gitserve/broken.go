package gitserve

import (
	"net"
	"testing"
)

// Broken is a git:// server that serves nothing: each connection is given
// to handle, which breaks it as the test needs (a reset, a hold, a close
// without a word). It returns the server's git:// URL for policy.git.
func Broken(t testing.TB, handle func(*net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c.(*net.TCPConn))
		}
	}()
	return "git://" + ln.Addr().String() + "/policy.git"
}

// Reset drops c with a reset (RST), as a server that is going down does;
// a plain close would end it cleanly once the request is read, and race
// the request otherwise.
func Reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	c.Close()
}
