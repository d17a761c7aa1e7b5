"""Prints the YAML documents of the files named on the command line as one JSON object,
{"<path>": [<document>, ...], ...}, for tests/ship.rs. PyYAML's safe loader: plain data only,
merge keys (<<: *anchor) resolved, empty documents dropped."""

import json
import sys

import yaml

out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        out[path] = [doc for doc in yaml.safe_load_all(f) if doc is not None]
json.dump(out, sys.stdout)
