from core.errors import ApplicationError, ConflictError


class MerchantSlugTaken(ConflictError):
    code = "merchant_slug_taken"
    title = "Merchant address taken"


class InvalidMerchantData(ApplicationError):
    code = "invalid_merchant"
    title = "Invalid merchant details"
