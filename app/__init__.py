"""Alcance: SMS and workshop outreach for youth addiction-prevention campaigns."""


def create_app(config_object="config.DevelopmentConfig"):
    """Build the application (app/factory.py). Touches neither the database nor the network."""
    # Imported here, not at the top: this package is imported before any of its modules, and
    # the factory imports every layer; at the top, importing any module would import them all.
    from app.factory import create_app as build

    return build(config_object)
