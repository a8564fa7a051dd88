package attestation

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A read blocked where no context reaches (a file on a hung network
// filesystem) must not hold verify past its timeout: bounded returns when
// the context ends, names what was being read, and releases the result
// once the read finishes.
func TestBoundedReturnsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	unblock, released := make(chan struct{}), make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		_, err := bounded(ctx, "index.json of OCI layout x", func() (int, error) {
			<-unblock
			return 42, nil
		}, func(v int) { released <- v })
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("bounded did not return when its context ended")
	}
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "timed out while reading index.json of OCI layout x" {
		t.Errorf("bounded = %v", err)
	}
	close(unblock)
	select {
	case v := <-released:
		if v != 42 {
			t.Errorf("released %d", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the late result was not released")
	}
}

// A read that fails because its context ended is a timeout too, named.
func TestBoundedNamesAReadStoppedByItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := bounded(ctx, "blob sha256:00 of OCI layout x", func() (int, error) { return 0, ctx.Err() }, nil)
	var te *TimeoutError
	if !errors.As(err, &te) || te.What != "blob sha256:00 of OCI layout x" {
		t.Errorf("bounded = %v", err)
	}
}
