#!/usr/bin/env python3
"""Reference country lookups with MaxMind's own Python reader, for the
lookup-agreement test of c2atlas's enrich stage.

Usage: mmdb_reference.py DB.mmdb [registered] < addresses > results
Reads one address per line on stdin; prints `ip<TAB>code` per line, code
empty when the database has no answer. The country is `country.iso_code`,
else the flat `country_code` of the ip-location-db builds (with the argument
`registered`: `registered_country.iso_code`, else a flat `country_code`).
Exit status 3 when the `maxminddb` package is missing.
"""
import sys

try:
    import maxminddb
except ImportError:
    print("maxminddb Python package is missing", file=sys.stderr)
    sys.exit(3)


def code(rec, registered):
    if not isinstance(rec, dict):
        return ""
    key = "registered_country" if registered else "country"
    if registered and "country" not in rec and "registered_country" not in rec:
        return rec.get("country_code") or ""
    sub = rec.get(key)
    if isinstance(sub, dict) and sub.get("iso_code"):
        return sub["iso_code"]
    if not registered:
        return rec.get("country_code") or ""
    return ""


def main():
    registered = len(sys.argv) > 2 and sys.argv[2] == "registered"
    reader = maxminddb.open_database(sys.argv[1], maxminddb.MODE_MEMORY)
    out = []
    for line in sys.stdin:
        ip = line.strip()
        if not ip:
            continue
        try:
            rec = reader.get(ip)
        except ValueError:
            rec = None
        out.append(f"{ip}\t{code(rec, registered)}\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
