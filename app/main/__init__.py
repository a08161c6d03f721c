"""Home page, health check and error pages."""
