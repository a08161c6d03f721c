"""Home page, health check, admin status page and error pages."""
