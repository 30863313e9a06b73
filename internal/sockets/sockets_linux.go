package sockets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tcpListen is TCP_LISTEN in the kernel's tcp_states.h, printed as "0A".
const tcpListen = 0x0A

// TCPListeners returns every listening TCP socket (v4 and v6) on port
// (0 = all ports), with owners resolved from /proc/[pid]/fd.
func TCPListeners(port int) ([]Listener, error) {
	ls, err := readListeners(port)
	if err != nil {
		return nil, err
	}
	if err := resolveOwners(ls, nil); err != nil {
		return nil, err
	}
	sortListeners(ls)
	return ls, nil
}

// ListenersOf returns the listening TCP sockets held by any of pids. Each
// Listener's PIDs lists only the holders among pids, which saves a walk of
// every process on the host.
func ListenersOf(pids []int) ([]Listener, error) {
	if len(pids) == 0 {
		return nil, nil
	}
	ls, err := readListeners(0)
	if err != nil {
		return nil, err
	}
	if err := resolveOwners(ls, pids); err != nil {
		return nil, err
	}
	ls = slices.DeleteFunc(ls, func(l Listener) bool { return len(l.PIDs) == 0 })
	sortListeners(ls)
	return ls, nil
}

// readListeners reads both socket tables of the caller's network namespace.
func readListeners(port int) ([]Listener, error) {
	var all []Listener
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(name, "6") {
			continue // IPv6 disabled in this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("sockets: open socket table: %w", err)
		}
		ls, err := parseProcNetTCP(f, binary.NativeEndian, port)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("sockets: parse %s: %w", name, err)
		}
		all = append(all, ls...)
	}
	return all, nil
}

// parseProcNetTCP parses /proc/net/tcp or /proc/net/tcp6 text and returns
// the sockets in LISTEN state on port (0 = all). order is the byte order the
// kernel printed each 32-bit address word in (the host's).
//
// A line we cannot parse is an error rather than skipped: silently missing a
// listener would defeat the loopback check this package exists for.
func parseProcNetTCP(r io.Reader, order binary.ByteOrder, port int) ([]Listener, error) {
	var out []Listener
	sc := bufio.NewScanner(r)
	// Each read(2) of these files re-walks the kernel's socket hash tables
	// (milliseconds on big hosts) and returns at most about a page, so read
	// at least a page at a time.
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first { // column header
			first = false
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if len(f) < 10 {
			return nil, fmt.Errorf("short line %q", line)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("state in %q: %w", line, err)
		}
		if st != tcpListen {
			continue
		}
		ap, err := parseHexAddrPort(f[1], order)
		if err != nil {
			return nil, fmt.Errorf("local address in %q: %w", line, err)
		}
		if port != 0 && int(ap.Port()) != port {
			continue
		}
		uid, err := strconv.Atoi(f[7])
		if err != nil {
			return nil, fmt.Errorf("uid in %q: %w", line, err)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("inode in %q: %w", line, err)
		}
		out = append(out, Listener{Addr: ap, Inode: inode, UID: uid})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseHexAddrPort decodes "0100007F:1F90" (v4) or a 32-hex-digit v6 form.
// The kernel prints the address as 32-bit words in host byte order and the
// port as a plain number.
func parseHexAddrPort(s string, order binary.ByteOrder) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", hexPort, err)
	}
	var b [16]byte
	n := len(hexAddr) / 2
	if n != 4 && n != 16 || len(hexAddr)%2 != 0 {
		return netip.AddrPort{}, fmt.Errorf("address %q has bad length", hexAddr)
	}
	for i := 0; i < n; i += 4 {
		w, err := strconv.ParseUint(hexAddr[i*2:i*2+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", hexAddr, err)
		}
		order.PutUint32(b[i:], uint32(w))
	}
	var addr netip.Addr
	if n == 4 {
		addr = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		addr = netip.AddrFrom16(b)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// resolveOwners fills ls[i].PIDs by scanning the fd tables of pids (nil =
// every process) for "socket:[inode]" links. Processes that exit or deny
// access mid-scan are skipped: ownership is best effort, the socket table
// is authoritative.
func resolveOwners(ls []Listener, pids []int) error {
	if len(ls) == 0 {
		return nil
	}
	byInode := make(map[uint64][]int, len(ls)) // inode -> indexes into ls
	for i, l := range ls {
		byInode[l.Inode] = append(byInode[l.Inode], i)
	}
	if pids == nil {
		var err error
		if pids, err = allPIDs(); err != nil {
			return err
		}
	}
	buf := make([]byte, 64)
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		d, err := os.Open(dir)
		if err != nil {
			continue // exited or not ours to read
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			inode, ok := socketInode(dir+name, buf)
			if !ok {
				continue
			}
			for _, i := range byInode[inode] {
				if !slices.Contains(ls[i].PIDs, pid) { // a pid may hold several fds to one socket
					ls[i].PIDs = append(ls[i].PIDs, pid)
				}
			}
		}
	}
	for i := range ls {
		slices.Sort(ls[i].PIDs)
	}
	return nil
}

// socketInode reads an fd link and returns n for "socket:[n]". buf is reused
// across calls to keep the per-fd scan cheap; longer links are truncated,
// which is harmless since they cannot be socket links.
func socketInode(path string, buf []byte) (uint64, bool) {
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return 0, false
	}
	link := buf[:n]
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	inode, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	return inode, err == nil
}

// allPIDs lists the numeric entries of /proc (thread-group leaders only).
func allPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("sockets: list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("sockets: list processes: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ProcessName returns the kernel's short name for pid (/proc/pid/comm, at
// most 15 bytes), or "" if the process is gone or unreadable.
func ProcessName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// StartTime returns an opaque, stable start marker for pid: the starttime
// field (22) of /proc/pid/stat, in clock ticks since boot. Comparing it
// tells a reused pid from the original. When pid does not exist the error
// satisfies errors.Is(err, fs.ErrNotExist).
func StartTime(pid int) (string, error) {
	fields, err := readStat(pid)
	if err != nil {
		return "", err
	}
	return fields[statStartTime], nil
}

// Indexes into the stat fields that follow "(comm)"; field 3 (state) is 0.
const (
	statPPID      = 4 - 3
	statPGRP      = 5 - 3
	statStartTime = 22 - 3
)

// readStat returns the /proc/pid/stat fields after the comm field.
func readStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, fmt.Errorf("sockets: stat of pid %d: %w", pid, err)
	}
	fields, err := parseStat(b)
	if err != nil {
		return nil, fmt.Errorf("sockets: stat of pid %d: %w", pid, err)
	}
	return fields, nil
}

// parseStat splits /proc/pid/stat after the last ')': comm may itself
// contain spaces and parentheses.
func parseStat(b []byte) ([]string, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("malformed stat: no comm")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) <= statStartTime {
		return nil, fmt.Errorf("malformed stat: %d fields after comm", len(fields))
	}
	return fields, nil
}

// listProcs snapshots pid, ppid and pgid of every process.
func listProcs() ([]proc, error) {
	pids, err := allPIDs()
	if err != nil {
		return nil, err
	}
	procs := make([]proc, 0, len(pids))
	for _, pid := range pids {
		f, err := readStat(pid)
		if err != nil {
			continue // exited since the directory listing
		}
		ppid, err1 := strconv.Atoi(f[statPPID])
		pgid, err2 := strconv.Atoi(f[statPGRP])
		if err1 != nil || err2 != nil {
			continue
		}
		procs = append(procs, proc{pid: pid, ppid: ppid, pgid: pgid})
	}
	return procs, nil
}

// listenersOn returns the listeners on port with PIDs set to their holders
// among pids only.
func listenersOn(port int, pids []int) ([]Listener, error) {
	ls, err := readListeners(port)
	if err != nil {
		return nil, err
	}
	if pids == nil {
		pids = []int{} // nil would mean every process to resolveOwners
	}
	if err := resolveOwners(ls, pids); err != nil {
		return nil, err
	}
	sortListeners(ls)
	return ls, nil
}

// identify sets PIDs to every holder whose fd table this process can read.
func identify(ls []Listener) {
	for i := range ls {
		ls[i].PIDs = nil
	}
	_ = resolveOwners(ls, nil)
}
