package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kopilka/kopilka/internal/barcode"
)

// runCard is `kopilka card barcode NUMBER`: the image GET
// /v1/cards/{number}/barcode serves, for printing shops.
func runCard(ctx context.Context, env Env, args []string) error {
	const use = "usage: kopilka card barcode NUMBER [--type ean13|code128|qr] [--format svg|png] [--scale N] [--out FILE] [--tenant ID] [--db …]"
	if len(args) == 0 || args[0] != "barcode" {
		return usagef(use)
	}
	var tenant, typ, format, out string
	var scale int
	c, numbers, err := parseArgs(env, "card barcode", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id (needed when the database holds several)")
		fs.StringVar(&typ, "type", "", "ean13, code128 or qr (default: ean13 for a valid EAN-13 number, else code128)")
		fs.StringVar(&format, "format", "", "svg or png (default: png when --out ends in .png, else svg)")
		fs.Func("scale", fmt.Sprintf("pixels a module, %d to %d (default 3, or 8 for qr)", barcode.MinScale, barcode.MaxScale), func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < barcode.MinScale || n > barcode.MaxScale {
				return fmt.Errorf("must be a whole number from %d to %d", barcode.MinScale, barcode.MaxScale)
			}
			scale = n
			return nil
		})
		fs.StringVar(&out, "out", "", "write to this file (default: standard output)")
	})
	if err != nil {
		return err
	}
	if len(numbers) != 1 {
		return usagef("card barcode: name one card NUMBER\n%s", use)
	}
	q, err := barcodeOptions(typ, format, out, scale)
	if err != nil {
		return usagef("card barcode: %v", err)
	}
	db, svc, err := open(ctx, c, c.Logger(env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	tenantID, err := pickTenant(ctx, svc, tenant)
	if err != nil {
		return err
	}
	k, err := svc.GetCard(ctx, tenantID, numbers[0])
	if err != nil {
		return fmt.Errorf("card barcode %s: %w", numbers[0], err)
	}
	if q.typ == "" {
		q.typ = barcode.DefaultType(k.Number)
	}
	if q.scale == 0 {
		q.scale = barcode.DefaultScale(q.typ)
	}
	sym, err := barcode.Encode(q.typ, k.Number)
	if err != nil {
		return fmt.Errorf("card barcode %s: %w", k.Number, err)
	}
	img, err := sym.Render(q.format, q.scale)
	if err != nil {
		return fmt.Errorf("card barcode %s: %w", k.Number, err)
	}
	if out == "" {
		_, err = env.Stdout.Write(img)
		return err
	}
	if err := os.WriteFile(out, img, 0o644); err != nil {
		return fmt.Errorf("card barcode: %w", err)
	}
	w, h := sym.Size()
	fmt.Fprintf(env.Stderr, "card %s: %s %s, %d×%d pixels, written to %s\n", k.Number, q.typ, q.format, w*q.scale, h*q.scale, out)
	return nil
}

type barcodeOpts struct {
	typ    barcode.Type
	format barcode.Format
	scale  int
}

// barcodeOptions checks the flags (--scale checks itself; 0 is the
// type's default); the format follows --out's extension when --format is
// not given.
func barcodeOptions(typ, format, out string, scale int) (barcodeOpts, error) {
	var o barcodeOpts
	var err error
	if o.typ, err = barcode.ParseType(typ); err != nil {
		return o, fmt.Errorf("--type must be ean13, code128 or qr")
	}
	if format == "" && strings.EqualFold(filepath.Ext(out), ".png") {
		format = string(barcode.PNG)
	}
	if o.format, err = barcode.ParseFormat(format); err != nil {
		return o, fmt.Errorf("--format must be svg or png")
	}
	o.scale = scale
	return o, nil
}
