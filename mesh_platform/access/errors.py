"""The errors a consumer sees: each says who, what, and what to do about it."""

from __future__ import annotations


class AccessError(ValueError):
    """Bad input to the access layer (unknown user, product, request); the message says why."""


class UnknownRequest(AccessError):
    """No access request has this id (the HTTP API answers 404)."""


class AccessDenied(PermissionError):
    """The user may not do this (no grant, not the owner); the message says how to get access."""


class QueryRefused(ValueError):
    """A statement the read-only query interface does not run; the message names the kind."""
