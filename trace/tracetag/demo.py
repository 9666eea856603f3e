"""Demo data: an OCOP cooperative from Sóc Trăng, its ST25 rice, where to buy it, and one signed
batch."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCreate, Origin, Stage
from tracetag.batches.service import create_batch
from tracetag.gs1.ai import gtin_check_digit
from tracetag.identity.models import MemberRole, Role, User
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user, set_password
from tracetag.producers.models import Producer, ProducerStatus
from tracetag.producers.schemas import OcopRating, ProducerCreate
from tracetag.producers.service import create_producer
from tracetag.products.images import clean_image
from tracetag.products.models import Product
from tracetag.products.retailer_schemas import RetailerIn
from tracetag.products.retailers import set_retailers
from tracetag.products.schemas import ProductCreate
from tracetag.products.service import create_product, store_image
from tracetag.signing.issuer import Issuer

DEMO_GTIN_BODY = "893853500025"
DEMO_GTIN = DEMO_GTIN_BODY + str(gtin_check_digit(DEMO_GTIN_BODY))
DEMO_LOT = "ST25-2611-01"
DEMO_REGISTRATION = "2200123456"


def _demo_image() -> bytes:
    """A simple drawn package picture, so the demo needs no files from outside."""
    img = Image.new("RGB", (600, 400), (246, 241, 224))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((170, 40, 430, 370), radius=30, fill=(20, 83, 45))
    draw.rounded_rectangle((195, 120, 405, 290), radius=16, fill=(250, 246, 230))
    for i in range(12):
        x, y = 225 + (i % 4) * 45, 150 + (i // 4) * 40
        draw.ellipse((x, y, x + 26, y + 12), fill=(226, 214, 170))
    draw.text((262, 70), "ST25", fill=(250, 246, 230))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def load_demo(session: Session, *, issuer: Issuer, actor: Actor) -> Batch:
    """Create the demo producer (approved), product and batch, each change logged as the
    actor's (the operator who ran `tracetag demo`); the caller commits."""
    producer = create_producer(
        session,
        status=ProducerStatus.APPROVED,
        actor=actor,
        data=ProducerCreate(
            kind="cooperative",
            name="Hợp tác xã Nông nghiệp Thạnh Phú (dữ liệu mẫu)",
            registration_code=DEMO_REGISTRATION,
            address_line="Ấp Thạnh Lợi",
            commune="Xã Thạnh Phú",
            district="Huyện Mỹ Xuyên",
            province="Tỉnh Sóc Trăng",
            phone="0299 3850 123",
            email="htx.thanhphu@example.vn",
            ocop=OcopRating(
                stars=4,
                certificate_no="125/QĐ-UBND",
                issuer="Ủy ban nhân dân tỉnh Sóc Trăng",
                issued_on=date(2025, 3, 12),
            ),
        ),
    )
    product = create_product(
        session,
        producer_id=producer.id,
        actor=actor,
        data=ProductCreate(
            name="Gạo ST25 Thạnh Phú",
            brand="Lúa Tôm Thạnh Phú",
            gtin=DEMO_GTIN,
            category="food",
            characteristics=(
                "Gạo thơm ST25 trồng theo mô hình lúa – tôm trên đất nhiễm mặn.\n"
                "Hạt dài, cơm dẻo, thơm mùi lá dứa; không dùng thuốc diệt cỏ."
            ),
            unit="túi 5 kg",
            standards=["VietGAP", "TCVN 11888:2017"],
        ),
    )
    image = clean_image(_demo_image(), max_bytes=5_000_000, max_side=1200)
    store_image(session, product=product, image=image, actor=actor)
    set_retailers(  # the web address is an example.vn one: the demo links to no real shop
        session,
        product=product,
        actor=actor,
        retailers=[
            RetailerIn(
                name="Gian hàng HTX Thạnh Phú trên sàn thương mại điện tử",
                kind="marketplace",
                url="https://san.example.vn/htx-thanh-phu/gao-st25",
            ),
            RetailerIn(
                name="Siêu thị Nông sản Sóc Trăng (dữ liệu mẫu)",
                kind="supermarket",
                address="Số 12 Trần Hưng Đạo, Phường 2, Thành phố Sóc Trăng",
            ),
        ],
    )
    return create_batch(
        session,
        producer_id=producer.id,
        issuer=issuer,
        actor=actor,
        data=BatchCreate(
            product_id=product.id,
            lot=DEMO_LOT,
            quantity=Decimal("12000"),
            quantity_unit="kg",
            production_date=date(2026, 11, 5),
            expiry_date=date(2027, 11, 5),
            price_vnd=185000,
            origin=Origin(
                area="Cánh đồng lúa – tôm ấp Thạnh Lợi, vụ Thu Đông 2026",
                commune="Xã Thạnh Phú",
                district="Huyện Mỹ Xuyên",
                province="Tỉnh Sóc Trăng",
                lat=9.5361,
                lng=105.9712,
            ),
            stages=[
                Stage(stage="Gieo sạ", date=date(2026, 7, 20), place="Ruộng ấp Thạnh Lợi"),
                Stage(stage="Thu hoạch", date=date(2026, 10, 25), place="Ruộng ấp Thạnh Lợi"),
                Stage(
                    stage="Xay xát, đóng gói",
                    date=date(2026, 11, 5),
                    place="Nhà máy của HTX",
                    note="Đóng túi hút chân không 5 kg",
                ),
            ],
        ),
    )


def demo_batch(session: Session) -> Batch | None:
    """The demo batch, if it is loaded."""
    stmt = select(Batch).join(Product).where(Product.gtin == DEMO_GTIN.zfill(14))
    return session.scalar(stmt.where(Batch.lot == DEMO_LOT))


def database_is_empty(session: Session) -> bool:
    return session.scalar(select(Producer.id).limit(1)) is None


DEMO_PRODUCER_LOGIN = "htx.thanhphu@demo.tracetag.vn"
DEMO_ADMIN_LOGIN = "admin@demo.tracetag.vn"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


def demo_logins(
    session: Session, passwords: Passwords, *, now: datetime, actor: Actor
) -> list[DemoLogin]:
    """The demo producer's owner and a demo admin, each with a new password on every call: a
    printed password is good until the next `make run`. The caller commits."""
    producer = session.scalar(
        select(Producer).where(Producer.registration_code == DEMO_REGISTRATION)
    )
    wanted: list[tuple[str, str, Role, int | None]] = [
        (DEMO_ADMIN_LOGIN, "Quản trị viên (mẫu)", Role.ADMIN, None)
    ]
    if producer is not None:
        wanted.insert(0, (DEMO_PRODUCER_LOGIN, "Chủ nhiệm HTX (mẫu)", Role.PRODUCER, producer.id))
    logins = []
    for email, name, role, producer_id in wanted:
        password = "-".join(secrets.token_hex(3) for _ in range(3))
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            create_user(
                session,
                passwords,
                email=email,
                name=name,
                password=password,
                role=role,
                producer_id=producer_id,
                member_role=MemberRole.OWNER if role is Role.PRODUCER else None,
                actor=actor,
            )
        else:
            set_password(session, passwords, user=user, password=password, now=now, actor=actor)
        logins.append(DemoLogin(role, email, password))
    return logins
