"""dynclient: a spec-driven dynamic client for OpenAPI 3.x documents."""
