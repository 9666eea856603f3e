"""A correction signs only what the producer changed, sent back as a browser sends the form."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tests.web.portal.conftest import Account
from tracetag.batches.models import Batch
from tracetag.producers.models import Producer
from tracetag.signing.issuer import Issuer

# Input types whose value a browser strips of line breaks (HTML Living Standard §4.10.5.1.2 and
# the sections after it: the value sanitization algorithm "strip newlines from the value"); a
# textarea's line breaks are sent as CRLF (§4.10.21.4, "converting to a list of name-value pairs").
ONE_LINE = {"text", "search", "tel", "url", "email", "password", "hidden"}


class _FormValues(HTMLParser):
    """The fields one form sends, as a browser sends them: its inputs and textareas."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.textarea: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = named.get("action") == self.action
        elif self.inside and tag == "input" and named.get("name"):
            value = named.get("value", "")
            if named.get("type", "text") in ONE_LINE:
                value = value.replace("\r", "").replace("\n", "")
            self.values[named["name"]] = value
        elif self.inside and tag == "textarea" and named.get("name"):
            self.textarea = named["name"]
            self.values[self.textarea] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.values[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            text = self.values[self.textarea].replace("\r\n", "\n")
            self.values[self.textarea] = text.replace("\n", "\r\n")
            self.textarea = None


def form_values(html: str, action: str) -> dict[str, str]:
    parser = _FormValues(action)
    parser.feed(html)
    return parser.values


def test_a_price_correction_leaves_a_stage_note_of_several_lines_as_it_is(
    signed_in: TestClient, owner: Account, session: Session, issuer: Issuer
) -> None:
    producer = session.get(Producer, owner.producer_id)
    assert producer is not None
    note = "Bón phân hữu cơ vi sinh\nTưới nước giếng khoan"
    batch = factories.make_batch(
        session,
        issuer,
        factories.make_product(session, producer),
        stages=[{"stage": "Gieo sạ", "date": "2026-07-01", "note": note}],
    )
    session.commit()
    action = f"/portal/batches/{batch.id}/correct"
    values = form_values(signed_in.get(action).text, action)
    assert values["stages.0.stage"] == "Gieo sạ"  # the form was read
    values.update(note="Điều chỉnh giá niêm yết", price_vnd="99000")

    answer = signed_in.post(action, data=values, follow_redirects=False)

    assert answer.status_code == 303, answer.text
    session.expire_all()
    corrected = session.get(Batch, batch.id)
    assert corrected is not None and corrected.price_vnd == 99000
    assert corrected.stages[0]["note"] == note
