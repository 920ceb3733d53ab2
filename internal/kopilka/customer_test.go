package kopilka_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func TestValidateCustomer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        kopilka.Customer
		want      kopilka.Customer // when valid: the customer after normalisation
		wantField string           // "" means valid
	}{
		{name: "Empty", in: kopilka.Customer{}, want: kopilka.Customer{Kind: kopilka.Individual}},
		{name: "LegalEntity", in: kopilka.Customer{Kind: kopilka.LegalEntity}, want: kopilka.Customer{Kind: kopilka.LegalEntity}},
		{name: "UnknownKind", in: kopilka.Customer{Kind: "company"}, wantField: "kind"},
		{
			name: "Normalised",
			in: kopilka.Customer{Phone: "8 (912) 345-67-89", ExtraPhone: "+44 20 7946 0958", Email: " ivan@example.ru ",
				FirstName: "  Иван ", LastName: "Петров", MiddleName: " Сергеевич", Group: " staff ",
				BirthDate: "1990-05-17", Gender: "male", Tags: []string{" vip ", "опт"}},
			want: kopilka.Customer{Kind: kopilka.Individual, Phone: "+79123456789", ExtraPhone: "+442079460958",
				Email: "ivan@example.ru", FirstName: "Иван", LastName: "Петров", MiddleName: "Сергеевич", Group: "staff",
				BirthDate: "1990-05-17", Gender: "male", Tags: []string{"vip", "опт"}},
		},
		{name: "LeapDay", in: kopilka.Customer{BirthDate: "2000-02-29", Gender: "female"},
			want: kopilka.Customer{Kind: kopilka.Individual, BirthDate: "2000-02-29", Gender: "female"}},
		{name: "BadPhone", in: kopilka.Customer{Phone: "12345"}, wantField: "phone"},
		{name: "BadExtraPhone", in: kopilka.Customer{ExtraPhone: "+70123456789"}, wantField: "extra_phone"},
		{name: "EmailWithoutAt", in: kopilka.Customer{Email: "ivan.example.ru"}, wantField: "email"},
		{name: "EmailWithName", in: kopilka.Customer{Email: "Иван <ivan@example.ru>"}, wantField: "email"},
		{name: "EmailInBrackets", in: kopilka.Customer{Email: "<ivan@example.ru>"}, wantField: "email"},
		{name: "TwoEmails", in: kopilka.Customer{Email: "a@example.ru, b@example.ru"}, wantField: "email"},
		{name: "FirstNameTooLong", in: kopilka.Customer{FirstName: strings.Repeat("я", 201)}, wantField: "first_name"},
		{name: "LastNameInvalidUTF8", in: kopilka.Customer{LastName: "Пет\xffров"}, wantField: "last_name"},
		{name: "MiddleNameTooLong", in: kopilka.Customer{MiddleName: strings.Repeat("a", 201)}, wantField: "middle_name"},
		{name: "GroupTooLong", in: kopilka.Customer{Group: strings.Repeat("a", 201)}, wantField: "group"},
		{name: "BirthDateNotADate", in: kopilka.Customer{BirthDate: "17.05.1990"}, wantField: "birth_date"},
		{name: "BirthDateNoPadding", in: kopilka.Customer{BirthDate: "1990-5-17"}, wantField: "birth_date"},
		{name: "BirthDateImpossible", in: kopilka.Customer{BirthDate: "1990-02-30"}, wantField: "birth_date"},
		{name: "BirthDateTooOld", in: kopilka.Customer{BirthDate: "1899-12-31"}, wantField: "birth_date"},
		{name: "GenderOther", in: kopilka.Customer{Gender: "m"}, wantField: "gender"},
		{name: "GenderCase", in: kopilka.Customer{Gender: "Male"}, wantField: "gender"},
		{name: "TooManyTags", in: kopilka.Customer{Tags: make51Tags()}, wantField: "tags"},
		{name: "EmptyTag", in: kopilka.Customer{Tags: []string{"vip", "  "}}, wantField: "tags"},
		{name: "TagTooLong", in: kopilka.Customer{Tags: []string{strings.Repeat("т", 65)}}, wantField: "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.in
			err := kopilka.ValidateCustomer(&got)
			if tt.wantField != "" {
				e := kopilka.AsError(err)
				if e == nil || e.Code != kopilka.CodeInvalidRequest || e.Field != tt.wantField {
					t.Fatalf("ValidateCustomer(%+v) = %v, want invalid_request on field %q", tt.in, err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateCustomer(%+v) = %v, want nil", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateCustomer(%+v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func make51Tags() []string {
	tags := make([]string, 51)
	for i := range tags {
		tags[i] = "t"
	}
	return tags
}

func TestValidateCardNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		valid bool
	}{
		{"2000001234567", true},
		{"ABC-123/x", true},
		{strings.Repeat("9", 64), true},
		{"", false},
		{strings.Repeat("9", 65), false},
		{"2000 0012", false},
		{"карта1", false},
		{"12\t34", false},
	}
	for _, tt := range tests {
		err := kopilka.ValidateCardNumber(tt.in)
		if tt.valid != (err == nil) {
			t.Errorf("ValidateCardNumber(%q) = %v, want valid %v", tt.in, err, tt.valid)
		}
		if err != nil && kopilka.ErrorCode(err) != kopilka.CodeInvalidRequest {
			t.Errorf("ValidateCardNumber(%q) code = %q, want invalid_request", tt.in, kopilka.ErrorCode(err))
		}
	}
}

// TestValidateCustomerTextOld checks that a customer stored before the
// text rules stays editable: only values it did not have are checked.
func TestValidateCustomerTextOld(t *testing.T) {
	t.Parallel()
	old := kopilka.Customer{FirstName: "a\u0001b", Tags: []string{"vip, gold"}}
	c := old
	c.Tags = append([]string{"новый"}, old.Tags...)
	c.Phone = "+79120000001"
	if err := kopilka.ValidateCustomerText(&old, &c); err != nil {
		t.Errorf("ValidateCustomerText(old values kept) = %v, want nil", err)
	}
	c.LastName = "x\ny"
	if e := kopilka.AsError(kopilka.ValidateCustomerText(&old, &c)); e == nil || e.Field != "last_name" {
		t.Errorf("ValidateCustomerText(a new last name with a line break) = %v, want an error on last_name", e)
	}
	c.LastName, c.Tags = "", append(c.Tags, "a;b")
	if e := kopilka.AsError(kopilka.ValidateCustomerText(&old, &c)); e == nil || e.Field != "tags" {
		t.Errorf("ValidateCustomerText(a new tag with a semicolon) = %v, want an error on tags", e)
	}
}

// TestValidateCustomerText checks that the API takes only text an import
// file can carry back (an export → import round trip gives the same
// customer): no control characters in names and tags, and no tag
// separators in a tag.
func TestValidateCustomerText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		c     kopilka.Customer
		field string // "" when valid
	}{
		{"plain", kopilka.Customer{FirstName: "Анна", LastName: "Иванова-Петрова", Tags: []string{"vip", "кофе и чай"}}, ""},
		{"a tab inside", kopilka.Customer{FirstName: "Анна\tМария"}, ""},
		{"a control character", kopilka.Customer{FirstName: "a\u0001b"}, "first_name"},
		{"a line break", kopilka.Customer{LastName: "Ива\nнова"}, "last_name"},
		{"a NUL", kopilka.Customer{MiddleName: "x\u0000"}, "middle_name"},
		{"DEL", kopilka.Customer{Group: "g\u007f"}, "group"},
		{"NEL", kopilka.Customer{FirstName: "a\u0085b"}, "first_name"},
		{"a tag with a line break", kopilka.Customer{Tags: []string{"t\nx"}}, "tags"},
		{"a tag with a comma", kopilka.Customer{Tags: []string{"кофе, чай"}}, "tags"},
		{"a tag with a semicolon", kopilka.Customer{Tags: []string{"a;b"}}, "tags"},
		{"a tag not UTF-8", kopilka.Customer{Tags: []string{"\xff"}}, "tags"},
	}
	for _, tc := range tests {
		c := tc.c
		err := kopilka.ValidateCustomer(&c)
		if err == nil {
			err = kopilka.ValidateCustomerText(nil, &c)
		}
		var field string
		if e := kopilka.AsError(err); e != nil {
			field = e.Field
		} else if err != nil {
			t.Fatalf("%s: ValidateCustomer = %v, want a kopilka.Error", tc.name, err)
		}
		if field != tc.field || (tc.field == "") != (err == nil) {
			t.Errorf("%s: ValidateCustomer = %v, want an error on %q", tc.name, err, tc.field)
		}
	}
}
