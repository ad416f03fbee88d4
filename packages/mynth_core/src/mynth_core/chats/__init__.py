"""Chats: roleplay and story conversations with a persona, over a message tree."""
