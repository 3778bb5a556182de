"""Request bodies that routes parse themselves, documented in /openapi.json all the same."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_REQUEST_SCHEMAS: dict[str, Any] = {}


def body(model: type[Any]) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as the JSON body; nested models go to components/schemas."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    _REQUEST_SCHEMAS.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def with_request_schemas(app: FastAPI) -> None:
    """Add the nested models of the bodies above to the app's generated document."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_REQUEST_SCHEMAS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook for extending the document
