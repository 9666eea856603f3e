"""One policy for every text field of the API, and the pydantic field types built on it.

Issue 6 ("Hardening"). Every input string is stripped of surrounding whitespace, checked for
characters that have no place in a signed record, NFC-normalized, and only then measured, because
NFC can lengthen a string (U+0958 becomes two code points). Its limit is the length of the column
it is stored in (`Text.for_column`), so a value PostgreSQL would refuse is refused with a 422 on
both databases instead of a 500 on one and a silent store on the other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import annotated_types
from pydantic import BaseModel, BeforeValidator, GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, PydanticCustomError, core_schema
from sqlalchemy import String
from sqlalchemy.orm import QueryableAttribute

# Limits for text that has no String(n) column to take one from: Text columns, and members of
# JSON columns (batch stages, product standards). Generous, yet bounded.
LONG_TEXT_MAX = 4000
NAME_MAX = 200
SHORT_TEXT_MAX = 100

# What str.strip() removes, less the control characters it also counts as space (U+000B,
# U+000C, U+001C–U+001F, U+0085): those are refused wherever they are, not silently dropped.
_SURROUNDING_SPACE = (
    "\t\n\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029]")
# Always refused: category Cc (C0, DEL, C1) but for line breaks, which single-line text
# refuses and long text keeps as "\n"; category Cs (lone surrogates: a JSON "\ud800" escape
# carries one, and neither database can store it); and Unicode's Bidi_Control set, marks
# included, since an invisible ALM, LRM or RLM can still reorder the digits and punctuation beside
# it, and Vietnamese text never needs one.
_ALWAYS_FORBIDDEN = (
    r"\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
)
_FORBIDDEN = re.compile(rf"[{_ALWAYS_FORBIDDEN}\n\r\u2028\u2029]")
_FORBIDDEN_MULTILINE = re.compile(rf"[{_ALWAYS_FORBIDDEN}]")


def _refusal(char: str, position: int) -> PydanticCustomError:
    code = f"U+{ord(char):04X}"
    context = {"code": code, "position": position}
    if char in "\n\r\u2028\u2029":
        return PydanticCustomError(
            "text_line_break",
            "contains a line break ({code}) at position {position}; this field takes one line",
            context,
        )
    if char == "\t":
        # Tabs too are refused: invisible on the page and in the record; a space is what's meant.
        return PydanticCustomError(
            "text_control_character",
            "contains a tab ({code}) at position {position}; use a space",
            context,
        )
    if unicodedata.category(char) == "Cs":
        return PydanticCustomError(
            "text_surrogate",
            "contains an unpaired surrogate ({code}) at position {position}; "
            "it is not a character, send valid Unicode text",
            context,
        )
    if unicodedata.category(char) == "Cc":
        return PydanticCustomError(
            "text_control_character",
            "contains a control character ({code}) at position {position}; remove it",
            context,
        )
    return PydanticCustomError(
        "text_bidi_control",
        "contains a bidirectional control character ({code} {name}) at position {position}; "
        "it can make text display differently from what is stored, remove it",
        {**context, "name": unicodedata.name(char)},
    )


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Strip, refuse control and bidi characters (naming the first), normalize to NFC."""
    stripped = value.strip(_SURROUNDING_SPACE)
    forbidden = (_FORBIDDEN_MULTILINE if multiline else _FORBIDDEN).search(stripped)
    if forbidden is not None:
        leading = len(value) - len(value.lstrip(_SURROUNDING_SPACE))
        # Count from 1 in the text as sent, which is the text the person can see.
        raise _refusal(forbidden.group(), leading + forbidden.start() + 1)
    if multiline:
        stripped = _LINE_BREAKS.sub("\n", stripped)
    return unicodedata.normalize("NFC", stripped)


@dataclass(frozen=True)
class Text(annotated_types.GroupedMetadata):
    """The text policy as field metadata: `Annotated[str, Text(40)]`.

    A class rather than a function returning a type, because mypy accepts no call in an
    annotation. The policy runs as a before-validator around the string schema, so pydantic's
    own length and pattern checks (and the OpenAPI maxLength) apply to the normalized value.
    """

    max_length: int
    min_length: int = 1
    multiline: bool = False
    pattern: str | None = None

    @classmethod
    def for_column(
        cls, column: QueryableAttribute[Any], *, min_length: int = 1, pattern: str | None = None
    ) -> Text:
        """The policy for text stored in a String(n) column, limited to exactly n."""
        return cls(column_length(column), min_length=min_length, pattern=pattern)

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(
            min_length=self.min_length, max_length=self.max_length, pattern=self.pattern
        )
        yield BeforeValidator(self._clean)

    def _clean(self, value: object) -> object:
        # Anything but a string goes on to the string schema, which refuses it in its own words.
        return clean_text(value, multiline=self.multiline) if isinstance(value, str) else value


def column_length(column: QueryableAttribute[Any]) -> int:
    """The n of a String(n) column, e.g. column_length(Product.unit) == 40."""
    column_type = column.expression.type
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"{column} is not a String(n) column")
    return column_type.length


# For text with no String(n) column; text that has one uses Text.for_column(Model.field).
Name = Annotated[str, Text(NAME_MAX)]
ShortText = Annotated[str, Text(SHORT_TEXT_MAX)]
LongText = Annotated[str, Text(LONG_TEXT_MAX, min_length=0, multiline=True)]

PHONE_PATTERN = r"^\+?[0-9 .()-]{6,30}$"
EMAIL_PATTERN = r"^[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}$"


@dataclass(frozen=True)
class ValuesOf:
    """Text that is one of a StrEnum's values: `Annotated[str, ValuesOf(ProducerKind)]`.

    Decision (issue 8): each fixed set of values is a StrEnum, declared once. The API shows it,
    as it did when it was a Literal type, as the inline list of its values, and refuses any other
    value with the literal's message, so the OpenAPI document and every 422 stay the same; the
    validated value is the enum's member. (Annotated with the enum itself, FastAPI would also list
    the enum among the document's schemas.)
    """

    enum: type[StrEnum]

    def __get_pydantic_core_schema__(
        self, _source: type[str], _handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        values = core_schema.literal_schema([member.value for member in self.enum])
        return core_schema.no_info_after_validator_function(self.enum, values)


Out = TypeVar("Out", bound=BaseModel)


def from_row(model: type[Out], row: object, **computed: object) -> Out:
    """An answer model from an ORM row's attributes of the same names, and the fields computed.

    Output models validate what is stored as it is: the rules of today's input are not applied.
    """
    values = {
        name: computed[name] if name in computed else getattr(row, name)
        for name in model.model_fields
    }
    return model.model_validate(values)
