"""The known touchpoint types, and the phase and initiator each implies by default."""

from enum import StrEnum


class Initiator(StrEnum):
    BRAND = "brand"
    CUSTOMER = "customer"


class Phase(StrEnum):
    PRE_PURCHASE = "pre_purchase"
    PURCHASE = "purchase"
    POST_PURCHASE = "post_purchase"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    STORE = "store"
    SOCIAL = "social"
    ADS = "ads"
    MAIL = "mail"
    CHAT = "chat"
    PARTNER = "partner"
    OTHER = "other"


_B, _C = Initiator.BRAND, Initiator.CUSTOMER
_PRE, _BUY, _POST = Phase.PRE_PURCHASE, Phase.PURCHASE, Phase.POST_PURCHASE

# type -> (phase, initiator, default channel)
CATALOGUE: dict[str, tuple[Phase, Initiator, Channel]] = {
    "ad_viewed": (_PRE, _B, Channel.ADS),
    "ad_clicked": (_PRE, _C, Channel.ADS),
    "page_view": (_PRE, _C, Channel.WEB),
    "screen_view": (_PRE, _C, Channel.APP),
    "product_viewed": (_PRE, _C, Channel.WEB),
    "product_list_viewed": (_PRE, _C, Channel.WEB),
    "products_searched": (_PRE, _C, Channel.WEB),
    "product_added": (_PRE, _C, Channel.WEB),
    "product_removed": (_PRE, _C, Channel.WEB),
    "cart_viewed": (_PRE, _C, Channel.WEB),
    "checkout_started": (_BUY, _C, Channel.WEB),
    "payment_info_entered": (_BUY, _C, Channel.WEB),
    "signed_up": (_PRE, _C, Channel.WEB),
    "signed_in": (_PRE, _C, Channel.WEB),
    "identified": (_PRE, _C, Channel.WEB),
    "aliased": (_PRE, _C, Channel.WEB),
    "group_joined": (_PRE, _C, Channel.WEB),
    "email_sent": (_PRE, _B, Channel.EMAIL),
    "email_opened": (_PRE, _C, Channel.EMAIL),
    "email_clicked": (_PRE, _C, Channel.EMAIL),
    "sms_sent": (_PRE, _B, Channel.SMS),
    "newsletter_sent": (_PRE, _B, Channel.EMAIL),
    "statement_sent": (_POST, _B, Channel.MAIL),
    "inbound_call": (_POST, _C, Channel.PHONE),
    "outbound_call": (_PRE, _B, Channel.PHONE),
    "store_visit": (_PRE, _C, Channel.STORE),
    "chat_started": (_PRE, _C, Channel.CHAT),
    "order_completed": (_BUY, _C, Channel.WEB),
    "order_refunded": (_POST, _C, Channel.WEB),
    "order_cancelled": (_POST, _C, Channel.WEB),
    "subscription_started": (_BUY, _C, Channel.WEB),
    "subscription_cancelled": (_POST, _C, Channel.WEB),
    "review_submitted": (_POST, _C, Channel.WEB),
    "survey_answered": (_POST, _C, Channel.EMAIL),
    "referral_made": (_POST, _C, Channel.WEB),
    "support_ticket_opened": (_POST, _C, Channel.CHAT),
    "support_ticket_closed": (_POST, _B, Channel.CHAT),
}

COMMERCE_TYPES = frozenset({"order_completed", "order_refunded", "order_cancelled"})


def defaults_for(event_type: str) -> tuple[Phase, Initiator, Channel]:
    """Phase, initiator and channel of a type; custom types are customer-initiated pre-purchase."""
    return CATALOGUE.get(event_type, (_PRE, _C, Channel.OTHER))
