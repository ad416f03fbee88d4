"""Text generation: the ChatModel and PromptRenderer ports and what flows through them."""
