"""The six OCOP product groups (Decision 919/QĐ-TTg of 01/8/2022), by code."""

from __future__ import annotations

from typing import Literal

CategoryCode = Literal["food", "beverage", "herbal", "handicraft", "ornamental", "tourism"]

CATEGORY_NAMES_VI: dict[str, str] = {
    "food": "Thực phẩm",
    "beverage": "Đồ uống",
    "herbal": "Dược liệu và sản phẩm từ dược liệu",
    "handicraft": "Hàng thủ công mỹ nghệ",
    "ornamental": "Sinh vật cảnh",
    "tourism": "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
}
