"""Tests of filterviz.storage: log directories on object stores, against a real S3 API server."""
