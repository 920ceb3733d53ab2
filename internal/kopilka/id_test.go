package kopilka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id := kopilka.NewID("cus")
		if !strings.HasPrefix(id, "cus_") || len(id) != len("cus_")+16 {
			t.Fatalf("NewID(%q) = %q, want \"cus_\" and 16 characters", "cus", id)
		}
		if !kopilka.ValidID("cus", id) {
			t.Fatalf("ValidID(%q, %q) = false, want true", "cus", id)
		}
		if seen[id] {
			t.Fatalf("NewID(%q) = %q twice in 1000 calls", "cus", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	good := kopilka.NewID("op")
	rest := strings.TrimPrefix(good, "op_")
	tests := []struct {
		name   string
		prefix string
		in     string
		want   bool
	}{
		{name: "Fresh", prefix: "op", in: good, want: true},
		{name: "AllDigits", prefix: "op", in: "op_0123456789012345", want: true},
		{name: "OtherPrefix", prefix: "cus", in: good},
		{name: "PrefixOnly", prefix: "op", in: "op_"},
		{name: "NoUnderscore", prefix: "op", in: "op" + rest},
		{name: "Empty", prefix: "op", in: ""},
		{name: "TooShort", prefix: "op", in: good[:len(good)-1]},
		{name: "TooLong", prefix: "op", in: good + "0"},
		{name: "WholeAlphabet", prefix: "op", in: "op_abcdefghjkmnpqrs", want: true},
		{name: "UpperCase", prefix: "op", in: "op_ABCDEFGHJKMNPQRS"},
		{name: "ExcludedLetterI", prefix: "op", in: "op_iiiiiiiiiiiiiiii"},
		{name: "ExcludedLetterL", prefix: "op", in: "op_llllllllllllllll"},
		{name: "ExcludedLetterO", prefix: "op", in: "op_oooooooooooooooo"},
		{name: "ExcludedLetterU", prefix: "op", in: "op_uuuuuuuuuuuuuuuu"},
		{name: "Cyrillic", prefix: "op", in: "op_ааааааааааааааа"},
		{name: "PathTraversal", prefix: "op", in: "op_../../../etc/pa"},
	}
	for _, tt := range tests {
		if got := kopilka.ValidID(tt.prefix, tt.in); got != tt.want {
			t.Errorf("%s: ValidID(%q, %q) = %v, want %v", tt.name, tt.prefix, tt.in, got, tt.want)
		}
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	invalid := kopilka.Invalid("phone", "bad %s", "phone")
	tests := []struct {
		name string
		err  error
		want kopilka.Code
	}{
		{name: "Nil", err: nil, want: ""},
		{name: "Plain", err: errors.New("boom"), want: kopilka.CodeInternal},
		{name: "Direct", err: invalid, want: kopilka.CodeInvalidRequest},
		{name: "Wrapped", err: fmt.Errorf("create customer: %w", invalid), want: kopilka.CodeInvalidRequest},
		{name: "WrapsCause", err: &kopilka.Error{Code: kopilka.CodeConflict, Err: context.Canceled}, want: kopilka.CodeConflict},
	}
	for _, tt := range tests {
		if got := kopilka.ErrorCode(tt.err); got != tt.want {
			t.Errorf("%s: ErrorCode(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
	if e := kopilka.AsError(fmt.Errorf("x: %w", invalid)); e == nil || e.Field != "phone" {
		t.Errorf("AsError(wrapped invalid) = %+v, want the *Error with field phone", e)
	}
	if !errors.Is(&kopilka.Error{Code: kopilka.CodeConflict, Err: context.Canceled}, context.Canceled) {
		t.Errorf("errors.Is(Error{Err: context.Canceled}, context.Canceled) = false, want true")
	}
}

func TestActor(t *testing.T) {
	t.Parallel()
	if got := kopilka.ActorFrom(context.Background()); got.Name != "system" {
		t.Errorf("ActorFrom(empty context).Name = %q, want %q", got.Name, "system")
	}
	ctx := kopilka.WithActor(context.Background(), kopilka.Actor{Name: "key_x", Scopes: []kopilka.Scope{kopilka.ScopePOS}})
	if got := kopilka.ActorFrom(ctx); got.Name != "key_x" {
		t.Errorf("ActorFrom(WithActor(key_x)).Name = %q, want %q", got.Name, "key_x")
	}
	pos := kopilka.APIKey{Scopes: []kopilka.Scope{kopilka.ScopePOS}}
	admin := kopilka.APIKey{Scopes: []kopilka.Scope{kopilka.ScopeAdmin}}
	for _, tt := range []struct {
		key   kopilka.APIKey
		scope kopilka.Scope
		want  bool
	}{
		{pos, kopilka.ScopePOS, true},
		{pos, kopilka.ScopeAdmin, false},
		{admin, kopilka.ScopePOS, true},
		{admin, kopilka.ScopeAdmin, true},
		{kopilka.APIKey{}, kopilka.ScopePOS, false},
	} {
		if got := tt.key.HasScope(tt.scope); got != tt.want {
			t.Errorf("APIKey{Scopes: %v}.HasScope(%q) = %v, want %v", tt.key.Scopes, tt.scope, got, tt.want)
		}
		if got := (kopilka.Actor{Scopes: tt.key.Scopes}).HasScope(tt.scope); got != tt.want {
			t.Errorf("Actor{Scopes: %v}.HasScope(%q) = %v, want %v", tt.key.Scopes, tt.scope, got, tt.want)
		}
	}
}
