"""The OpenAPI 3.1 document of ``/api/v1``; request bodies reuse the processes' JSON Schemas."""

from __future__ import annotations

import json

from engine.workflow.deployment import default_processes_dir


def document() -> dict:
    start = json.loads(
        (default_processes_dir() / "forms" / "share_request_start.schema.json").read_text("utf-8")
    )
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "govshare API",
            "version": "1",
            "description": "政务数据共享流程引擎 JSON API",
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ShareRequest": start,
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "array"},
                    },
                },
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/requests": {
                "post": {
                    "summary": "Apply for a catalog resource (art. 11)",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ShareRequest"}
                            }
                        }
                    },
                    "responses": {"201": {"description": "started"}, "404": error, "422": error},
                }
            },
            "/api/v1/requests/{key}": {
                "get": {
                    "summary": (
                        "Status, tasks, the outcome (decision, reasons, conditions, decider), grants,"
                        " breaches and timeline of a request"
                    ),
                    "parameters": [
                        {
                            "name": "key",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "status"}, "403": error, "404": error},
                }
            },
            "/api/v1/tasks": {
                "get": {
                    "summary": "Open tasks of the token's user",
                    "parameters": [
                        {
                            "name": "scope",
                            "in": "query",
                            "schema": {"enum": ["inbox", "mine", "queue"]},
                        }
                    ],
                    "responses": {"200": {"description": "tasks"}},
                }
            },
            "/api/v1/tasks/{id}/claim": {
                "post": {
                    "summary": "Claim a task",
                    "responses": {"200": {"description": "claimed"}, "409": error},
                }
            },
            "/api/v1/tasks/{id}/complete": {
                "post": {
                    "summary": 'Complete a task with its form data ({"data": {...}})',
                    "responses": {"200": {"description": "completed"}, "409": error, "422": error},
                }
            },
            "/api/v1/catalog": {
                "get": {
                    "summary": "Search the published catalog (q, share_type, classification, network, open, provider_id, page)",
                    "responses": {"200": {"description": "resources"}},
                }
            },
            "/api/v1/catalog/{code}": {
                "get": {
                    "summary": "One published catalog entry with its metadata",
                    "responses": {"200": {"description": "resource"}, "404": error},
                }
            },
            "/api/v1/catalog/dcat.json": {
                "get": {
                    "summary": "The published catalog as DCAT-style JSON-LD",
                    "responses": {"200": {"description": "catalog"}},
                }
            },
            "/api/v1/verifications": {
                "get": {
                    "summary": "Is a record under verification (art. 15)? Only for the provider and departments holding a grant",
                    "parameters": [
                        {
                            "name": "resource",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "record",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": {"description": "flag"}, "403": error, "404": error},
                },
                "post": {
                    "summary": "Report a suspected data error (resource_code, record_id, field, value_seen, value_expected, note)",
                    "responses": {"201": {"description": "started"}, "403": error, "422": error},
                },
            },
            "/api/v1/verifications/{id}/served": {
                "post": {
                    "summary": "Register a citizen served on valid proof while the record is under verification ({proof, service})",
                    "responses": {"201": {"description": "registered"}, "403": error, "422": error},
                }
            },
            "/api/v1/grants/check": {
                "post": {
                    "summary": "Art. 14: is a use within a grant? ({resource_code, info_items, purpose}); a use outside every grant is refused and recorded in the breach ledger",
                    "responses": {
                        "200": {"description": "allowed or refused"},
                        "404": error,
                        "422": error,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and database check",
                    "security": [],
                    "responses": {"200": {"description": "ok"}, "503": error},
                }
            },
        },
    }
