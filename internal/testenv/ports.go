package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// FreePort hands out ports from FirstPort up to LastPort. The range lies
// below Linux's ephemeral ports (32768–60999 by default, see
// /proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection
// takes a port between FreePort's check and Caddy's bind.
const (
	FirstPort = 20000
	LastPort  = 32000
)

// PortLockDir is the directory, shared by every test process of the
// machine, that holds a lock file for each port FreePort has handed out
// and not yet taken back.
var PortLockDir = filepath.Join(os.TempDir(), "portcullis-test-ports")

// handedOut are the ports FreePort has returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port for a server of the test to listen on, that
// no other caller of FreePort, in this process or another (go test runs
// packages in parallel processes), is handed until the test ends:
//
//   - it holds an exclusive flock on PortLockDir/<port> until the test's
//     cleanup, which runs after the cleanups registered later, such as
//     Start's stopping of Caddy;
//   - it returns a port only if it could listen on it on every interface
//     a moment ago;
//   - it never returns a port twice in one process, since two sites of
//     one Caddyfile on one port do not load.
func FreePort(t testing.TB) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if err := os.MkdirAll(PortLockDir, 0o777); err != nil {
		t.Fatalf("the directory of port locks: %v", err)
	}
	for port := FirstPort; port <= LastPort; port++ {
		if handedOut.ports[port] {
			continue
		}
		lock, err := claim(port)
		if err != nil {
			t.Fatalf("claiming port %d: %v", port, err)
		}
		if lock == nil {
			continue
		}
		handedOut.ports[port] = true
		t.Cleanup(func() { lock.Close() })
		return port
	}
	t.Fatalf("no free port from %d to %d", FirstPort, LastPort)
	return 0
}

// claim takes port's lock and checks that the port is free. It returns the
// lock file, whose closing releases the lock, or nil when another process
// holds the lock or something listens on the port.
func claim(port int) (*os.File, error) {
	lock, err := os.OpenFile(filepath.Join(PortLockDir, strconv.Itoa(port)), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		lock.Close()
		return nil, nil
	}
	l.Close()
	return lock, nil
}
