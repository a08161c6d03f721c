"""Domain errors carry a translatable message (and the form field it concerns)."""


class DomainError(Exception):
    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)  # kept lazy: translated when shown, in the viewer's locale
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


def attach_to_form(form, error: DomainError) -> None:
    """Show a service's DomainError on the form field it concerns (or as a form error)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))
