"""The HTTP API's OpenAPI 3 document (served at ``GET /v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from . import __version__


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_CALLBACK = {
    "description": "The callback request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Callback"}}},
}
_AUTH_ERRORS = {
    "401": _error("No token, or an unknown or revoked one (invalid_token, unauthorized)"),
    "403": _error("The key may not use this queue (queue_forbidden)"),
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "freepbx-callback API",
        "version": __version__,
        "description": "Queue callback requests from web sites and CRMs. The same rules apply as to a "
        "caller pressing 1 in the queue: number validation, toll-fraud rules, one open request per "
        "number and queue, the queue's limit and hours. Errors are JSON with a stable code.",
    },
    "servers": [{"url": "http://127.0.0.1:8573"}],
    "security": [{"bearer": []}],
    "paths": {
        "/v1/callbacks": {
            "post": {
                "operationId": "createCallback",
                "summary": "Ask for a callback",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Repeating a request with the same key and body within 24 hours "
                        "returns the first answer (header Idempotent-Replayed: true).",
                        "schema": {"type": "string", "maxLength": 128},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewCallback"}}},
                },
                "responses": {
                    "201": {**_CALLBACK, "description": "Stored; the dialer is woken"},
                    "400": _error("Bad JSON or fields (invalid_json, missing_field, invalid_field, ...)"),
                    **_AUTH_ERRORS,
                    "409": _error(
                        "An open request for this number and queue exists (duplicate, with "
                        "request_id), or the Idempotency-Key is in use (idempotency_in_progress)"
                    ),
                    "413": _error("The body is too large (body_too_large)"),
                    "422": _error(
                        "Refused: invalid_number, number_refused (blocked, premium, emergency, "
                        "international, ...; see reason), queue_disabled, idempotency_key_reused"
                    ),
                    "429": _error("rate_limited (per key or per number) or queue_full; see Retry-After"),
                    "503": _error("database_unavailable, conflict_retry or busy; see Retry-After"),
                },
            }
        },
        "/v1/callbacks/{id}": {
            "get": {
                "operationId": "getCallback",
                "summary": "A callback request with its attempts and history",
                "parameters": [_ID],
                "responses": {"200": _CALLBACK, **_AUTH_ERRORS, "404": _error("No such request (not_found)")},
            },
            "delete": {
                "operationId": "cancelCallback",
                "summary": "Cancel a callback request; a call under way is hung up",
                "parameters": [_ID],
                "responses": {
                    "200": {**_CALLBACK, "description": "Cancelled (see call)"},
                    **_AUTH_ERRORS,
                    "404": _error("No such request (not_found)"),
                    "409": _error("The request is closed already (not_open)"),
                },
            },
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text format 0.0.4)",
                "description": "Requests by status and queue, attempts by outcome (database totals), "
                "dialer tick durations, AMI errors, the journal backlog, FastAGI calls and HTTP answers by "
                "code. No token unless serve runs with --metrics-token; then that token as a bearer token "
                "(not an API key).",
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "The metrics",
                        "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                    },
                    "401": {"description": "serve has a metrics token and it was not given"},
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `freepbx-callback apikey add NAME`",
            },
            "metricsToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "serve's --metrics-token ($QCB_METRICS_TOKEN), for GET /metrics only",
            },
        },
        "schemas": {
            "NewCallback": {
                "type": "object",
                "required": ["queue", "number"],
                "additionalProperties": False,
                "properties": {
                    "queue": {"type": "string", "example": "400"},
                    "number": {"type": "string", "example": "2015550123"},
                    "at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "Not before this time (ISO 8601; without an offset: the queue's "
                        "time zone); within the queue's callback hours",
                    },
                    "name": {"type": "string", "maxLength": 100},
                },
            },
            "Attempt": {
                "type": "object",
                "properties": {
                    "attempt_no": {"type": "integer"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "ended_at": {"type": "string", "format": "date-time", "nullable": True},
                    "outcome": {"type": "string", "nullable": True},
                    "agent": {"type": "string", "nullable": True},
                    "talk_seconds": {"type": "integer", "nullable": True},
                    "counted": {"type": "boolean"},
                },
            },
            "Callback": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "queue": {"type": "string"},
                    "number": {"type": "string"},
                    "e164": {"type": "string", "nullable": True},
                    "name": {"type": "string", "nullable": True},
                    "status": {
                        "type": "string",
                        "enum": ["pending", "dialing", "done", "failed", "expired", "cancelled"],
                    },
                    "attempts": {"type": "integer", "description": "Attempts that counted"},
                    "requested_at": {"type": "string", "format": "date-time"},
                    "next_attempt_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time", "nullable": True},
                    "last_outcome": {"type": "string", "nullable": True},
                    "attempt_log": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
                    "events": {"type": "array", "items": {"type": "object"}},
                    "call": {
                        "type": "string",
                        "nullable": True,
                        "description": "DELETE only: hung_up, ended, connected (left up), pending_hangup "
                        "(the dialer hangs it up at its next tick)",
                    },
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "reason": {"type": "string"},
                            "request_id": {"type": "integer"},
                            "field": {"type": "string"},
                        },
                    }
                },
            },
        },
    },
}
