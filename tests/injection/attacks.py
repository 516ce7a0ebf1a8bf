"""Prints a public attack corpus as JSON lines {"kind": ..., "text": ...}, made at test time
from two packages installed from PyPI into the peers' venv (nothing of theirs is committed):

- sql: sqlmap's payload templates (data/xml/payloads/*.xml), each with the prefixes and
  suffixes of its level-1 boundaries (data/xml/boundaries.xml), placeholders filled in;
- script: XSStrike's WAF-evasion payloads (core/config.py; its `fuzzes` are probes such as
  `<test x=y>`, harmless tags, so they are left out).
"""
import importlib.util
import json
import os
import re
import xml.etree.ElementTree as ET


def package_dir(name):
    spec = importlib.util.find_spec(name)
    return os.path.dirname(spec.origin)


FILL = {
    "[RANDNUM]": "4821", "[RANDNUM1]": "7306", "[RANDNUM2]": "1187", "[RANDNUM3]": "9925",
    "[RANDNUM4]": "3350", "[RANDNUM5]": "6612", "[RANDSTR]": "qXzv", "[RANDSTR1]": "kLpm",
    "[RANDSTR2]": "wTrh", "[ORIGVALUE]": "1", "[ORIGINAL]": "1", "[INFERENCE]": "7306=7306",
    "[SLEEPTIME]": "5", "[DELIMITER_START]": "qkvjq", "[DELIMITER_STOP]": "qzbxq",
    "[GENERIC_SQL_COMMENT]": "-- -", "[QUERY]": "SELECT password FROM users",
    "[CHAR]": "NULL", "[UNION]": "UNION ALL SELECT NULL", "[SPACE]": " ", "[COLSTART]": "1",
    "[COLSTOP]": "3", "[ORDER]": "ORDER BY 1", "[DBMS_TABLE]": "users", "[TABLE]": "users",
    "[COLUMN]": "password", "[RANDNUMDIV]": "2",
}


def fill(text):
    for key, value in FILL.items():
        text = text.replace(key, value)
    return text if "[" not in re.sub(r"\[\d+\]", "", text) else None


def numbers(text):
    return {n.strip() for n in (text or "").split(",") if n.strip()}


def fits(test, boundary):
    """sqlmap's own pairing: the clauses and the places (where) of both must meet."""
    clauses = numbers(test.findtext("clause"))
    theirs = numbers(boundary.findtext("clause"))
    clause_ok = "0" in clauses or "0" in theirs or clauses & theirs
    places = numbers(test.findtext("where")) & numbers(boundary.findtext("where"))
    return sorted(places) if clause_ok else []


def sql():
    root = os.path.join(package_dir("sqlmap"), "data", "xml")
    boundaries = [
        b
        for b in ET.parse(os.path.join(root, "boundaries.xml")).getroot().iter("boundary")
        if b.findtext("level", "").strip() == "1"
    ]
    out = set()
    for name in sorted(os.listdir(os.path.join(root, "payloads"))):
        for test in ET.parse(os.path.join(root, "payloads", name)).getroot().iter("test"):
            payload = test.findtext("request/payload")
            if not payload:
                continue
            for boundary in boundaries:
                places = fits(test, boundary)
                if not places:
                    continue
                prefix = boundary.findtext("prefix") or ""
                suffix = boundary.findtext("suffix") or ""
                for where in places:
                    # 1: after the original value; 2: after a negative one; 3: instead of it.
                    value = {"1": "1", "2": "-4821", "3": ""}.get(where, "1")
                    space = " " if value else ""
                    text = fill(value + prefix + space + payload + suffix)
                    if text:
                        out.add(text.strip())
    return sorted(out)


def script():
    path = os.path.join(package_dir("xsstrike"), "core", "config.py")
    source = open(path, encoding="utf-8").read()
    found = []
    for name in ("payloads",):
        match = re.search(name + r" = \((.*?)\)\n", source, re.S)
        found.extend(eval("(" + match.group(1) + ")"))  # a tuple of string literals
    return sorted(set(found))


for kind, texts in (("sql", sql()), ("script", script())):
    for text in texts:
        print(json.dumps({"kind": kind, "text": text}))
