"""Shopify's own Admin GraphQL schemas, one introspection file per API version (README.md here says where they
come from and how to refresh them).

The Shopify stand-in validates every request against one of these, so a document Shopify would refuse is refused
in tests too; tests/carts/test_shopify_documents.py validates every document cartbridge can send.
"""
from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema

SCHEMA_DIR = Path(__file__).resolve().parent
_FILE = re.compile(r"admin_(\d{4}-\d{2}|unstable)\.json\.gz")


def schema_path(version: str) -> Path:
    """Where the Admin schema of `version` lives (it may not exist: see `vendored_versions`)."""
    return SCHEMA_DIR / f"admin_{version}.json.gz"


def vendored_versions() -> list[str]:
    """The API versions whose schema is in the repo, oldest first ("unstable" last)."""
    return sorted(m.group(1) for p in SCHEMA_DIR.iterdir() if (m := _FILE.fullmatch(p.name)))


def nearest_version(version: str) -> str:
    """The vendored schema a request to `version` is checked against: its own if vendored, else the newest.

    Only the version cartbridge calls is vendored (0.9 MB each); the stand-in still answers other versions in
    URLs (tests use them for behaviour that changed between versions) with that schema.
    """
    return version if schema_path(version).exists() else newest_version()


def newest_version() -> str:
    versions = vendored_versions()
    if not versions:
        raise FileNotFoundError(f"no admin_<version>.json.gz in {SCHEMA_DIR}: see README.md there")
    return versions[-1]


@functools.cache
def admin_schema(version: str) -> GraphQLSchema:
    """The Admin API schema of a vendored `version` (built once per process: ~0.7 s)."""
    with gzip.open(schema_path(version), "rt", encoding="utf-8") as stream:
        introspection = json.load(stream)
    return build_client_schema(introspection["data"])
