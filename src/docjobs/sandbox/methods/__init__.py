"""The Web API methods the bot uses, one module per family, registered by name in METHODS."""

from docjobs.sandbox.methods import chat, conversations, files, identity, reactions
from docjobs.sandbox.methods.registry import METHODS, Call

__all__ = ["METHODS", "Call", "chat", "conversations", "files", "identity", "reactions"]
