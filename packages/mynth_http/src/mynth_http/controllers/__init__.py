"""HTTP controllers, one per resource; handlers are schema → use case → schema."""

from __future__ import annotations

from mynth_http.controllers.chats import ChatController, ChatModelsController
from mynth_http.controllers.economy import MeController, PricingController
from mynth_http.controllers.generation import GenerationController
from mynth_http.controllers.images import (
    ImageController,
    ImageJobController,
    ImageModelsController,
    PersonaImagesController,
)
from mynth_http.controllers.payments import CheckoutController, WebhookController
from mynth_http.controllers.personas import PersonaController
from mynth_http.controllers.publishing import PublicationController, PublicCatalogController
from mynth_http.controllers.system import SystemController

CONTROLLERS = (
    SystemController,
    PersonaController,
    GenerationController,
    ChatModelsController,
    ChatController,
    ImageModelsController,
    PersonaImagesController,
    ImageJobController,
    ImageController,
    PublicationController,
    PublicCatalogController,
    MeController,
    PricingController,
    CheckoutController,
    WebhookController,
)

__all__ = [
    "CONTROLLERS",
    "ChatController",
    "ChatModelsController",
    "CheckoutController",
    "GenerationController",
    "ImageController",
    "ImageJobController",
    "ImageModelsController",
    "MeController",
    "PersonaController",
    "PersonaImagesController",
    "PricingController",
    "PublicCatalogController",
    "PublicationController",
    "SystemController",
    "WebhookController",
]
