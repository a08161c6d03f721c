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


class InvalidFields(DomainError):
    """Several messages by form field: `field_errors` maps a field name (or None, for the
    form as a whole) to its translated messages; the first message is the error's own."""

    def __init__(self, field_errors: dict[str | None, list[str]]):
        super().__init__(next(iter(field_errors.values()))[0])
        self.field_errors = field_errors


def attach_errors(form, error: DomainError) -> None:
    """`attach_to_form`, except that an `InvalidFields` error shows each message on its
    field (or as a form error when the form has no such field)."""
    if not isinstance(error, InvalidFields):
        attach_to_form(form, error)
        return
    for name, messages in error.field_errors.items():
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)
