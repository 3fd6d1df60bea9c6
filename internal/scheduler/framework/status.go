package framework

import (
	"errors"
	"strings"
)

// Code says how a plugin judged a pod.
type Code int

const (
	// Success: the plugin has no objection.
	Success Code = iota
	// Error: something went wrong inside the plugin; the pod is retried.
	Error
	// Unschedulable: the node does not fit now, but evicting lower-priority
	// pods (preemption) might change that.
	Unschedulable
	// UnschedulableAndUnresolvable: the node does not fit and preemption
	// cannot help (a taint, a selector, a node too small even when empty).
	UnschedulableAndUnresolvable
)

func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Error:
		return "Error"
	case Unschedulable:
		return "Unschedulable"
	case UnschedulableAndUnresolvable:
		return "UnschedulableAndUnresolvable"
	}
	return "Unknown"
}

// Status is a plugin's verdict. A nil *Status means Success.
type Status struct {
	code    Code
	reasons []string
	plugin  string
	err     error
}

// NewStatus returns a status with the given code and user-facing reasons
// (each reason is counted separately in the "0/N nodes are available"
// summary).
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps an internal error.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code returns the status code; nil is Success.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether the plugin accepted.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsRejected reports whether the node was found unfit (as opposed to an
// internal error).
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons are the user-facing reasons.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// Plugin is the name of the plugin that produced the status.
func (s *Status) Plugin() string {
	if s == nil {
		return ""
	}
	return s.plugin
}

// WithPlugin records which plugin produced the status.
func (s *Status) WithPlugin(name string) *Status {
	if s != nil {
		s.plugin = name
	}
	return s
}

// AsError turns a non-success status into an error.
func (s *Status) AsError() error {
	if s.IsSuccess() {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}
