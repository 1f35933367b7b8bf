#!/usr/bin/env python3
"""Reference side of the schema agreement test (schema_agreement_test.cpp).

Usage: schema_check.py SCHEMA.json CASES.json

Checks SCHEMA.json against the draft 2020-12 meta-schema, then validates the "doc" of every case of CASES.json
(cases with "raw"/"raw_hex" are C++-only and skipped) with jsonschema's Draft202012Validator, and prints one
JSON object: {"jsonschema": version, "results": [{"name", "valid", "errors": [...]}]}. Exit 0 unless the
schema itself is invalid or a file cannot be read.
"""
import json
import sys
from importlib import metadata

from jsonschema import Draft202012Validator


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema_path, cases_path = sys.argv[1], sys.argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)  # raises SchemaError: non-zero exit with the reason
    validator = Draft202012Validator(schema)  # formats are annotations only, as in draft 2020-12
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for case in cases:
        if "doc" not in case:
            continue
        errors = sorted(validator.iter_errors(case["doc"]), key=lambda e: str(list(e.absolute_path)))
        results.append({
            "name": case["name"],
            "valid": not errors,
            "errors": ["/".join(str(p) for p in e.absolute_path) + ": " + e.message[:200] for e in errors[:5]],
        })
    print(json.dumps({"jsonschema": metadata.version("jsonschema"), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
