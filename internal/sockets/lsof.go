package sockets

// The lsof parser is platform neutral so the Linux test run covers it,
// though only sockets_darwin.go calls it.

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// parseLsof reads `lsof -F ptn` field output: a 'p' line starts a process,
// 'f' a file of it, 't' is IPv4/IPv6 and 'n' the local address. Without
// inodes, sockets are keyed by address, so a socket shared by a parent and
// child (or SO_REUSEPORT twins) becomes one Listener with several PIDs.
func parseLsof(r io.Reader) ([]Listener, error) {
	var ls []Listener
	index := make(map[netip.AddrPort]int)
	pid, typ := 0, ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		val := line[1:]
		switch line[0] {
		case 'p':
			p, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("pid %q: %w", val, err)
			}
			pid = p
		case 'f':
			typ = ""
		case 't':
			typ = val
		case 'n':
			ap, err := parseLsofName(val, typ)
			if err != nil {
				return nil, err
			}
			i, ok := index[ap]
			if !ok {
				i = len(ls)
				index[ap] = i
				ls = append(ls, Listener{Addr: ap, UID: -1})
			}
			if pid > 0 && !slices.Contains(ls[i].PIDs, pid) {
				ls[i].PIDs = append(ls[i].PIDs, pid)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := range ls {
		slices.Sort(ls[i].PIDs)
	}
	return ls, nil
}

// parseLsofName parses "127.0.0.1:80", "[::1]:80" or "*:80"; the wildcard
// needs the file's type to tell 0.0.0.0 from ::.
func parseLsofName(name, typ string) (netip.AddrPort, error) {
	if rest, ok := strings.CutPrefix(name, "*:"); ok {
		port, err := strconv.ParseUint(rest, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("port in %q: %w", name, err)
		}
		addr := netip.IPv4Unspecified()
		if typ == "IPv6" {
			addr = netip.IPv6Unspecified()
		}
		return netip.AddrPortFrom(addr, uint16(port)), nil
	}
	ap, err := netip.ParseAddrPort(name)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", name, err)
	}
	return ap, nil
}
