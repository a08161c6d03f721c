"""The OpenAPI 3.1 document and the reference page the app renders from it (no CDN)."""


def test_openapi_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    post = spec["paths"]["/api/v1/contacts"]["post"]
    assert post["security"] == [{"bearerAuth": ["contacts:write"]}]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert "application/problem+json" in default["content"]


def test_reference_page_lists_operations_schemas_and_errors(app, client):
    response = client.get("/api/v1/docs", headers={"Accept-Language": "en"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for text in (
        "POST /api/v1/contacts/bulk",
        "ContactIn",
        "idempotency_key_reused",
        "contacts:write",
    ):
        assert text in page
    assert "cdn" not in page.lower() and "unpkg" not in page
