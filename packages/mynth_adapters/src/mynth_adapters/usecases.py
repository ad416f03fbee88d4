"""The core use cases the composition root autowires, declared once."""

from __future__ import annotations

from typing import Final

from mynth_core.billing.services import HandleOrderPaid, HandleOrderRefunded
from mynth_core.chats.operations import ContinueReply, EditMessage, RegenerateReply, SendMessage
from mynth_core.chats.replies import ChatReplies
from mynth_core.chats.services import (
    CreateChat,
    DeleteChat,
    GetChat,
    ListChats,
    ReadThread,
    SwitchLeaf,
    UpdateChat,
    UpgradeChat,
)
from mynth_core.chats.settlement import SettleAbandonedReplies
from mynth_core.images.reads import (
    GetImage,
    GetImageJob,
    ListImages,
    ReadImageContent,
    SetProfileImage,
)
from mynth_core.images.services import FailImageJob, RequestImage, RunImageJob
from mynth_core.ledger.services import (
    Charge,
    ChargeGuard,
    ClawBack,
    CreditPurchase,
    GetBalance,
    Grant,
    ListLedger,
    Refund,
)
from mynth_core.personas.generation import EnhancePersona, GeneratePersona
from mynth_core.personas.properties import RunPropertyAction
from mynth_core.personas.services import (
    ClonePersona,
    CreatePersona,
    DeletePersona,
    EditPersona,
    GetPersona,
    GetVersion,
    ListPersonaEvents,
    ListPersonas,
    ListVersions,
    RevertPersona,
)
from mynth_core.personas.settlement import SettleAbandonedGenerations
from mynth_core.publishing.services import (
    BrowseCatalog,
    FailPublish,
    FailStalePublishes,
    GetPublication,
    GetPublicPersona,
    RequestPublish,
    RunPublishJob,
    Unpublish,
)
from mynth_core.users import DeleteUser, ProvisionUser, SyncClerkUser

USE_CASES: Final = (
    ProvisionUser,
    CreatePersona,
    ListPersonas,
    GetPersona,
    ListVersions,
    GetVersion,
    EditPersona,
    RevertPersona,
    ClonePersona,
    DeletePersona,
    ListPersonaEvents,
    GeneratePersona,
    EnhancePersona,
    RunPropertyAction,
    SettleAbandonedGenerations,
    CreateChat,
    ListChats,
    GetChat,
    UpdateChat,
    DeleteChat,
    UpgradeChat,
    SwitchLeaf,
    ReadThread,
    ChatReplies,
    SettleAbandonedReplies,
    SendMessage,
    RegenerateReply,
    EditMessage,
    ContinueReply,
    RequestImage,
    RunImageJob,
    FailImageJob,
    GetImageJob,
    ListImages,
    GetImage,
    ReadImageContent,
    SetProfileImage,
    RequestPublish,
    RunPublishJob,
    FailPublish,
    FailStalePublishes,
    GetPublication,
    Unpublish,
    BrowseCatalog,
    GetPublicPersona,
    GetBalance,
    ListLedger,
    Charge,
    Refund,
    ChargeGuard,
    Grant,
    CreditPurchase,
    ClawBack,
    HandleOrderPaid,
    HandleOrderRefunded,
    SyncClerkUser,
    DeleteUser,
)
