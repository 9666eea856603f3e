"""Words for the service's fixed sets of values, as every room's pages show them."""

from __future__ import annotations

from tracetag.core.i18n import N_, gettext
from tracetag.producers.models import ProducerKind
from tracetag.products.categories import CATEGORY_NAMES_VI, Category
from tracetag.products.retailer_models import RetailerKind
from tracetag.scans.models import TagReason

PRODUCER_KIND_LABELS = {
    ProducerKind.ENTERPRISE: N_("Enterprise"),
    ProducerKind.COOPERATIVE: N_("Cooperative (HTX)"),
    ProducerKind.COOPERATIVE_GROUP: N_("Cooperative group"),
    ProducerKind.HOUSEHOLD: N_("Household business"),
}
# In Vietnamese, a page shows the name the record holds (products/categories.py).
CATEGORY_LABELS = {
    Category.FOOD: N_("Food"),
    Category.BEVERAGE: N_("Beverages"),
    Category.HERBAL: N_("Medicinal herbs and herbal products"),
    Category.HANDICRAFT: N_("Handicrafts"),
    Category.ORNAMENTAL: N_("Ornamental plants and animals"),
    Category.TOURISM: N_("Community tourism, eco-tourism and tourist sites"),
}


def category_label(lang: str, code: str) -> str:
    """Vietnamese pages show the group's official name (products/categories.py)."""
    if lang == "vi":
        return CATEGORY_NAMES_VI[code]
    return gettext(lang, CATEGORY_LABELS[Category(code)])


def producer_kind_label(lang: str, code: str) -> str:
    return gettext(lang, PRODUCER_KIND_LABELS[ProducerKind(code)])


TAG_REASONS = {
    TagReason.SERIAL_NOT_ISSUED: N_("This serial was never issued for this product."),
    TagReason.OTHER_LOT: N_("This serial was issued for another lot of the product."),
    TagReason.SIGNATURE_MISSING: N_(
        "The label has no digital signature, but this tag was issued with one."
    ),
    TagReason.SIGNATURE_MALFORMED: N_("The digital signature on the label is not well-formed."),
    TagReason.SIGNATURE_UNKNOWN_KEY: N_(
        "The digital signature on the label names a key this service does not have."
    ),
    TagReason.SIGNATURE_MISMATCH: N_("The digital signature on the label does not match this tag."),
}


def tag_reason(lang: str, code: str) -> str:
    return gettext(lang, TAG_REASONS[TagReason(code)])


RETAILER_KIND_LABELS = {
    RetailerKind.SHOP: N_("Shop"),
    RetailerKind.SUPERMARKET: N_("Supermarket"),
    RetailerKind.DISTRIBUTOR: N_("Distributor"),
    RetailerKind.MARKETPLACE: N_("E-commerce platform"),
    RetailerKind.OTHER: N_("Other place of sale"),
}


def retailer_kind_label(lang: str, code: str) -> str:
    return gettext(lang, RETAILER_KIND_LABELS[RetailerKind(code)])
