// The Go probe of the cgroup tests: dials one TCP connection with Go's own
// net package (raw system calls, no libc: LD_PRELOAD cannot reach it) and
// prints the keepalive settings read back from its socket.
//
//	probe-go [-keepalive DURATION] [-hold] [-wait] HOST:PORT
//
// -keepalive is net.Dialer.KeepAlive: 0 (the default) lets Go turn keepalive
// on with 15 s idle and interval right after connecting, -1s leaves it alone.
// Prints "connected", then "settings ENABLED IDLE INTERVAL COUNT USER_TIMEOUT_MS".
// -hold: another settings line per line on stdin, until EOF.
// -wait: then reads until the connection fails, and prints
// "failed ERRNO last_ack_ms=N" (N: since the peer's last ACK, from TCP_INFO).
// Exit status: 0 done, 1 a call failed (or the connection died), 2 usage.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// printSettings prints the settings line read back from the socket; a
// failed read ends the probe (exit 1).
func printSettings(raw syscall.RawConn) {
	line, err := settings(raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "getsockopt:", err)
		os.Exit(1)
	}
	fmt.Println(line)
}

func settings(raw syscall.RawConn) (string, error) {
	var line string
	var err error
	ctrl := raw.Control(func(fd uintptr) {
		get := func(level, opt int) int {
			if err != nil {
				return 0
			}
			var v int
			v, err = syscall.GetsockoptInt(int(fd), level, opt)
			return v
		}
		on := get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle := get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		intvl := get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
		cnt := get(syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		ut := get(syscall.IPPROTO_TCP, 18) // TCP_USER_TIMEOUT
		line = fmt.Sprintf("settings %d %d %d %d %d", on, idle, intvl, cnt, ut)
	})
	if ctrl != nil {
		return "", ctrl
	}
	return line, err
}

// lastAckMs reads tcpi_last_ack_recv (offset 56 of struct tcp_info).
func lastAckMs(raw syscall.RawConn) int64 {
	var info [232]byte
	ms := int64(-1)
	raw.Control(func(fd uintptr) {
		size := uint32(len(info))
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP,
			syscall.TCP_INFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
		if e == 0 {
			ms = int64(*(*uint32)(unsafe.Pointer(&info[56])))
		}
	})
	return ms
}

func main() {
	keepalive := flag.Duration("keepalive", 0, "net.Dialer.KeepAlive")
	hold := flag.Bool("hold", false, "print the settings again per line on stdin")
	wait := flag.Bool("wait", false, "read until the connection fails")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: probe-go [-keepalive DURATION] [-hold] [-wait] HOST:PORT")
		os.Exit(2)
	}
	conn, err := (&net.Dialer{KeepAlive: *keepalive, Timeout: 10 * time.Second}).Dial("tcp", flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		fmt.Fprintln(os.Stderr, "SyscallConn:", err)
		os.Exit(1)
	}
	fmt.Println("connected")
	printSettings(raw)
	if *hold {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			printSettings(raw)
		}
	}
	if *wait {
		buf := make([]byte, 4096)
		for {
			if _, err = conn.Read(buf); err != nil {
				break
			}
		}
		var errno syscall.Errno
		name := err.Error()
		if errors.As(err, &errno) && errno == syscall.ETIMEDOUT {
			name = "ETIMEDOUT"
		}
		fmt.Printf("failed %s last_ack_ms=%d\n", name, lastAckMs(raw))
		os.Exit(1)
	}
}
