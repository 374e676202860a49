"""Tracking-URI helpers: credentials are redacted whole, plain paths get the SQLite hint."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lolpop.layout.uris import plain_path_hint, redact


@pytest.mark.parametrize(("text", "expected"), [
    # a password holding "@": urllib (and so requests) splits the userinfo at the LAST "@"
    ("http://alice:p@ssw0rd@host:5000/api", "http://***@host:5000/api"),
    ("postgresql+psycopg2://bob:a@b@c@db.local:5432/mlflow", "postgresql+psycopg2://***@db.local:5432/mlflow"),
    ("failed: API request to https://u:pw@@x@h/api/2.0 (retry)", "failed: API request to https://***@h/api/2.0 (retry)"),
    ("http://u:p@[::1]:5000/", "http://***@[::1]:5000/"),
    ("http://token@host", "http://***@host"),
    # every URI in a text on its own, also when nothing separates them
    ("a http://u:p@h and https://x:y@z/q", "a http://***@h and https://***@z/q"),
    ("['http://host','http://u:p@h2']", "['http://host','http://***@h2']"),
    # no userinfo: unchanged, even with "@" in the path or a local file path
    ("http://host/a@b", "http://host/a@b"),
    ("sqlite:////home/me@work/mlflow.db", "sqlite:////home/me@work/mlflow.db"),
    ("no uri here, mail me@example.com", "no uri here, mail me@example.com"),
])
def test_redact_hides_the_whole_userinfo(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("uri", ["http://alice:p@ssw0rd@host:5000", "https://a:%40b@c@h/x?y=1#z",
                                 "http://u:p@ss:w@[::1]:80/a"])
def test_redact_agrees_with_urlsplit(uri):
    parts = urlsplit(uri)
    redacted = redact(uri)
    assert parts.password not in redacted and parts.username not in redacted
    assert urlsplit(redacted).hostname == parts.hostname


@pytest.mark.parametrize(("uri", "expected"), [
    ("mlflow.db", "sqlite:///mlflow.db"),
    ("data/store.sqlite", "sqlite:///data/store.sqlite"),
    ("/abs/mlflow.db", "sqlite:////abs/mlflow.db"),
    ("./mlruns", "sqlite:///mlflow.db"),
    ("file:///tmp/mlruns", "sqlite:///mlflow.db"),
])
def test_a_plain_path_gets_the_sqlite_hint(uri, expected):
    hint = plain_path_hint(uri)
    assert hint is not None and expected in hint


@pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "sqlite://", "http://h:5000", "https://h",
                                 "postgresql+psycopg2://u@h/db", "databricks", "databricks-uc", "mlruns"])
def test_real_uris_get_no_hint(uri):
    assert plain_path_hint(uri) is None


def test_a_folder_is_left_to_mlflow_when_its_file_store_is_allowed():
    assert plain_path_hint("./mlruns", allow_file_store=True) is None
    assert plain_path_hint("mlflow.db", allow_file_store=True) is not None
