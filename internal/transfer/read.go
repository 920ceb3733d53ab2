package transfer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Format is the kind of a file.
type Format string

// The formats Kopilka reads and writes.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case CSV, XLSX:
		return f, nil
	}
	return "", fmt.Errorf("format %q is not csv or xlsx", s)
}

// zipMagic starts every XLSX file (a ZIP archive).
var zipMagic = []byte("PK\x03\x04")

// sniff tells an XLSX file from a CSV one by its first bytes.
func sniff(head []byte) Format {
	if bytes.HasPrefix(head, zipMagic) {
		return XLSX
	}
	return CSV
}

// reader yields the records of a file.
type reader interface {
	// next returns the next record; io.EOF at the end. A *csv.ParseError
	// means the rest of the file cannot be read.
	next() (record, error)
	// offset is how many bytes of the file were read, -1 when unknown.
	offset() int64
	close() error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sniffSize is how much of a file decides its encoding and delimiter.
const sniffSize = 64 << 10

// Encodings a CSV file may be in.
const (
	encUTF8    = "utf-8"
	encUTF16LE = "utf-16le"
	encUTF16BE = "utf-16be"
	encCP1251  = "windows-1251"
)

// decode detects the encoding of a CSV file from its first bytes and
// returns a reader of its text as UTF-8: a UTF-8 byte-order mark, or UTF-8
// that is valid throughout the sample, is UTF-8; a UTF-16 mark is UTF-16
// (Excel's "Unicode text"); anything else is Windows-1251, what Excel in
// a Russian locale writes as "CSV (разделители — запятые)".
func decode(br *bufio.Reader) (io.Reader, string) {
	head, _ := br.Peek(sniffSize)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
		return br, encUTF8
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()), encUTF16LE
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()), encUTF16BE
	case validUTF8Prefix(head, len(head) == sniffSize):
		return br, encUTF8
	}
	return charmap.Windows1251.NewDecoder().Reader(br), encCP1251
}

// validUTF8Prefix reports whether b is valid UTF-8; when cut, a rune split
// at the end of b does not count against it.
func validUTF8Prefix(b []byte, cut bool) bool {
	if cut {
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}

// detectDelimiter picks the delimiter of the first line of text: the one
// of ",", ";" and tab that occurs most often outside quotes (ties: ","
// then ";"), "," when none does.
func detectDelimiter(text []byte) rune {
	counts := map[byte]int{}
	quoted := false
	for _, c := range text {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' || c == '\r' {
			break
		}
		counts[c]++
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// csvReader reads records of a CSV file.
type csvReader struct {
	f        *os.File
	count    *countingReader
	r        *csv.Reader
	encoding string
	comma    rune
}

// newCSVReader detects the encoding and delimiter of r and reads it.
func newCSVReader(r io.Reader) (*csvReader, error) {
	count := &countingReader{r: r}
	br := bufio.NewReaderSize(count, sniffSize)
	text, enc := decode(br)
	tb := bufio.NewReaderSize(text, sniffSize)
	sample, err := tb.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	cr := csv.NewReader(tb)
	cr.Comma = detectDelimiter(sample)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &csvReader{count: count, r: cr, encoding: enc, comma: cr.Comma}, nil
}

func (c *csvReader) next() (record, error) {
	fields, err := c.r.Read()
	if err != nil {
		return record{}, err
	}
	line, _ := c.r.FieldPos(0)
	return record{line: line, fields: fields}, nil
}

func (c *csvReader) offset() int64 { return c.count.n }

func (c *csvReader) close() error {
	if c.f != nil {
		return c.f.Close()
	}
	return nil
}

// xlsxReader reads the rows of a workbook's active sheet as a stream.
type xlsxReader struct {
	f    *excelize.File
	rows *excelize.Rows
	line int
}

func openXLSX(path string) (*xlsxReader, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("not a readable XLSX workbook: %w", err)
	}
	sheet := f.GetSheetName(f.GetActiveSheetIndex())
	if sheet == "" {
		if list := f.GetSheetList(); len(list) > 0 {
			sheet = list[0]
		}
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read sheet %q: %w", sheet, err)
	}
	return &xlsxReader{f: f, rows: rows}, nil
}

func (x *xlsxReader) next() (record, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return record{}, err
		}
		return record{}, io.EOF
	}
	x.line++
	cols, err := x.rows.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		return record{}, fmt.Errorf("row %d: %w", x.line, err)
	}
	return record{line: x.line, fields: cols}, nil
}

func (x *xlsxReader) offset() int64 { return -1 }

func (x *xlsxReader) close() error {
	return errors.Join(x.rows.Close(), x.f.Close())
}
