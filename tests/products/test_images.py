"""Uploaded images are re-encoded: metadata stripped, size capped, hash signed."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from tests import factories
from tracetag.batches.service import records_of
from tracetag.products.images import clean_image
from tracetag.signing.issuer import Issuer


def _jpeg_with_exif(size: tuple[int, int]) -> bytes:
    img = Image.new("RGB", size, (10, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (10.0, 30.0, 0.0)}  # GPS
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_exif_is_stripped_and_image_shrunk() -> None:
    raw = _jpeg_with_exif((3000, 1500))
    assert b"SecretCam" in raw
    clean = clean_image(raw, max_bytes=10_000_000, max_side=1200)
    assert b"SecretCam" not in clean.data
    img = Image.open(io.BytesIO(clean.data))
    assert img.format == "JPEG" and img.size == (1200, 600)
    assert not img.getexif()


def test_upload_sets_hash_and_resigns_batches(
    client: TestClient, session: Session, issuer: Issuer
) -> None:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product)
    session.commit()
    r = client.put(
        f"/api/v1/products/{product.id}/image",
        files={"file": ("p.jpg", _jpeg_with_exif((800, 600)), "image/jpeg")},
        headers=auth.headers,
    )
    assert r.status_code == 200, r.text
    sha = r.json()["image_sha256"]
    versions = records_of(session, batch.id)
    assert [v.version for v in versions] == [1, 2]
    page = client.get(
        f"/01/{product.gtin}/10/{batch.lot}", headers={"Accept": "application/json"}
    ).json()
    assert page["verification"]["status"] == "valid"
    assert page["record"]["product"]["image_sha256"] == sha
    served = client.get(f"/media/{sha}")
    assert served.headers["content-type"] == "image/jpeg"
    import hashlib

    assert hashlib.sha256(served.content).hexdigest() == sha
    html = client.get(f"/01/{product.gtin}/10/{batch.lot}").text
    assert f'src="/media/{sha}"' in html
