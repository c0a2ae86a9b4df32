package earlysignal

import (
	"syscall"
	"testing"
	"time"
)

// A SIGTERM that comes behind a burst of SIGHUPs nobody has read yet still
// stops the daemon: it is not dropped for want of room.
func TestStopNotCrowdedOutByReloads(t *testing.T) {
	pid := syscall.Getpid()
	full := time.Now().Add(5 * time.Second)
	for len(Reload) < cap(Reload) {
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(full) {
			t.Fatalf("SIGHUPs sent for 5s, %d of %d pending", len(Reload), cap(Reload))
		}
		time.Sleep(time.Millisecond)
	}
	for range 50 { // and more, which find no room
		syscall.Kill(pid, syscall.SIGHUP)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-Stop:
		if s != syscall.SIGTERM {
			t.Fatalf("Stop got %v, want SIGTERM", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM sent behind a burst of SIGHUPs never reached Stop")
	}
	if s := <-Reload; s != syscall.SIGHUP {
		t.Fatalf("Reload got %v, want SIGHUP", s)
	}
}
