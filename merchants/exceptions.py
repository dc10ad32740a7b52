from core.errors import ApplicationError, ConflictError


class MerchantSlugTaken(ConflictError):
    code = "merchant_slug_taken"
    title = "Merchant address taken"


class InvalidMerchantData(ApplicationError):
    code = "invalid_merchant"
    title = "Invalid merchant details"


class InvalidInvitation(ApplicationError):
    code = "invalid_invitation"
    title = "Invalid invitation"


class InvitationNotOpen(ConflictError):
    code = "invitation_not_open"
    title = "Invitation no longer open"


class InvitationWrongAccount(ApplicationError):
    code = "invitation_wrong_account"
    status = 403
    title = "Invitation for another address"
