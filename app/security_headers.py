"""Security headers on every response (CSP without inline scripts, nosniff, HSTS in production)."""

CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def add_security_headers(response, *, hsts: bool):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Referrer-Policy", "same-origin")  # /l/<code>: no-referrer
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if hsts:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if response.mimetype == "text/html":
        # Pages may show personal data: never store them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
