package kopilka

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code (API-CORE "Conventions").
type Code string

// The error codes of the public contract.
const (
	CodeInvalidRequest       Code = "invalid_request"
	CodeUnauthorized         Code = "unauthorized"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not_found"
	CodeCustomerNotFound     Code = "customer_not_found"
	CodeNotEligible          Code = "not_eligible"
	CodeInsufficientPoints   Code = "insufficient_points"
	CodeRedeemLimitExceeded  Code = "redeem_limit_exceeded"
	CodeVerificationRequired Code = "verification_required"
	CodeVerificationFailed   Code = "verification_failed"
	CodeConflict             Code = "conflict"
	CodeLimitExceeded        Code = "limit_exceeded"
	CodeRefundExceeded       Code = "refund_exceeds_purchase"
	CodeNotEncodable         Code = "not_encodable" // the number cannot be drawn in the barcode type asked
	CodeTooLarge             Code = "payload_too_large"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"
)

// Error is an error a person can act on: a stable code, the field at fault
// (a JSON path such as "lines[2].quantity", empty when none), a message in
// English for logs and API clients, and the wrapped cause.
type Error struct {
	Code    Code
	Field   string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	s := string(e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an invalid_request error naming the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none (and "" for a nil error).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
