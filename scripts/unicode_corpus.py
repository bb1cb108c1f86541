#!/usr/bin/env python3
"""A crafted Unicode corpus against a running kefu: every phone, ID-number
and text field of intake, the list filters and the path segments get the
characters that broke parsers before (full-width digits, zero-width and
bidirectional marks, NUL and other controls, combining marks, astral
characters, lone surrogates' replacement, long strings). Each answer must
be a response (no dropped connection), below 500, in JSON, and a refusal
must name its field. Prints 'N passed, N failed' and exits non-zero on any
failure.

usage: unicode_corpus.py BASE_URL TOKEN
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, TOKEN = sys.argv[1].rstrip("/"), sys.argv[2]

CORPUS = [
    "１３８１２３４５６７８",  # full-width digits: folded, accepted as a phone
    "138\u200b12345678",
    "\u200b\u202e",
    "\u202e13812345678",
    "138\u000012345678",
    "13812345678\u0000",
    "\u0007\u001b[31m",
    "+86\u3000138\u30001234\u30005678",
    "１１０１０５１９４９１２３１００２Ｘ",
    "11010519491231002X\u200d",
    "e\u0301\u0301\u0301",
    "😀👨‍👩‍👧𝟙\U0010ffff",
    "\ufffd\ufeff",
    "\u2028\u2029",
    "宽" * 300,
    "'; DROP TABLE tickets; --",
    "<script>alert(1)</script>",
    "%00%FF",
    "",
    " ",
]

FIELDS = [
    ("customer", "phone"),
    ("customer", "id_number"),
    ("customer", "name"),
    ("customer", "address"),
    ("customer", "level"),
    ("title",),
    ("description",),
    ("location",),
    ("service_number",),
    ("submitted_by",),
    ("occurred_at",),
]

passed, failed = 0, 0


def body():
    return {
        "channel": "phone",
        "type": "fault",
        "title": "宽带无法上网",
        "description": "光猫LOS灯红色闪烁",
        "customer": {"name": "张三", "phone": "13812345678"},
    }


def send(method, path, payload=None, raw=None):
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def check(what, status, ctype, text, field=None):
    global passed, failed
    problems = []
    if status >= 500:
        problems.append(f"status {status}")
    if not ctype.startswith("application/json"):
        problems.append(f"content type {ctype!r}")
    else:
        doc = json.loads(text)
        if status >= 400:
            err = doc.get("error", {})
            if not err.get("code") or not err.get("message_zh"):
                problems.append("no JSON error body")
            if field and status == 422 and not err.get("field"):
                problems.append("the refusal names no field")
    if problems:
        failed += 1
        print(f"FAIL {what}: {', '.join(problems)}: {text[:300]!r}")
    else:
        passed += 1


for value in CORPUS:
    for path in FIELDS:
        b = body()
        target = b
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        try:
            s, ct, text = send("POST", "/api/v1/tickets", b)
        except Exception as e:  # a dropped connection is a failure
            failed += 1
            print(f"FAIL intake {path}={value!r}: {e}")
            continue
        check(f"intake {'.'.join(path)}={value!r}", s, ct, text, field=True)
    quoted = urllib.parse.quote(value, safe="")
    for q in ["customer_phone", "number", "q", "status", "assignee", "team", "created_from"]:
        try:
            s, ct, text = send("GET", f"/api/v1/tickets?{q}={quoted}")
        except Exception as e:
            failed += 1
            print(f"FAIL filter {q}={value!r}: {e}")
            continue
        check(f"filter {q}={value!r}", s, ct, text)
    for path in [f"/api/v1/tickets/{quoted}", f"/api/v1/tickets/{quoted}/events", f"/api/v1/customers?phone={quoted}"]:
        try:
            s, ct, text = send("GET", path)
        except Exception as e:
            failed += 1
            print(f"FAIL {path}: {e}")
            continue
        check(path, s, ct, text)

# Bytes that are not UTF-8, and duplicate keys.
for raw in [b'{"channel": "\xff\xfe"}', b'{"title": "a", "title": "b"}', b"\xef\xbb\xbf{}", b"[1,2]", b"null"]:
    s, ct, text = send("POST", "/api/v1/tickets", raw=raw)
    check(f"raw body {raw!r}", s, ct, text)

print(f"unicode corpus: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
