"""Form input checked by the same pydantic models as the API, with errors a person can act on.

Each error is placed beside its field (by its dotted path, e.g. "origin.province") and said in
the page's language. The rules stay the API's: the portal adds words, not rules.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tracetag.core.i18n import N_, gettext
from tracetag.errors import Conflict, Invalid

M = TypeVar("M", bound=BaseModel)

_BY_TYPE = {
    "missing": N_("Please fill in this field."),
    "string_too_short": N_("Please fill in this field."),
    "string_too_long": N_("Too long: at most %(max_length)s characters."),
    "too_long": N_("Too many entries: at most %(max_length)s."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number."),
    "float_parsing": N_("Enter a number."),
    "greater_than_equal": N_("Must be at least %(ge)s."),
    "greater_than": N_("Must be more than %(gt)s."),
    "less_than_equal": N_("Must be at most %(le)s."),
    "date_parsing": N_("Enter a date as dd/mm/yyyy."),
    "date_from_datetime_parsing": N_("Enter a date as dd/mm/yyyy."),
    "date_type": N_("Enter a date as dd/mm/yyyy."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "text_line_break": N_("This field takes one line."),
    "text_control_character": N_("Remove the invisible control character."),
    "text_surrogate": N_("Remove the invalid character."),
    "text_bidi_control": N_("Remove the invisible direction mark."),
}
# Rules a validator words in English, said in words a producer reads.
_BY_FIELD = {
    "gtin": N_(
        "Not a valid GTIN: check the 8, 12, 13 or 14 digits under the barcode, the last one "
        "included."
    ),
    "expiry_date": N_("The expiry date is before the production date."),
    "file": N_("Choose a photo in JPEG, PNG or WebP, of at most 5 MB."),
    "lot": N_("A lot code has at most 20 letters, digits or - . / _ characters."),
}


class FormErrors(Exception):
    """Errors of one form, by field path; shown beside each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def message(lang: str, error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    field = str(error["loc"][-1]) if error.get("loc") else ""
    if kind in ("value_error", "string_pattern_mismatch") and field in _BY_FIELD:
        return gettext(lang, _BY_FIELD[field])
    template = _BY_TYPE.get(kind)
    if template is None:
        return gettext(lang, N_("This value is not accepted (%(detail)s).")) % {
            "detail": error.get("msg", "")
        }
    context = {
        k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | float | str)
    }
    try:
        return gettext(lang, template) % context
    except (KeyError, TypeError):
        return gettext(lang, template)


def validate(model: type[M], data: dict[str, Any], lang: str) -> M:
    """The model, or FormErrors with every problem at once."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = tuple(error.get("loc", ()))
            errors.setdefault(_path(loc) or "form", message(lang, dict(error)))
        raise FormErrors(errors) from None


def invalid(lang: str, exc: Invalid) -> FormErrors:
    """A service's refusal (tracetag.errors.Invalid) placed beside its field."""
    known = _BY_FIELD.get(exc.field)
    text = gettext(lang, known) if known else exc.message
    return FormErrors({exc.field: text})


def blank_to_none(value: str | None) -> str | None:
    """An empty form field is a value not given."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def name_problem(lang: str) -> str:
    """A person's name that breaks the text rule (too long, an invisible character)."""
    return gettext(lang, N_("Write the name on one line, in at most 200 characters."))


def password_problem(lang: str, exc: Invalid) -> str:
    """A password rule broken, in the page's language."""
    if "at least" in exc.message:
        return gettext(lang, N_("The password needs at least 10 characters."))
    if "at most" in exc.message:
        return gettext(lang, N_("The password is too long (at most 256 characters)."))
    return gettext(lang, N_("The password must not be your e-mail address."))


def account_errors(
    lang: str, exc: Conflict | Invalid, *, email: str = "email", name: str = "name"
) -> FormErrors:
    """identity.service.create_user's refusals, beside the form's own fields."""
    if isinstance(exc, Conflict):
        return FormErrors({email: gettext(lang, N_("This e-mail address has an account already."))})
    if exc.field == "password":
        return FormErrors({"password": password_problem(lang, exc)})
    if exc.field == "name":
        return FormErrors({name: name_problem(lang)})
    return FormErrors({email: gettext(lang, N_("Enter an e-mail address such as ten@htx.vn."))})
