package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The CRI log format, one line per write of a container (containerd
// splits long writes and marks all but the last piece partial):
//
//	<RFC3339Nano time> <stdout|stderr> <P|F>[:more tags] <message>
const (
	streamStdout = "stdout"
	streamStderr = "stderr"
	// timeFormatOut is how --timestamps prints times: fixed width, as
	// upstream's kubelet does.
	timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"
)

// logLine is one parsed line of a CRI log file.
type logLine struct {
	time    time.Time
	stream  string
	partial bool   // the message continues on the next line
	msg     []byte // without the line's newline
}

// parseLogLine parses one line of a CRI log file (with or without its
// newline).
func parseLogLine(b []byte) (logLine, error) {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return logLine{}, fmt.Errorf("invalid CRI log line %q: no timestamp", b)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return logLine{}, fmt.Errorf("invalid CRI log line: timestamp: %w", err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != streamStdout && string(stream) != streamStderr) {
		return logLine{}, fmt.Errorf("invalid CRI log line %q: stream must be stdout or stderr", b)
	}
	tags, msg, _ := bytes.Cut(rest, []byte{' '})
	first, _, _ := bytes.Cut(tags, []byte{':'})
	var partial bool
	switch string(first) {
	case "P":
		partial = true
	case "F":
	default:
		return logLine{}, fmt.Errorf("invalid CRI log line %q: unknown tag %q", b, first)
	}
	return logLine{time: t, stream: string(stream), partial: partial, msg: msg}, nil
}

// logOptions select and shape what a log request returns (upstream's
// PodLogOptions as the kubelet sees them).
type logOptions struct {
	since      time.Time // zero: from the start
	tail       int64     // < 0: every line
	limit      int64     // <= 0: no limit
	timestamps bool
	follow     bool
	previous   bool
	stream     string // "" (both), streamStdout or streamStderr
}

// queryBool reads a boolean query parameter as the API's parameter codec
// does: present and not false, f or 0 means true.
func queryBool(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return false
	}
	switch strings.ToLower(v[0]) {
	case "false", "f", "0":
		return false
	}
	return true
}

func queryInt(q url.Values, name string) (*int64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &n, nil
}

// parseLogOptions reads the containerLogs query (PodLogOptions fields;
// "tail" is the old name of tailLines, "all" meaning every line).
func parseLogOptions(q url.Values, now time.Time) (logOptions, error) {
	o := logOptions{
		tail: -1, timestamps: queryBool(q, "timestamps"), follow: queryBool(q, "follow"),
		previous: queryBool(q, "previous"),
	}
	if t := q.Get("tail"); t != "" && q.Get("tailLines") == "" {
		q = cloneValues(q)
		if t != "all" {
			q.Set("tailLines", t)
		}
	}
	tail, err := queryInt(q, "tailLines")
	if err != nil {
		return o, err
	}
	if tail != nil {
		if *tail < 0 {
			return o, errors.New("tailLines must be greater than or equal to 0")
		}
		o.tail = *tail
	}
	limit, err := queryInt(q, "limitBytes")
	if err != nil {
		return o, err
	}
	if limit != nil {
		if *limit < 1 {
			return o, errors.New("limitBytes must be greater than 0")
		}
		o.limit = *limit
	}
	sinceSeconds, err := queryInt(q, "sinceSeconds")
	if err != nil {
		return o, err
	}
	sinceTime := q.Get("sinceTime")
	switch {
	case sinceSeconds != nil && sinceTime != "":
		return o, errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	case sinceSeconds != nil:
		if *sinceSeconds < 1 {
			return o, errors.New("sinceSeconds must be greater than 0")
		}
		o.since = now.Add(-time.Duration(*sinceSeconds) * time.Second)
	case sinceTime != "":
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return o, fmt.Errorf("sinceTime: %w", err)
		}
		o.since = t
	}
	switch s := q.Get("stream"); s {
	case "", "All":
	case "Stdout":
		o.stream = streamStdout
	case "Stderr":
		o.stream = streamStderr
	default:
		return o, fmt.Errorf("stream: unsupported value %q", s)
	}
	return o, nil
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// errLimitReached stops a copy once limitBytes have been written.
var errLimitReached = errors.New("log limit reached")

// logWriter turns log lines into the bytes a client reads.
type logWriter struct {
	w         io.Writer
	opts      logOptions
	remaining int64
	// lineStart is true when the next message starts a line: only there
	// does --timestamps put a timestamp.
	lineStart map[string]bool
}

func newLogWriter(w io.Writer, opts logOptions) *logWriter {
	return &logWriter{w: w, opts: opts, remaining: opts.limit,
		lineStart: map[string]bool{streamStdout: true, streamStderr: true}}
}

// write writes one raw line of the file; lines that do not parse are
// skipped, as upstream's kubelet skips them.
func (lw *logWriter) write(raw []byte) error {
	l, err := parseLogLine(raw)
	if err != nil {
		return nil
	}
	if lw.opts.stream != "" && l.stream != lw.opts.stream {
		return nil
	}
	start := lw.lineStart[l.stream]
	lw.lineStart[l.stream] = !l.partial
	if l.time.Before(lw.opts.since) {
		return nil
	}
	out := make([]byte, 0, len(l.msg)+len(timeFormatOut)+2)
	if lw.opts.timestamps && start {
		out = append(l.time.AppendFormat(out, timeFormatOut), ' ')
	}
	out = append(out, l.msg...)
	if !l.partial {
		out = append(out, '\n')
	}
	if lw.opts.limit > 0 && int64(len(out)) >= lw.remaining {
		out = out[:lw.remaining]
		lw.remaining = 0
		if _, err := lw.w.Write(out); err != nil {
			return err
		}
		return errLimitReached
	}
	if lw.opts.limit > 0 {
		lw.remaining -= int64(len(out))
	}
	_, err = lw.w.Write(out)
	return err
}

// tailStart returns the offset of the first of the last n lines of f.
func tailStart(f *os.File, n int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if n == 0 {
		return size, nil
	}
	const chunk = 8192
	buf := make([]byte, chunk)
	var found int64
	for pos := size; pos > 0; {
		m := int64(chunk)
		if pos < m {
			m = pos
		}
		pos -= m
		if _, err := f.ReadAt(buf[:m], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := m - 1; i >= 0; i-- {
			// The newline ending the file ends the last line; it does not
			// start one.
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			if found++; found == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// followTiming paces following: how often to look for new lines and how
// often to ask whether the container still runs.
type followTiming struct {
	poll, stateCheck time.Duration
}

var defaultFollow = followTiming{poll: 100 * time.Millisecond, stateCheck: time.Second}

// copyLogs writes the lines of the CRI log file at path that opts select
// to w. flush is called whenever the reader has caught up with the file.
// With follow it keeps reading what the container appends until ctx ends
// or running reports that the container stopped (then what is left is
// read and the copy ends, as upstream's kubelet ends a followed log when
// its container exits).
func copyLogs(ctx context.Context, path string, opts logOptions, w io.Writer, flush func(), running func() bool, timing followTiming) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open log file %q: %w", path, err)
	}
	defer f.Close()
	if opts.tail >= 0 {
		start, err := tailStart(f, opts.tail)
		if err != nil {
			return fmt.Errorf("failed to tail %d lines of log file %q: %w", opts.tail, path, err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	lw := newLogWriter(bw, opts)
	done := func() {
		bw.Flush()
		flush()
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte
	lastCheck := time.Now()
	final := false
	for {
		line, err := r.ReadBytes('\n')
		if len(pending) > 0 {
			line, pending = append(pending, line...), nil
		}
		if err == nil {
			if err := lw.write(line); err != nil {
				done()
				if errors.Is(err, errLimitReached) {
					return nil
				}
				return err
			}
			continue
		}
		if err != io.EOF {
			done()
			return fmt.Errorf("read log file %q: %w", path, err)
		}
		if !opts.follow || final {
			if len(line) > 0 {
				lw.write(line) // a last line still being written
			}
			done()
			return nil
		}
		// Caught up: hand out what we have, wait for more.
		pending = append(pending[:0:0], line...)
		if err := bw.Flush(); err != nil {
			return err
		}
		flush()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(timing.poll):
		}
		if time.Since(lastCheck) >= timing.stateCheck {
			lastCheck = time.Now()
			final = !running()
		}
	}
}
