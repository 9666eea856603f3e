"""The six OCOP product groups (Decision 919/QĐ-TTg of 01/8/2022), by code."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    FOOD = "food"
    BEVERAGE = "beverage"
    HERBAL = "herbal"
    HANDICRAFT = "handicraft"
    ORNAMENTAL = "ornamental"
    TOURISM = "tourism"


CATEGORY_NAMES_VI: dict[str, str] = {
    Category.FOOD: "Thực phẩm",
    Category.BEVERAGE: "Đồ uống",
    Category.HERBAL: "Dược liệu và sản phẩm từ dược liệu",
    Category.HANDICRAFT: "Hàng thủ công mỹ nghệ",
    Category.ORNAMENTAL: "Sinh vật cảnh",
    Category.TOURISM: "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
}
