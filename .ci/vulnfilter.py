#!/usr/bin/env python3
"""Judge the JSON stream of `govulncheck -format json` for .ci/run.

In JSON mode govulncheck exits 0 whatever it finds, so this script decides:

  * a vulnerability whose vulnerable symbol our code calls (a "finding" whose
    first trace frame names a function) in a module we require fails the
    check: exit 3, as govulncheck's own text mode does;
  * the same in the Go standard library ("stdlib", or "toolchain") only needs
    a newer Go toolchain than the machine has: it is printed as a warning
    and does not fail (shared/govulndb/README.md);
  * vulnerable code that is required or imported but never called is listed
    for information only.

Usage: vulnfilter.py FILE     (or - for standard input)
       vulnfilter.py --self-test
"""

import json
import sys

STDLIB = {"stdlib", "toolchain"}


def messages(text):
    """Yields the JSON objects of a govulncheck stream (indented, back to back)."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return
        obj, i = dec.raw_decode(text, i)
        yield obj


def judge(text):
    """Returns (exit code, report lines) for a govulncheck JSON stream."""
    summaries = {}
    called = {}  # (osv, module) -> first frame and fixed version
    uncalled = set()
    for msg in messages(text):
        if "osv" in msg:
            entry = msg["osv"]
            summaries[entry.get("id", "")] = entry.get("summary") or entry.get("details", "").split("\n")[0]
        f = msg.get("finding")
        if not f:
            continue
        trace = f.get("trace") or [{}]
        top = trace[0]
        module = top.get("module", "")
        if top.get("function"):
            called.setdefault((f.get("osv", ""), module), (top, f.get("fixed_version", "")))
        else:
            uncalled.add((f.get("osv", ""), module))
    uncalled -= set(called)

    errors, warnings, infos = [], [], []
    for (osv, module), (top, fixed) in sorted(called.items()):
        symbol = top.get("package", "") + "." + (top.get("receiver", "") + "." if top.get("receiver") else "") + top["function"]
        where = module if module in STDLIB else f"{module}@{top.get('version', '?')}"
        line = f"{osv} in {where}: {symbol} is called; fixed in {fixed or 'no release yet'}: {summaries.get(osv, '')}"
        (warnings if module in STDLIB else errors).append(line)
    for osv, module in sorted(uncalled):
        infos.append(f"{osv} in {module}: vulnerable code is required or imported but not called")

    out = []
    for line in errors:
        out.append("ERROR   " + line)
    for line in warnings:
        out.append("WARNING " + line + " (standard library: needs a newer Go toolchain; not failing)")
    for line in infos:
        out.append("info    " + line)
    out.append(f"govulncheck: {len(errors)} called in our modules, {len(warnings)} called in the standard library, "
               f"{len(infos)} not called")
    return (3 if errors else 0), out


def _frame(module, function="", package="", version="v1.0.0"):
    fr = {"module": module, "version": version}
    if package:
        fr["package"] = package
    if function:
        fr["function"] = function
    return fr


def _stream(*findings):
    parts = [{"config": {"protocol_version": "v1.0.0", "scan_level": "symbol"}}]
    for osv, trace in findings:
        parts.append({"osv": {"id": osv, "summary": "test entry " + osv}})
        parts.append({"finding": {"osv": osv, "fixed_version": "v9.9.9", "trace": trace}})
    return "\n".join(json.dumps(p, indent=2) for p in parts)


def self_test():
    """Negative and positive controls: the judge must fail on a called
    third-party vulnerability and pass on the rest."""
    main = _frame("github.com/kopilka/kopilka", "main", "github.com/kopilka/kopilka/cmd/kopilka")
    cases = [
        ("nothing", _stream(), 0),
        ("stdlib called", _stream(("GO-1", [_frame("stdlib", "Get", "net/http", "v1.26.0"), main])), 0),
        ("toolchain called", _stream(("GO-2", [_frame("toolchain", "Run", "cmd/go", "v1.26.0"), main])), 0),
        ("module required only", _stream(("GO-3", [_frame("example.com/dep")])), 0),
        ("module imported only", _stream(("GO-4", [_frame("example.com/dep", package="example.com/dep/x")])), 0),
        ("module called", _stream(("GO-5", [_frame("example.com/dep", "Parse", "example.com/dep/x"), main])), 3),
        ("module called among stdlib", _stream(
            ("GO-6", [_frame("stdlib", "Get", "net/http", "v1.26.0"), main]),
            ("GO-7", [_frame("example.com/dep")]),
            ("GO-7", [_frame("example.com/dep", "Parse", "example.com/dep/x"), main])), 3),
    ]
    failed = 0
    for name, text, want in cases:
        got, report = judge(text)
        if got != want:
            failed += 1
            print(f"vulnfilter self-test {name!r}: judge = {got}, want {want}\n  " + "\n  ".join(report))
    # A stream that is not JSON must not pass silently.
    try:
        judge("{ not json")
        failed += 1
        print("vulnfilter self-test 'garbage': judge accepted a broken stream")
    except ValueError:
        pass
    print(f"vulnfilter self-test: {len(cases) + 1 - failed} of {len(cases) + 1} cases right")
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[1] == "-" else open(argv[1], encoding="utf-8").read()
    if not text.strip():
        print("govulncheck printed nothing", file=sys.stderr)
        return 1
    code, report = judge(text)
    print("\n".join(report))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
